"""Train a small CNN on scikit-learn's 8x8 digits, eagerly and as an `irc.jit` static graph.

    python examples/train_digits.py                       # both modes, 10 epochs
    python examples/train_digits.py --mode jit --epochs 5 --batch-size 32

The eager ("dynamic graph") step records forward, backward and the Adam update
lazily and realizes them as one compiled program (cached after the first step).
The jit ("static graph") step traces the same Python function once and runs
the compiled program on every later call, writing the updated parameters,
optimizer state and BatchNorm statistics back.  Needs scikit-learn (the
`examples` extra); the data ships with it, nothing is downloaded.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import irc
import irc.nn as nn
import irc.optim as optim

TEST_SIZE = 360  # fixed split: a seeded permutation, the first 360 digits are the test set


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test); images (N, 1, 8, 8) float32 in [0, 1], labels int64."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return x[train], y[train], x[test], y[test]


def digits_cnn(m=nn, width: int = 16):
    """conv-bn-relu-pool twice (8x8 -> 4x4 -> 2x2), dropout, linear classifier.

    `m` is the module namespace: `irc.nn`, or `torch.nn` for the same model in PyTorch.
    """
    return m.Sequential(
        m.Conv2d(1, width, 3, padding=1), m.BatchNorm2d(width), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(width, 2 * width, 3, padding=1), m.BatchNorm2d(2 * width), m.ReLU(), m.MaxPool2d(2),
        m.Flatten(), m.Dropout(0.25), m.Linear(2 * width * 4, 10),
    )  # fmt: skip


def make_step(model: nn.Module, opt: optim.Optimizer, mode: str):
    """The training step for `mode`: (x, y) -> loss, updating the model in place."""
    loss_fn = nn.CrossEntropyLoss()

    def forward_backward(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    def train_step(x, y):
        loss = forward_backward(x, y)
        opt.step()
        return loss

    if mode == "jit":
        return irc.jit(train_step)
    # eager: the closure form lets step() realize the loss in the same program as the update
    return lambda x, y: opt.step(lambda: forward_backward(x, y))


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with irc.no_grad():
        predicted = model(irc.tensor(x)).argmax(1).numpy()
    model.train()
    return float((predicted == y).mean())


def progress_bar(done: int, total: int, text: str, width: int = 28) -> None:
    """A bar redrawn in place on a terminal; nothing when the output is a file or a pipe (the epoch lines remain)."""
    if not sys.stdout.isatty():
        return
    filled = width * done // total
    sys.stdout.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:3d}/{total} {text}")
    sys.stdout.flush()


def train(mode: str, epochs: int, batch_size: int, data, seed: int = 0) -> dict:
    """Train a fresh model; returns test accuracy and step times (the first step includes compilation)."""
    x_train, y_train, x_test, y_test = data
    irc.manual_seed(seed)
    model = digits_cnn()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    step = make_step(model, opt, mode)
    order_rng = np.random.default_rng(seed)
    batches = len(x_train) // batch_size  # drop the last partial batch: one shape, one compiled program
    times: list[float] = []
    print(f"{mode}: {epochs} epochs of {batches} steps, batch size {batch_size}")
    for epoch in range(1, epochs + 1):
        order = order_rng.permutation(len(x_train))
        losses = []
        for b in range(batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            start = time.perf_counter()
            loss = step(irc.tensor(x_train[idx]), irc.tensor(y_train[idx])).item()
            times.append(time.perf_counter() - start)
            losses.append(loss)
            progress_bar(b + 1, batches, f"epoch {epoch}/{epochs} loss {loss:.4f}")
        test_acc = accuracy(model, x_test, y_test)
        line = f"  epoch {epoch:2d}/{epochs}: train loss {np.mean(losses):.4f}, test accuracy {test_acc:6.2%}"
        print(f"\r{line}{' ' * 30}" if sys.stdout.isatty() else line, flush=True)
    return {"accuracy": test_acc, "first_step_s": times[0], "step_s": statistics.median(times[1:] or times)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mode", choices=("eager", "jit", "both"), default="both")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    data = load_digits_split()
    print(f"digits: {len(data[0])} train / {len(data[2])} test images of 8x8")
    modes = ("eager", "jit") if args.mode == "both" else (args.mode,)
    results = {mode: train(mode, args.epochs, args.batch_size, data) for mode in modes}
    print("\nmode   test acc   first step (compile)   time per step (median)")
    for mode, r in results.items():
        print(f"{mode:6s} {r['accuracy']:8.2%}   {r['first_step_s']:17.2f} s   {r['step_s'] * 1e3:19.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
