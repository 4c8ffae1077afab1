"""Eager tiers from a fresh process (docs/eager.md): time to the first training step, and step times until compiled.

    python benchmarks/bench_eager_tiers.py [--runs 2] [--steps 20] [--modes auto,compile]

Each run is a new Python process with an empty compile cache (`IRC_CACHE_DIR` in a temp
folder) and `IRC_EAGER=<mode>`. It times `import irc` plus building the MLP
784-512-512-10 of issue 9, the first forward (`model(x).numpy()`, batch 64), the first
backward with its SGD update (`loss.backward(); opt.step()`: one program realizes the
gradients and the update), then a `--steps` SGD loop (momentum 0.9), printing each step's
time and how many of the loop's programs ran compiled. In `auto` mode the loop then goes
on until its programs are compiled (at most `--switch-limit` seconds from the model's
creation) and reports when each switch-over happened; last, the compiled step time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def child(steps: int, switch_limit: float) -> None:
    start = time.perf_counter()
    import numpy as np

    import irc
    import irc.nn as nn
    import irc.optim as optim
    from irc.frontend import realize

    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    x = irc.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = irc.tensor(rng.integers(0, 10, 64))
    loss_fn = nn.CrossEntropyLoss()
    ready = time.perf_counter()
    model(x).numpy()
    forward = time.perf_counter()
    opt = optim.SGD(model.parameters(), lr=0.01)
    loss_fn(model(x), y).backward()
    opt.step()
    backward = time.perf_counter()
    result = {
        "import_and_model": ready - start,
        "first_forward": forward - ready,
        "first_backward_and_update": backward - forward,
        "first_forward_backward_total": backward - start,
    }

    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> tuple[float, int]:
        t = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
        return time.perf_counter() - t, sum(p.compiled is not None for p in realize._cache.values())

    result["steps"] = [step() for _ in range(steps)]
    if realize.eager_mode() == "auto":  # on until the loop's programs run compiled code
        result["switch_over"] = []
        while time.perf_counter() - ready < switch_limit:
            compiling = [p for p in realize._cache.values() if p.done is not None and not p.done.is_set()]
            result["steps"].append(step())
            if result["steps"][-1][1] > result["steps"][-2][1]:
                result["switch_over"].append((len(result["steps"]), time.perf_counter() - start))
            if not compiling:
                break
    realize.wait_compiled()
    result["compiled_steps"] = [step()[0] for _ in range(10)]
    result["tvm_imported"] = "tvm" in sys.modules
    print(json.dumps(result))


def run(mode: str, steps: int, switch_limit: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="irc-bench-cache-") as cache:
        env = {**os.environ, "IRC_EAGER": mode, "IRC_CACHE_DIR": cache}
        command = [sys.executable, __file__, "--child", "--steps", str(steps), "--switch-limit", str(switch_limit)]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--modes", default="auto,compile")
    parser.add_argument("--switch-limit", type=float, default=180.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.steps, args.switch_limit)
        return
    for i in range(args.runs):
        for mode in args.modes.split(","):
            r = run(mode, args.steps, args.switch_limit)
            print(
                f"run {i + 1} {mode:9s} import+model {r['import_and_model']:.2f} s, first forward {r['first_forward']:.2f} s, "
                f"first backward+update {r['first_backward_and_update']:.2f} s: total {r['first_forward_backward_total']:.2f} s; "
                f"tvm imported: {r['tvm_imported']}"
            )
            steps = " ".join(f"{1000 * s:.0f}/{c}" for s, c in r["steps"][: args.steps])
            print(f"    loop steps (ms/number of programs compiled so far): {steps}")
            for n, at in r.get("switch_over", []):
                print(f"    one more program compiled at step {n}, {at:.1f} s after the start")
            if mode == "auto":
                print(f"    steps until then: {' '.join(f'{1000 * s:.0f}/{c}' for s, c in r['steps'][args.steps :])}")
            print(f"    compiled step: median {1000 * statistics.median(r['compiled_steps']):.0f} ms")


if __name__ == "__main__":
    main()
