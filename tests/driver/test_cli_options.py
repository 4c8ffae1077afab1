"""CLI options: --version, opt without passes, --cuda-arch (validated; GPU 0's by default).

Oracles: importlib.metadata, the printed form of the parsed module, the arch the (mocked) GPU reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import irc
import irc.targets.cuda
from irc.compiler import pipeline
from irc.driver.cli import main
from irc.errors import IRCError
from irc.ir import parse_module, print_module
from tests.compiler.pipeline_fixtures import HL_TEXT

ROOT = Path(__file__).resolve().parents[2]


def test_opt_without_passes_parses_verifies_and_prints(hl_file, tmp_path, capsys):
    assert main(["opt", str(hl_file)]) == 0
    assert capsys.readouterr().out == print_module(parse_module(HL_TEXT))
    broken = tmp_path / "broken.mlir"
    relu = "%1 = hl.relu %0 : (tensor<4x3xf32>) -> tensor<"
    broken.write_text(HL_TEXT.replace(f"{relu}4x3xf32>", f"{relu}7xf32>").replace("%1 : tensor<4x3", "%1 : tensor<7"))
    assert main(["opt", str(broken)]) == 1
    assert "does not verify" in capsys.readouterr().err


VERSION_CHECK = """
import sys
from irc.driver.cli import main
try:
    main(["--version"])
except SystemExit as e:
    assert e.code == 0
print(",".join(sorted(m for m in ("xdsl", "tvm") if m in sys.modules)) or "none")
"""


def test_version():
    proc = subprocess.run(
        [sys.executable, "-c", VERSION_CHECK],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    version, imported = proc.stdout.splitlines()
    xdsl, tvm = metadata.version("xdsl"), metadata.version("apache-tvm")
    assert version == f"irc {irc.__version__} (xdsl {xdsl}, apache-tvm {tvm})"
    assert imported == "none"  # read from package metadata: the compiler is not imported


@pytest.fixture
def pipeline_targets(monkeypatch) -> list:
    """The targets the CLI builds Pipelines for (recorded, then the real Pipeline runs)."""
    targets = []
    real_init = pipeline.Pipeline.__init__

    def recording_init(self, target="llvm", *args, **kwargs):
        targets.append(target)
        real_init(self, target, *args, **kwargs)

    monkeypatch.setattr(pipeline.Pipeline, "__init__", recording_init)
    return targets


def test_cuda_arch_defaults_to_gpu_0(hl_file, monkeypatch, pipeline_targets):
    monkeypatch.setattr(irc.targets.cuda, "compute_capability", lambda: "sm_86")
    assert main(["compile", str(hl_file), "--target", "cuda", "--stop-after", "hl"]) == 0
    assert main(["compile", str(hl_file), "--target", "cuda", "--cuda-arch", "sm_90a", "--stop-after", "hl"]) == 0
    assert pipeline_targets == [{"kind": "cuda", "arch": "sm_86"}, {"kind": "cuda", "arch": "sm_90a"}]


def test_cuda_without_arch_or_gpu_is_one_line(hl_file, monkeypatch, capsys, pipeline_targets):
    def no_gpu():
        raise IRCError("no CUDA driver (libcuda.so.1: cannot open shared object file)")

    monkeypatch.setattr(irc.targets.cuda, "compute_capability", no_gpu)
    assert main(["compile", str(hl_file), "--target", "cuda"]) == 2
    assert capsys.readouterr().err == (
        "irc: error: --target cuda: no CUDA GPU found to take the architecture from; "
        "pass --cuda-arch sm_NN (e.g. sm_90)\n"
    )
    assert pipeline_targets == []  # refused before the compile


@pytest.mark.parametrize("arch", ["90", "sm_xx", "sm_9", "compute_90", "SM_90"])
def test_cuda_arch_is_checked_by_the_parser(arch, hl_file, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compile", str(hl_file), "--target", "cuda", "--cuda-arch", arch])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"'{arch}' is not a CUDA architecture: expected sm_NN, e.g. sm_90" in err
