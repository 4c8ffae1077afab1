"""irc's GPU targets on the MLP and convnet examples: OpenCL (PoCL on the CPU here) and CUDA against llvm.

    python benchmarks/bench_gpu.py [--repeats 20]

For each example: compile time per target, then the median time of one call
(numpy in, numpy out: upload, kernels, download) and of one device-resident
call (`run_device`, inputs already on the device). CUDA rows are skipped
without a GPU, OpenCL rows without pyopencl or an OpenCL platform (each says
why). Every target's output is checked against the hl reference first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from irc.errors import IRCError  # noqa: E402
from irc.interpreters.reference import run_hl  # noqa: E402
from irc.targets import compile_loops  # noqa: E402
from tests.targets.gpu_programs import loops_module, program  # noqa: E402


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _opencl() -> str:
    from irc.runtime.opencl import default_context

    default_context()  # pyopencl and an OpenCL device, else an IRCError that says what is missing
    return "opencl"


def _cuda() -> dict:
    from irc.runtime.cuda import compute_capability

    return {"kind": "cuda", "arch": compute_capability()}


def targets() -> list[tuple[str, str | dict]]:
    """(label, target) of llvm and of each GPU target this machine can run; the others are skipped with the reason."""
    found = [("llvm", "llvm")]
    for label, probe in (("opencl", _opencl), ("cuda", _cuda)):
        try:
            found.append((label, probe()))
        except IRCError as e:
            print(f"{label}: skipped ({e})")
    return found


def bench_target(name: str, label: str, target, repeats: int) -> str:
    module, arrays = program(name)
    expected = run_hl(module, arrays)
    start = time.perf_counter()
    compiled = compile_loops(loops_module(name), target)
    got = compiled(*arrays)  # the first call builds the device program (PoCL, nvcc)
    build = time.perf_counter() - start
    error = max(float(np.abs(g - e).max()) for g, e in zip(got, expected))
    call = median_seconds(lambda: compiled(*arrays), repeats)
    line = f"{name:8s} {label:7s} compile+build {build:6.2f} s   call {call * 1e3:8.3f} ms"
    if hasattr(compiled, "run_device"):
        inputs = [compiled.to_device(a) for a in arrays]
        resident = median_seconds(lambda: compiled.run_device(*inputs)[0].to_numpy(), repeats)
        line += f"   device-resident {resident * 1e3:8.3f} ms"
    return f"{line}   max |err| {error:.1e}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    found = targets()
    for name in ("mlp", "convnet"):
        for label, target in found:
            print(bench_target(name, label, target, args.repeats))


if __name__ == "__main__":
    main()
