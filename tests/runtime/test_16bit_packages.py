"""float16 and bfloat16 through packages (.ircpkg), `irc run` and the disk cache: inputs, outputs and
captured constants keep their dtype and bits (numpy writes bfloat16 to .npy as 2-byte voids)."""

from __future__ import annotations

from collections import Counter

import ml_dtypes
import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
from irc.compiler import cache as compile_cache
from irc.compiler.pipeline import Pipeline
from irc.driver.cli import main
from irc.frontend.tracing import trace
from irc.interpreters.reference import run_hl
from irc.runtime import package
from irc.runtime.dtypes import load_npy
from tests.helpers import training_step
from tests.runtime.test_package import TARGETS

BF16 = np.dtype(ml_dtypes.bfloat16)
SCALE = np.array([0.5, -1.25, 3.0], np.float32)


def program(x, b):
    """A float16 and a bfloat16 input, a captured constant of each type, one output of each."""
    return x * 2 + irc.tensor(SCALE, dtype=irc.half), (b.exp() * irc.tensor(SCALE, dtype=irc.bfloat16)).sum(0)


@pytest.fixture(scope="module")
def module():
    return trace(program, [irc.Spec((4, 3), "float16"), irc.Spec((4, 3), "bfloat16")], name="program")


@pytest.fixture(scope="module")
def args():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4, 3)).astype(np.float16), rng.standard_normal((4, 3)).astype(BF16)]


def _same(got, expected):
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g.view(np.uint16), e.view(np.uint16))


@pytest.mark.parametrize("target", TARGETS)
def test_package_round_trip_and_irc_run(target, module, args, tmp_path):
    if target == "opencl":  # PoCL has no cl_khr_fp16: the package takes the bfloat16 half of the program only
        module = trace(lambda b: program(b.half(), b)[1], [irc.Spec((4, 3), "bfloat16")], name="program")
        args = args[1:]
    lowering = Pipeline(target).run(module)
    expected = run_hl(module, args)
    _same(lowering(*args), expected)
    path = package.save(lowering, tmp_path / "p.ircpkg")
    loaded = package.load(path)
    assert [s.dtype for s in loaded.inputs] == [a.dtype for a in args]
    _same(loaded(*args), expected)
    inputs = []
    for spec, array in zip(loaded.inputs, args, strict=True):
        np.save(tmp_path / f"{spec.name}.npy", array)
        inputs += ["--input", f"{spec.name}={tmp_path / spec.name}.npy"]
    assert main(["run", str(path), *inputs, "-o", str(tmp_path / "out")]) == 0
    _same([load_npy(tmp_path / "out" / f"out{i}.npy") for i in range(len(expected))], expected)


def test_disk_cache_hit(module, args, tmp_path, monkeypatch):
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(compile_cache, "_compiled_programs", {})
    monkeypatch.setattr(compile_cache, "_entry_paths", {})
    monkeypatch.setattr(compile_cache, "stats", Counter())
    compiled = compile_cache.compile_cached(module, "llvm")
    compile_cache.clear_memory()
    hit = compile_cache.compile_cached(module, "llvm")
    assert compile_cache.stats == {"compiles": 1, "disk_hits": 1}
    _same(hit(*args), compiled(*args))
    _same(hit(*args), run_hl(module, args))


def test_a_bfloat16_training_step_package(tmp_path):
    """A jitted SGD step of a bfloat16 model saved with its state (.npy members): the package's steps are the jit's."""
    irc.manual_seed(0)
    model = nn.Linear(4, 2).bfloat16()
    opt = irc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = irc.jit(training_step(model, opt, F.mse_loss))
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((8, 4)).astype(BF16), rng.standard_normal((8, 2)).astype(BF16)
    runner = package.load(step.save(tmp_path / "step.ircpkg", x, t)).step_runner()
    for _ in range(3):
        (loss,) = runner(x, t)
        _same([np.asarray(loss)], [step(irc.tensor(x), irc.tensor(t)).numpy()])
    assert {v.dtype for v in runner.state.values()} == {BF16}
    _same([runner.state[name] for name in ("weight", "bias")], [model.weight.numpy(), model.bias.numpy()])
