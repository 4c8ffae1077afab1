"""Compile time of the MLP example: cold (empty caches), disk hit and warm (in-process hit).

    python benchmarks/bench_compile.py

Cold: trace + all passes + TVM build, with an empty compile cache (a temp
`IRC_CACHE_DIR`).  Disk hit: the in-process cache cleared, the entry loaded
from disk (docs/cache.md).  Warm: a fresh `irc.jit` of the same function with
the same input signature: trace + print + in-process cache lookup.
"""

import atexit
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))
os.environ["IRC_CACHE_DIR"] = tempfile.mkdtemp(prefix="irc-bench-cache-")
atexit.register(shutil.rmtree, os.environ["IRC_CACHE_DIR"], True)
import irc  # noqa: E402
from irc.driver import cache  # noqa: E402

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
cache.clear_memory()
disk = compile_once()
warm = [compile_once() for _ in range(20)]
print(f"MLP example compile, cold: {cold * 1e3:8.1f} ms")
print(f"MLP example compile, disk hit: {disk * 1e3:8.1f} ms")
print(f"MLP example compile, warm: {statistics.median(warm) * 1e3:8.1f} ms (median of {len(warm)}, cache hit)")
