"""Compile time from a fresh process: cold (empty compile cache), warm disk cache, in-process hit.

    python benchmarks/bench_compile.py [--runs 3] [--workloads mlp,cnn,quickstart]

Three programs, each a first step in a new Python process, timed as wall time
from the process start to its exit (interpreter, `import irc`, building the
model, tracing, compiling or loading, running):

* mlp: the MLP 784-512-512-10 of issue 9 (Flatten, Linear, ReLU, ...), eager
  forward and backward on a batch of 64 (cross-entropy loss, `loss.backward()`);
* cnn: the digits CNN training step of `examples/train_digits.py` (Adam) under `irc.jit`;
* quickstart: PyTorch's quickstart MLP, the same layers, one eager SGD training step
  (`zero_grad`, cross-entropy, `backward`, `step`, `loss.item()`).

cold: an empty compile cache (a fresh temp `IRC_CACHE_DIR` per run), so the
whole pipeline and TVM's build run.  warm: a new process with the cache the cold
run filled (docs/cache.md: the compiled code is loaded, TVM's compiler is not
imported).  hit: in that warm process, the same step built again (new model and
optimizer objects, a new `irc.jit`): trace + in-process cache lookup + run.
Eager programs run with `IRC_EAGER=compile`, the tier that compiles at once
(docs/eager.md); the default `auto` interprets a graph's first runs instead.
Figures are medians over `--runs` processes; the spread is the min-max range.
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
WORKLOADS = {
    "mlp": "MLP 784-512-512-10, eager forward + backward",
    "cnn": "digits CNN training step (Adam), irc.jit",
    "quickstart": "quickstart MLP training step (SGD), eager",
}
HITS = 5  # in-process repeats of the step, each on new objects


def child(workload: str) -> None:
    """Run `workload`'s first step, then `HITS` rebuilt ones; print seconds as JSON."""
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "examples"))
    import numpy as np

    import irc
    import irc.nn as nn
    import irc.optim as optim
    from irc.compiler import cache

    imported = time.perf_counter()
    rng = np.random.default_rng(0)
    batch = (64, 1, 8, 8) if workload == "cnn" else (64, 1, 28, 28)
    x = rng.standard_normal(batch).astype(np.float32)
    y = rng.integers(0, 10, 64)

    def mlp():
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        )

    def make_step():
        """A fresh model (and optimizer) with its step function: () -> a value that needed the compiled code."""
        loss_fn = nn.CrossEntropyLoss()
        if workload == "mlp":
            model = mlp()

            def forward_backward():
                loss_fn(model(irc.tensor(x)), irc.tensor(y)).backward()
                return model[1].weight.grad.numpy()

            return forward_backward
        if workload == "quickstart":
            model = mlp()
            opt = optim.SGD(model.parameters(), lr=1e-3)

            def train_step():
                opt.zero_grad()
                loss = loss_fn(model(irc.tensor(x)), irc.tensor(y))
                loss.backward()
                opt.step()
                return loss.item()

            return train_step
        from train_digits import digits_cnn, make_step

        model = digits_cnn(nn)
        step = make_step(model, optim.Adam(model.parameters(), lr=3e-3), "jit")
        return lambda: step(irc.tensor(x), irc.tensor(y)).item()

    step = make_step()
    built = time.perf_counter()
    step()
    first = time.perf_counter()
    hits = []
    for _ in range(HITS):
        again = make_step()
        t = time.perf_counter()
        again()
        hits.append(time.perf_counter() - t)
    result = {
        "import": imported - start,
        "first_step": first - built,
        "hit": statistics.median(hits),
        "stats": dict(cache.stats),
        "torch_imported": "torch" in sys.modules,
        "tvm_imported": "tvm" in sys.modules,
    }
    print(json.dumps(result))


def run_child(workload: str, cache_dir: str) -> dict:
    env = {**os.environ, "IRC_CACHE_DIR": cache_dir, "IRC_EAGER": "compile"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", workload], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{workload}: the child process failed:\n{proc.stderr}")
    return {**json.loads(proc.stdout.splitlines()[-1]), "wall": wall}


def spread(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    v = [x * scale for x in values]
    return f"{statistics.median(v):.{digits}f} ({min(v):.{digits}f}-{max(v):.{digits}f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per workload and mode")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    print(f"{'workload':46s} {'mode':5s} {'wall s (range)':>18s} {'import s':>9s} {'1st step s':>11s} {'hit ms':>8s}")
    for workload in args.workloads.split(","):
        runs: dict[str, list[dict]] = {"cold": [], "warm": []}
        directories = []
        try:
            for _ in range(args.runs):  # cold and warm take turns, so machine noise falls on both
                directories.append(tempfile.mkdtemp(prefix="irc-bench-cache-"))
                runs["cold"].append(run_child(workload, directories[-1]))
                runs["warm"].append(run_child(workload, directories[-1]))
        finally:
            for d in directories:
                shutil.rmtree(d, ignore_errors=True)
        for mode, results in runs.items():
            stats = results[-1]["stats"]
            expected = "compiles" if mode == "cold" else "disk_hits"
            check = "" if stats.get(expected) else f"  (no {expected}: {stats})"
            print(
                f"{WORKLOADS[workload]:46s} {mode:5s} {spread([r['wall'] for r in results]):>18s}"
                f" {statistics.median(r['import'] for r in results):9.2f}"
                f" {statistics.median(r['first_step'] for r in results):11.2f}"
                f" {statistics.median(r['hit'] for r in results) * 1e3:8.1f}{check}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
