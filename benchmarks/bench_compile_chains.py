"""Compile time of elementwise op chains by depth: where TVM's simplifier goes exponential.

A chain `p = step(p, x)` of k steps fuses into one loop nest; written as one TIR expression, some
expression shapes (selects, NaN-aware min/max, float floor division, nested casts) cost TVM's
arithmetic simplifier time exponential in k, which irc now bounds by storing large values in scratch
buffers (irc/targets/tir.py). Each (pattern, k) is compiled for llvm in a fresh process
with an empty compile cache, under a time limit; a pattern stops at its first compile over the limit.

    python benchmarks/bench_compile_chains.py [--patterns where_f32,clamp_i32] [--depths 2,4,6,8,10,12]
        [--limit 60]

Figures: docs/compile-time.md ("Op chains TVM's simplifier was exponential on").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

#: name -> (dtype, one step of the chain, as Python source in p and x)
PATTERNS = {
    "where_f32": ("float32", "irc.where(p > 3, p * 2, p + 1)"),
    "clamp_f32": ("float32", "(p + x).clamp(-5, 5)"),
    "maximum_f32": ("float32", "irc.maximum(p, x) + 1"),
    "sign_f32": ("float32", "(p - x).sign() + p"),
    "floordiv_f32": ("float32", "(p + 7).floor_divide(x)"),
    "remainder_f32": ("float32", "(p + 7).remainder(x)"),
    "cmpandor_f32": ("float32", "irc.where((p > x) & (p < 5) | (x == p), p + 1, p - x)"),
    "where_i32": ("int32", "irc.where(p > 3, p * 2, p + 1)"),
    "clamp_i32": ("int32", "(p + x).clamp(-5, 5)"),
    "maximum_i32": ("int32", "irc.maximum(p, x) + 1"),
    "add_i32": ("int32", "p + x"),
    "abs_f32": ("float32", "(p - x).abs()"),
    "fma_f32": ("float32", "p * x + 1"),
    "hypot_f32": ("float32", "irc.hypot(p, x) - x"),
    "atan2_f32": ("float32", "irc.atan2(p, x) + x"),
    "sigmoid_f32": ("float32", "(p + x).sigmoid()"),
    "tanh_f32": ("float32", "(p - x).tanh()"),
    "expm1_f32": ("float32", "(p - x).expm1() * 0.5"),
    "asinh_f32": ("float32", "(p - x).asinh()"),
    "tan_f32": ("float32", "(p * 0.1).tan()"),
    "erf_f32": ("float32", "(p - x).erf()"),
    "elu_f32": ("float32", "F.elu(p - x)"),
    "gelu_tanh_f32": ("float32", "F.gelu(p - x, approximate='tanh')"),
    "softplus_f32": ("float32", "F.softplus(p - x)"),
    "silu_f32": ("float32", "F.silu(p - x)"),
    "nan_to_num_f32": ("float32", "(p / (x - 4)).nan_to_num()"),
    "logical_xor_bool": ("bool", "irc.logical_xor(p, x) | (p & x)"),
    "bitand_add_i32": ("int32", "(p & x) + 3"),
}

CHILD = """
import sys, time
import numpy as np
import irc
import irc.nn.functional as F
dtype, step, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = np.random.RandomState(0).randint(1, 9, size=(4, 8)).astype(dtype)
def f(x):
    p = x
    for _ in range(k):
        p = eval(step)
    return p
start = time.perf_counter()
irc.jit(f, target="llvm")(x)
print(time.perf_counter() - start)
"""


def compile_seconds(dtype: str, step: str, k: int, limit: float) -> float | None:
    """Seconds to trace, compile and run the k-step chain in a fresh process (None: over `limit`)."""
    with tempfile.TemporaryDirectory(prefix="irc-chain-cache-") as cache:
        env = {**os.environ, "IRC_CACHE_DIR": cache}
        try:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, dtype, step, str(k)],
                env=env, capture_output=True, text=True, timeout=limit, check=True,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return None
        return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", default=",".join(PATTERNS), help="comma-separated names: " + ", ".join(PATTERNS))
    parser.add_argument("--depths", default="2,4,6,8,10,12,16")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per compile before a pattern stops")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    print(f"compile seconds (fresh process, empty cache, llvm), limit {args.limit:.0f} s", flush=True)
    started = time.perf_counter()
    for name in args.patterns.split(","):
        dtype, step = PATTERNS[name]
        cells = []
        for k in depths:
            seconds = compile_seconds(dtype, step, k, args.limit)
            cells.append(f"k={k}: " + (f"{seconds:.2f}" if seconds is not None else f">{args.limit:.0f}"))
            if seconds is None:
                break
        print(f"{name:14s} {'  '.join(cells)}", flush=True)
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
