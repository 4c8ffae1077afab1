"""convert-linalg-to-loops: same results as the buffers stage, valid upstream MLIR, and the
scf.parallel-around-scf.for structure of the loops-stage contract."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import ModuleOp

from irc.conversions.bufferize import BufferizePass, BufferReusePass
from irc.conversions.linalg_to_loops import ConvertLinalgToLoopsPass
from irc.interpreters.loops import run_stage
from irc.interpreters.reference import run_hl
from irc.ir import parse_module, print_module
from irc.ir.context import make_context
from tests.conversions.linalg_cases import CASES, MATMUL, SUM_ALL
from tests.helpers import MLIR_OPT, mlir_opt_accepts

LOOPS_DIALECTS = {"builtin", "func", "scf", "memref", "arith", "math"}


def buffers(text: str):
    module = parse_module(text)
    BufferizePass().apply(make_context(), module)
    BufferReusePass().apply(make_context(), module)
    return module


def lowered(module):
    ConvertLinalgToLoopsPass().apply(make_context(), module)
    module.verify()
    return module


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_results_as_buffers_stage(case, rng):
    inputs = case.inputs(rng)
    module = buffers(case.mlir)
    expected = run_stage(module, inputs)
    module = lowered(module)
    for g, e, o in zip(run_stage(module, inputs), expected, case.oracle(*inputs), strict=True):
        np.testing.assert_array_equal(g, e)
        np.testing.assert_allclose(g, o, rtol=1e-5, atol=1e-6)
    assert {op.name.split(".")[0] for op in module.walk()} <= LOOPS_DIALECTS
    mlir_opt_accepts(print_module(module))


def test_matmul_nest_is_parallel_around_for():
    module = lowered(buffers(MATMUL.mlir))
    function = next(iter(module.ops))
    nests = [op for op in function.body.block.ops if isinstance(op, scf.ParallelOp | scf.ForOp)]
    assert len(nests) == 3  # fill, matmul, relu
    fill, matmul, relu = nests
    assert isinstance(matmul, scf.ParallelOp) and len(matmul.body.block.args) == 2
    inner = [op for op in matmul.body.block.ops if isinstance(op, scf.ForOp)]
    assert len(inner) == 1 and not any(isinstance(op, scf.ParallelOp) for op in inner[0].walk())
    assert [op.name for op in inner[0].body.block.ops if op.name.startswith("memref")] == [
        "memref.load", "memref.load", "memref.load", "memref.store"
    ]  # fmt: skip
    assert not any(isinstance(op, scf.ForOp) for op in relu.walk())


def test_full_reduction_has_no_parallel_loop():
    module = lowered(buffers(SUM_ALL.mlir))
    assert not any(isinstance(op, scf.ParallelOp) for op in module.walk())
    assert sum(isinstance(op, scf.ForOp) for op in module.walk()) == 2


def test_bounds_and_steps_are_index_constants():
    module = lowered(buffers(MATMUL.mlir))
    for op in module.walk():
        if isinstance(op, scf.ForOp | scf.ParallelOp):
            bounds = (
                [op.lb, op.ub, op.step] if isinstance(op, scf.ForOp) else [*op.lowerBound, *op.upperBound, *op.step]
            )
            assert all(isinstance(v.owner, arith.ConstantOp) for v in bounds)


# Every hl op, through convert-hl-to-linalg (another pass's cases), down to loops.
def _hl_cases():
    from tests.conversions import test_hl_to_linalg as hl_tests

    return hl_tests


def _hl_to_loops(name: str) -> tuple[ModuleOp, list[np.ndarray], list[np.ndarray]]:
    hl_tests = _hl_cases()
    text = hl_tests.hl_module(*hl_tests.CASES[name])
    inputs = hl_tests.case_inputs(name, hl_tests.functions(text)[0])
    expected = run_hl(parse_module(text), inputs)
    module = hl_tests.lower(text)
    BufferizePass().apply(make_context(), module)
    BufferReusePass().apply(make_context(), module)
    module.verify()
    for got, want in zip(run_stage(module, inputs), expected, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    return lowered(module), inputs, expected


@pytest.mark.parametrize("name", list(_hl_cases().CASES))
def test_every_hl_op_down_to_loops_matches_hl_reference(name):
    module, inputs, expected = _hl_to_loops(name)
    for got, want in zip(run_stage(module, inputs), expected, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_every_hl_op_loops_stage_is_upstream_valid():
    if MLIR_OPT is None:
        pytest.skip("upstream mlir-opt not installed")
    text = "\n// -----\n".join(print_module(_hl_to_loops(name)[0]) for name in _hl_cases().CASES)
    proc = subprocess.run([MLIR_OPT, "--split-input-file"], input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
