"""Eager warm-up from a fresh process: how many training steps until the loop runs at compiled speed.

    python benchmarks/bench_warmup.py [--runs 2] [--steps 150] [--item] [--modes auto,compile,warm]

Each run is a new Python process with `IRC_EAGER=<mode>` and, except for `warm`, an empty
compile cache (a fresh temp `IRC_CACHE_DIR`). It builds the MLP 784-512-512-10 of issue 9
(Flatten, Linear, ReLU, ...), batch 64, SGD, cross-entropy, and runs `--steps` training
steps (`opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()`, plus `loss.item()`
with `--item`), and on until 20 steps ran without an interpreted program (at most 60 s),
timing each from the process start. `warm` is `auto` in a new process
with the cache an `auto` run of the same round filled.

It prints, per run: the per-step times (ms, `*` marks a step that ran an interpreted
program), the graph structures the loop produced (runs, tier), each background compile
(its start, its end and its length, from the process start), and when the loop reached
compiled speed: the first step from which no program was interpreted, its index and
wall time from the process start. `compile` (everything compiled before its first run)
gives the steady state: the median of its last steps. Modes take turns within a round so
that machine noise falls on all of them; the summary gives medians over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 60.0


def child(steps: int, item: bool) -> None:
    keep_going = os.environ.get("IRC_EAGER") == "auto"
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import irc
    import irc.nn as nn
    import irc.optim as optim
    from irc.frontend import realize

    imported = time.perf_counter()
    interpreted = [0]
    interpret = realize._interpret

    def counting_interpret(program, values):
        interpreted[0] += 1
        return interpret(program, values)

    realize._interpret = counting_interpret
    compiles: list[dict] = []
    compile_in = getattr(realize, "_compile_in", None)
    if compile_in is not None:

        def timed_compile_in(process, log, program):
            t = time.perf_counter() - start
            try:
                return compile_in(process, log, program)
            finally:
                compiles.append({"start": t, "end": time.perf_counter() - start, "ops": _ops(program)})

        realize._compile_in = timed_compile_in

    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    x = irc.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = irc.tensor(rng.integers(0, 10, 64))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01)
    records = []
    # `steps` steps, and on until 20 steps after the last interpreted one (at most LIMIT_S seconds)
    while len(records) < steps or (
        keep_going and any(n for _, _, n in records[-20:]) and time.perf_counter() - start < LIMIT_S
    ):
        before, t = interpreted[0], time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if item:
            loss.item()
        end = time.perf_counter()
        records.append((end - t, end - start, interpreted[0] - before))
    programs = [{"runs": p.runs, "compiled": p.compiled is not None, "ops": _ops(p)} for p in realize._cache.values()]
    print(json.dumps({"import": imported - start, "steps": records, "programs": programs, "compiles": compiles}))


def _ops(program) -> int:
    return sum(1 for _ in program.module.walk()) if program is not None else 0


def run(mode: str, steps: int, item: bool, cache: str) -> dict:
    env = {**os.environ, "IRC_EAGER": "auto" if mode == "warm" else mode, "IRC_CACHE_DIR": cache}
    command = [sys.executable, __file__, "--child", "--steps", str(steps)] + (["--item"] if item else [])
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{mode}: the child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def reached(result: dict) -> tuple[int, float] | None:
    """(step index, seconds from the process start) of the first step from which nothing was interpreted."""
    steps = result["steps"]
    for i in range(len(steps)):
        if all(n == 0 for _, _, n in steps[i:]):
            return i, steps[i][1] - steps[i][0]  # the wall time when that step began
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--modes", default="auto,compile,warm")
    parser.add_argument("--item", action="store_true", help="also loss.item() each step")
    parser.add_argument("--quiet", action="store_true", help="no per-step times")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.steps, args.item)
        return
    modes = args.modes.split(",")
    summary: dict[str, list] = {m: [] for m in modes}
    for i in range(args.runs):
        auto_cache = None
        try:
            for mode in modes:
                cache = tempfile.mkdtemp(prefix="irc-bench-cache-")
                if mode == "warm":
                    if auto_cache is None:  # fill one first
                        run("auto", args.steps, args.item, cache)
                    else:
                        shutil.rmtree(cache)
                        cache = auto_cache
                r = run(mode, args.steps, args.item, cache)
                if mode == "auto":
                    auto_cache = cache
                elif cache != auto_cache:
                    shutil.rmtree(cache, ignore_errors=True)
                steady = statistics.median(s for s, _, _ in r["steps"][-20:])
                at = reached(r)
                summary[mode].append((at, steady))
                where = f"step {at[0]} at {at[1]:.2f} s" if at else "never"
                print(
                    f"run {i + 1} {mode:8s} import {r['import']:.2f} s; compiled speed from {where}; "
                    f"last 20 steps median {1000 * steady:.1f} ms"
                )
                if not args.quiet:
                    print(
                        "    steps (ms, * = interpreted):",
                        " ".join(f"{1000 * s:.0f}{'*' if n else ''}" for s, _, n in r["steps"]),
                    )
                for p in r["programs"]:
                    print(f"    program: {p['ops']} ops, {p['runs']} runs, compiled {p['compiled']}")
                for c in r["compiles"]:
                    print(
                        f"    background compile ({c['ops']} ops): {c['start']:.2f} -> {c['end']:.2f} s "
                        f"({c['end'] - c['start']:.2f} s)"
                    )
        finally:
            if auto_cache:
                shutil.rmtree(auto_cache, ignore_errors=True)
    print("summary (median over runs): mode, compiled-speed step, its wall time from start, steady step ms")
    for mode, rows in summary.items():
        hits = [a for a, _ in rows if a]
        index = statistics.median(a[0] for a in hits) if hits else float("nan")
        wall = statistics.median(a[1] for a in hits) if hits else float("nan")
        print(
            f"  {mode:8s} step {index:.0f}  {wall:.2f} s  {1000 * statistics.median(s for _, s in rows):.1f} ms"
            f"  ({len(hits)}/{len(rows)} runs reached it)"
        )


if __name__ == "__main__":
    main()
