"""Compile time of the MLP example: cold (first compile in the process) and warm (cache hit).

    python benchmarks/bench_compile.py

Cold: trace + all passes + TVM build.  Warm: a fresh `irc.jit` of the same
function with the same input signature: trace + print + cache lookup.
"""

import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))
import irc  # noqa: E402

spec = importlib.util.spec_from_file_location("mlp", Path(__file__).parents[1] / "examples" / "mlp.py")
mlp_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mlp_module)
mlp = mlp_module.mlp
rng = np.random.default_rng(0)
args = [s.random(rng) * np.float32(0.1) for s in irc.driver.jit.example_inputs_of(mlp)]


def compile_once() -> float:
    start = time.perf_counter()
    irc.jit(mlp).lower(*args)
    return time.perf_counter() - start


cold = compile_once()
warm = [compile_once() for _ in range(20)]
print(f"MLP example compile, cold: {cold * 1e3:8.1f} ms")
print(f"MLP example compile, warm: {statistics.median(warm) * 1e3:8.1f} ms (median of {len(warm)}, cache hit)")
