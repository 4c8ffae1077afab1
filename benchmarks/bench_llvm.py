"""irc's `llvm` target against numpy: f32 matmul 512 / 1024 and the fused 16M-float relu(x*y + x).

    python benchmarks/bench_llvm.py [--repeats 20]

Each case builds a loops-stage module, compiles it with `irc.targets.compile_loops`
for the host CPU, checks the result against numpy, then times irc and numpy
in alternating blocks (so both see the same machine load) and reports medians.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from irc.ir import parse_module  # noqa: E402
from irc.targets import compile_loops  # noqa: E402
from irc.targets.llvm.cpu import host_target, num_threads  # noqa: E402
from tests.targets.loops_modules import matmul, relu_fma  # noqa: E402

# Longer than the thread pools (OpenBLAS's, TVM's) keep spinning after a call.
_SPIN_PAUSE = 0.25


def alternate(irc_fn, numpy_fn, repeats: int, block: int = 5) -> tuple[float, float]:
    """Median seconds of irc_fn and numpy_fn, timed in alternating blocks of `block` calls.

    Both see the same machine load over time, but neither runs in the other's shadow:
    after a call OpenBLAS leaves its worker thread spinning for about 0.1 s, and a kernel
    timed meanwhile shares a core with that spinner (measured: irc's 512 matmul takes 2x
    longer). Each block therefore starts after a pause and with an untimed call.
    """
    times: dict[str, list[float]] = {"irc": [], "numpy": []}
    for _ in range(max(1, repeats // block)):
        for name, fn in (("irc", irc_fn), ("numpy", numpy_fn)):
            time.sleep(_SPIN_PAUSE)
            fn()
            for _ in range(block):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return float(np.median(times["irc"])), float(np.median(times["numpy"]))


def bench_matmul(n: int, repeats: int, rng) -> str:
    compiled = compile_loops(parse_module(matmul(n, n, n)))
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    np.testing.assert_allclose(compiled(a, b)[0], a @ b, rtol=1e-3, atol=1e-3)
    t_irc, t_np = alternate(lambda: compiled(a, b), lambda: a @ b, repeats)
    flops = 2 * n**3
    return (
        f"matmul f32 {n}x{n}x{n}: irc {flops / t_irc / 1e9:7.1f} GFLOP/s ({t_irc * 1e3:.2f} ms)  "
        f"numpy {flops / t_np / 1e9:7.1f} GFLOP/s ({t_np * 1e3:.2f} ms)  irc/numpy {t_np / t_irc:.2f}x"
    )


def bench_relu_fma(n: int, repeats: int, rng) -> str:
    compiled = compile_loops(parse_module(relu_fma(n)))
    x, y = rng.standard_normal(n, np.float32), rng.standard_normal(n, np.float32)
    np.testing.assert_allclose(compiled(x, y)[0], np.maximum(x * y + x, 0), rtol=1e-5, atol=1e-6)  # FMA rounding
    t_irc, t_np = alternate(lambda: compiled(x, y), lambda: np.maximum(x * y + x, 0), repeats)
    moved = 3 * 4 * n  # two inputs read, one output written, by the fused kernel
    return (
        f"relu(x*y + x) f32 {n}: irc {moved / t_irc / 1e9:7.1f} GB/s ({t_irc * 1e3:.2f} ms)  "
        f"numpy {moved / t_np / 1e9:7.1f} GB/s ({t_np * 1e3:.2f} ms)  irc/numpy {t_np / t_irc:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"target {host_target()}  threads {num_threads()}  load average {os.getloadavg()[0]:.2f}")
    for n in (512, 1024):
        print(bench_matmul(n, args.repeats, rng))
    print(bench_relu_fma(16 << 20, max(5, args.repeats // 2), rng))


if __name__ == "__main__":
    main()
