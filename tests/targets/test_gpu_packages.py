"""benchmarks/gpu_packages.py: `build` here, `run` without the compiler (opencl on PoCL, torch CPU as the
numerics reference), at `--small` sizes; `build` for cuda writes cubins without a GPU."""

import json
import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from irc.targets.cuda import nvrtc_available
from tests.helpers import BLOCK_IMPORTS
from tests.runtime.test_package import _has_opencl

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "gpu_packages.py"
ONE_OF_EACH = "matmul64,matmul64_t128x128,elementwise,mlp_sgd_b8"  # every kind (a matmul tile too), small

RUN = (
    "import torch._dynamo\n"  # torch's optimizers load it, and it probes for tvm: before the block
    + BLOCK_IMPORTS
    + f"""
import runpy
sys.argv = [{str(BENCH)!r}, *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
)


def _main(argv):
    return runpy.run_path(str(BENCH))["main"](argv)


@pytest.mark.slow  # builds and runs every benchmark program in a subprocess
@pytest.mark.skipif(not _has_opencl(), reason="no OpenCL platform")
def test_build_then_run_on_opencl_without_the_compiler(tmp_path):
    pytest.importorskip("torch")
    _main(["build", "-o", str(tmp_path), "--targets", "opencl", "--small", "--only", ONE_OF_EACH, "--matmul-tiles"])
    index = json.loads((tmp_path / "opencl" / "index.json").read_text())
    assert [p["name"] for p in index["programs"]] == ONE_OF_EACH.split(",")
    result = subprocess.run(
        [sys.executable, "-c", RUN, "xdsl,tvm", "run", "-d", str(tmp_path), "--target", "opencl", "--repeats", "2"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.split()[:1]}
    assert rows["matmul64"][3] == rows["matmul64_t128x128"][3] == "TFLOP/s" and rows["elementwise"][3] == "GB/s"
    assert rows["mlp_sgd_b8"][3] == "ms/step"
    for name in ONE_OF_EACH.split(","):
        assert float(rows[name][-1]) < 1e-5, rows[name]  # irc against torch: relative error
    # the step's plan runner counts (OpenCL launches kernel by kernel: no graphs)
    assert "plan runner mlp_sgd_b8: {'kernel_calls':" in result.stdout and "graphs" not in result.stdout


@pytest.mark.slow  # nvcc or NVRTC builds the MLP step's kernels: about 10 s
def test_build_for_cuda_writes_cubins_without_a_gpu(tmp_path, monkeypatch):
    if shutil.which("nvcc") is None and not nvrtc_available():
        pytest.skip("neither nvcc nor NVRTC (the cuda extra) installed")
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["build", "-o", str(tmp_path), "--targets", "cuda", "--arch", "sm_90", "--small", "--only", ONE_OF_EACH]
    _main([*argv, "--matmul-tiles"])
    index = json.loads((tmp_path / "cuda" / "index.json").read_text())
    assert index["target"] == {"kind": "cuda", "arch": "sm_90"}
    for record in index["programs"]:
        with zipfile.ZipFile(tmp_path / "cuda" / record["package"]) as archive:
            assert archive.read("kernels.cubin")[:4] == b"\x7fELF"
            manifest = json.loads(archive.read("manifest.json"))
        assert manifest["target"]["arch"] == "sm_90"
        assert bool(manifest["entries"][0]["step"]["updates"]) == (record["kind"] == "mlp_sgd")
