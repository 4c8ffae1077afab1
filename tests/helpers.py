"""Shared test helpers: compile with irc.jit and compare with the hl numpy reference; upstream mlir-opt."""

import shutil
import subprocess

import numpy as np
import pytest

from irc.frontend.tracing import trace
from irc.interpreters.reference import run_hl

#: upstream mlir-opt of LLVM 22, which must accept the stage 3-5 dumps without flags; None where not installed
MLIR_OPT = shutil.which("mlir-opt-22") or shutil.which("mlir-opt", path="/usr/lib/llvm-22/bin")

TOLERANCES = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-5), np.dtype(np.float64): dict(rtol=1e-11, atol=1e-12)}


#: the start of a `python -c` script whose first argument lists top-level packages (comma-separated)
#: that it must not import: importing one raises ImportError (packages run without the compiler)
BLOCK_IMPORTS = """
import sys
BLOCKED = sys.argv.pop(1).split(",")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: running a package must not need it")
sys.meta_path.insert(0, Block())
"""


def assert_matches_reference(fn, arrays, target="llvm", tol_scale=1.0):
    """Compile `fn` with irc.jit for `target` and compare with the hl numpy reference."""
    import irc

    specs = [irc.Spec.of(a) for a in arrays]
    expected = run_hl(trace(fn, specs), arrays)
    got = irc.jit(fn, target=target)(*arrays)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g = g.numpy()
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        tol = TOLERANCES.get(e.dtype)
        if tol is None:
            np.testing.assert_array_equal(g, e)
        else:
            np.testing.assert_allclose(g, e, rtol=tol["rtol"] * tol_scale, atol=tol["atol"] * tol_scale)


def rewrite_zip(path, out, change=lambda name, data: data, add=None):
    """A copy of the zip file (package) `path` at `out`, with `change(name, bytes) -> bytes | None` (None: drop
    the member) applied to every member and the members of the dict `add` appended; CRCs stay valid."""
    import zipfile

    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = change(name, src.read(name))
            if data is not None:
                dst.writestr(name, data)
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return out


def mlir_opt_accepts(text: str, *flags: str) -> str:
    """Upstream mlir-opt parses and verifies `text` (without flags unless given) and returns what it prints
    (the test is skipped where it is not installed)."""
    if MLIR_OPT is None:
        pytest.skip("upstream mlir-opt (LLVM 22) is not installed")
    proc = subprocess.run([MLIR_OPT, *flags], input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + "\n" + text
    return proc.stdout


def random_inputs(fn_or_module, seed: int = 0, draw=None) -> list[np.ndarray]:
    """Random arrays for the arguments of an hl function (or a module's first function), from `seed`.

    irc's one rule (`irc.runtime.dtypes.random_array`), unless `draw(rng, shape, dtype)` returns an
    array for that argument (e.g. positive floats for log and sqrt).
    """
    from xdsl.dialects import func

    from irc.ir import hl
    from irc.runtime.dtypes import random_array

    fn = fn_or_module
    if not isinstance(fn, func.FuncOp):
        fn = next(op for op in fn_or_module.ops if isinstance(op, func.FuncOp))
    rng = np.random.default_rng(seed)
    out = []
    for arg in fn.body.block.args:
        shape, dt = hl.shape_of(arg.type), hl.numpy_dtype(arg.type.element_type)
        drawn = draw(rng, shape, dt) if draw else None
        out.append(random_array(shape, dt, rng) if drawn is None else np.asarray(drawn).astype(dt))
    return out


# ------------------------------------------------------------- training


def paired_models(make, seed: int = 0):
    """`make(irc.nn)` and `make(torch.nn)` with the torch model's (seeded) weights in both."""
    import torch

    import irc.nn

    torch.manual_seed(seed)
    ours, theirs = make(irc.nn), make(torch.nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def labelled_batches(n: int, shape=(16, 4), classes: int = 3, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n` (float32 inputs of `shape`, int64 labels below `classes`) pairs."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0])) for _ in range(n)]


def training_step(model, opt, loss_fn=None):
    """The classic step: zero_grad, loss of model(x) and t (cross entropy by default), backward, opt.step().
    Its arguments are named x and t, the names a saved step package gives its inputs."""
    import irc.nn

    loss_fn = loss_fn or irc.nn.CrossEntropyLoss()

    def train_step(x, t):
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
        return loss

    return train_step
