"""Training-step speed: irc eager and irc.jit vs PyTorch eager on the CPU, in one run.

    python benchmarks/bench_training.py [--repeat 30] [--rounds 5]

Two workloads, each one full step (forward, cross-entropy, backward, update):
an MLP 784-256-10 with SGD (momentum 0.9) on a batch of 64, and the digits
CNN of `examples/train_digits.py` with Adam on a batch of 64.  Reports the
median step time after warm-up (the first irc steps compile) and the ratio
to PyTorch (> 1 means irc is slower). The modes take turns (`--rounds` rounds
of `--repeat` steps each), so machine noise falls on all of them; the last
column is the range of the per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

from train_digits import digits_cnn  # noqa: E402

import irc  # noqa: E402
import irc.nn as nn  # noqa: E402
import irc.optim as optim  # noqa: E402


def step_times(step: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def alternating_medians(steps: dict[str, Callable[[], object]], warmup: int, repeat: int, rounds: int):
    """Median step time per mode and the range of per-round ratios to torch.

    The modes take turns, `repeat` steps at a time, for `rounds` rounds, so that a
    slow spell of the machine falls on all of them rather than on one.
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    from irc.frontend.realize import wait_compiled

    wait_compiled()  # eager graphs compile in the background from their second run (docs/eager.md)
    samples: dict[str, list[float]] = {mode: [] for mode in steps}
    ratios: dict[str, list[float]] = {mode: [] for mode in steps}
    for _ in range(rounds):
        medians = {}
        for mode, step in steps.items():
            times = step_times(step, repeat)
            samples[mode] += times
            medians[mode] = statistics.median(times)
        for mode in steps:
            if "torch" in medians:
                ratios[mode].append(medians[mode] / medians["torch"])
    return {mode: statistics.median(t) for mode, t in samples.items()}, ratios


def irc_steps(make_model, make_opt, x: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], object]]:
    """Eager and jit training steps over fresh models; each returns the realized loss."""
    loss_fn = nn.CrossEntropyLoss()
    steps = {}
    for mode in ("irc eager", "irc.jit"):
        model = make_model(nn)
        opt = make_opt(optim, model.parameters())

        def forward_backward(xt, yt, model=model, opt=opt):
            opt.zero_grad()
            loss = loss_fn(model(xt), yt)
            loss.backward()
            return loss

        def train_step(xt, yt, opt=opt, forward_backward=forward_backward):
            loss = forward_backward(xt, yt)
            opt.step()
            return loss

        if mode == "irc.jit":
            jitted = irc.jit(train_step)
            steps[mode] = lambda jitted=jitted: jitted(irc.tensor(x), irc.tensor(y)).item()
        else:
            steps[mode] = lambda opt=opt, fb=forward_backward: opt.step(lambda: fb(irc.tensor(x), irc.tensor(y))).item()
    return steps


def torch_step(make_model, make_opt, x: np.ndarray, y: np.ndarray) -> Callable[[], object] | None:
    try:
        import torch
    except ImportError:
        return None
    model = make_model(torch.nn)
    opt = make_opt(torch.optim, model.parameters())
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def mlp(m):
    return m.Sequential(m.Linear(784, 256), m.ReLU(), m.Linear(256, 10))


WORKLOADS = {
    "MLP 784-256-10, SGD, batch 64": (mlp, lambda o, p: o.SGD(p, lr=0.01, momentum=0.9), (64, 784)),
    "digits CNN, Adam, batch 64": (digits_cnn, lambda o, p: o.Adam(p, lr=3e-3), (64, 1, 8, 8)),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="steps per mode per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of alternating modes")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'workload':34s} {'mode':10s} {'median ms':>10s} {'vs torch':>9s}  per-round ratios")
    for name, (make_model, make_opt, shape) in WORKLOADS.items():
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.integers(0, 10, shape[0])
        steps = {}
        reference = torch_step(make_model, make_opt, x, y)
        if reference is not None:
            steps["torch"] = reference
        steps.update(irc_steps(make_model, make_opt, x, y))
        medians, ratios = alternating_medians(steps, args.warmup, args.repeat, args.rounds)
        for row in result_rows(medians, ratios):
            print(f"{name:34s} {row}")
    return 0


def result_rows(medians: dict[str, float], ratios: dict[str, list[float]]) -> list[str]:
    """One line per mode: its median step in ms, the ratio to torch and the range of per-round ratios."""
    rows = []
    for mode, seconds in medians.items():
        ratio = f"{seconds / medians['torch']:8.2f}x" if "torch" in medians else "      n/a"
        spread = f"{min(ratios[mode]):.2f}-{max(ratios[mode]):.2f}x" if ratios[mode] else ""
        rows.append(f"{mode:10s} {seconds * 1e3:10.3f} {ratio}  {spread}")
    return rows


if __name__ == "__main__":
    sys.exit(main())
