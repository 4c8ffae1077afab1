"""benchmarks/bench_gpu.py runs where a GPU target is missing: its rows are skipped with the reason."""

import importlib.util
import sys
from pathlib import Path

from irc.runtime import opencl

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_gpu_skips_opencl_without_pyopencl(monkeypatch, capsys):
    bench = _bench()
    monkeypatch.setitem(sys.modules, "pyopencl", None)  # import pyopencl fails
    monkeypatch.setattr(opencl, "default_context", opencl.default_context.__wrapped__)  # not this process's cached one
    monkeypatch.setattr(bench, "bench_target", lambda name, label, target, repeats: f"row {name} {label}")
    bench.main(["--repeats", "1"])
    out = capsys.readouterr().out
    assert "opencl: skipped (the opencl target needs pyopencl: " in out
    rows = [line for line in out.splitlines() if line.startswith("row ")]
    assert "row mlp llvm" in rows and "row convnet llvm" in rows
    assert not any("opencl" in row for row in rows)


def test_bench_gpu_keeps_opencl_where_it_runs(monkeypatch):
    monkeypatch.setattr(opencl, "default_context", lambda: "a context")
    assert ("opencl", "opencl") in _bench().targets()
