"""TVM is imported without PyTorch (irc.runtime.imports), and torch imported later still works with irc."""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

_COMPILE_THEN_TORCH = textwrap.dedent(
    """
    import sys
    import numpy as np
    import irc, irc.nn as nn

    f = irc.jit(lambda x, w: (x @ w).relu().sum())
    x, w = np.ones((4, 3), np.float32), np.full((3, 2), 0.5, np.float32)
    assert f(x, w).item() == 12.0
    print("torch imported by the compile:", "torch" in sys.modules, "tvm imported:", "tvm" in sys.modules)
    if "--with-torch" in sys.argv:
        import torch

        lin = torch.nn.Linear(3, 2)
        model = nn.Linear(3, 2)
        model.load_state_dict(lin.state_dict())
        xt = torch.arange(12.0).reshape(4, 3)
        got = model(irc.tensor(xt)).numpy()
        assert np.allclose(got, lin(xt).detach().numpy(), atol=1e-5), got
        assert f(irc.tensor(xt), irc.tensor(torch.ones(3, 2))).item() == xt.sum().item() * 2
        print("torch works afterwards")
    """
)


def _run(*args: str, tmp_path: Path) -> str:
    env = {**os.environ, "IRC_CACHE_DIR": str(tmp_path / "cache"), "IRC_EAGER": "compile"}  # a compile, not a hit
    proc = subprocess.run(
        [sys.executable, "-c", _COMPILE_THEN_TORCH, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_compiling_does_not_import_torch(tmp_path):
    assert "torch imported by the compile: False tvm imported: True" in _run(tmp_path=tmp_path)


@pytest.mark.slow  # a fresh process importing torch (~3 s); the test above runs the same script without it
def test_torch_imported_later_works_with_irc(tmp_path):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    out = _run("--with-torch", tmp_path=tmp_path)
    assert "torch imported by the compile: False" in out and "torch works afterwards" in out
