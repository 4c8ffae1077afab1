"""irc-bufferize and buffer-reuse: same results as the tensor stage (and numpy), valid upstream MLIR,
outputs written in place, and no buffer reused while it is still live."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import TensorType

from irc.conversions.bufferize import BufferizePass, BufferReusePass
from irc.interpreters.loops import run_stage
from irc.ir import parse_module, print_module
from irc.ir.context import make_context
from tests.conversions.linalg_cases import (
    CASES,
    CHAIN,
    CONCAT,
    ID2,
    MATMUL,
    RESHAPE_CHAIN,
    RETURN_INPUTS,
    SHARED_INIT,
    TRANSPOSE_RESHAPE,
)
from tests.helpers import mlir_opt_accepts


def bufferized(text: str, reuse: bool = False):
    module = parse_module(text)
    BufferizePass().apply(make_context(), module)
    if reuse:
        BufferReusePass().apply(make_context(), module)
    module.verify()
    return module


def ops_named(module, name: str) -> list:
    return [op for op in module.walk() if op.name == name]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("reuse", [False, True], ids=["bufferize", "bufferize+reuse"])
def test_same_results_as_tensor_stage(case, reuse, rng):
    inputs = case.inputs(rng)
    expected = run_stage(parse_module(case.mlir), inputs)
    module = bufferized(case.mlir, reuse)
    got = run_stage(module, inputs)
    for g, e, o in zip(got, expected, case.oracle(*inputs), strict=True):
        np.testing.assert_array_equal(g, e)
        np.testing.assert_allclose(g, o, rtol=1e-5, atol=1e-6)
    assert not any(isinstance(v.type, TensorType) for op in module.walk() for v in (*op.operands, *op.results))
    if not reuse:
        mlir_opt_accepts(print_module(module))


def test_signature_has_trailing_outputs():
    module = bufferized(RETURN_INPUTS.mlir)
    (function,) = module.ops
    assert function.attributes["irc.num_outputs"].value.data == 4
    assert len(function.function_type.inputs) == 5 and not function.function_type.outputs


def test_producers_write_outputs_and_concat_slices_directly():
    for case in (MATMUL, CONCAT, TRANSPOSE_RESHAPE, RESHAPE_CHAIN):
        module = bufferized(case.mlir)
        assert not ops_named(module, "memref.copy"), case.name
    assert not ops_named(bufferized(CONCAT.mlir), "memref.alloc")  # both producers write into the output


def test_copies_only_where_needed():
    # returned input, its slice, and the second return of one value: three copies
    assert len(ops_named(bufferized(RETURN_INPUTS.mlir), "memref.copy")) == 3
    # a fill read by two reductions: the first one works on a copy
    assert len(ops_named(bufferized(SHARED_INIT.mlir), "memref.copy")) == 1


def test_constant_becomes_global():
    text = """
func.func @f() -> tensor<2xf32> {
  %c = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  return %c : tensor<2xf32>
}"""
    module = bufferized(text)
    assert len(ops_named(module, "memref.global")) == 1 and len(ops_named(module, "memref.get_global")) == 1
    np.testing.assert_array_equal(run_stage(module, [])[0], [1.0, 2.0])
    mlir_opt_accepts(print_module(module))


def test_buffer_reuse_shrinks_a_chain():
    before = bufferized(CHAIN.mlir)
    after = bufferized(CHAIN.mlir, reuse=True)
    assert len(ops_named(before, "memref.alloc")) == 5
    assert len(ops_named(after, "memref.alloc")) == 2


def _random_dag(rng: np.random.Generator, n: int) -> str:
    """n elementwise ops, each on two random earlier values; a few of them returned."""
    t = "tensor<3x4xf32>"
    values, lines = ["%x", "%y"], []
    for i in range(n):
        a, b = rng.choice(values, 2)
        op = rng.choice(["arith.addf", "arith.mulf", "arith.subf", "arith.maximumf"])
        lines += [
            f"  %e{i} = tensor.empty() : {t}",
            f"  %v{i} = linalg.generic {{indexing_maps = [{ID2}, {ID2}, {ID2}], iterator_types = "
            f'["parallel", "parallel"]}} ins({a}, {b} : {t}, {t}) outs(%e{i} : {t}) {{',
            f"  ^bb0(%a: f32, %b: f32, %o: f32):\n    %1 = {op} %a, %b : f32\n    linalg.yield %1 : f32",
            f"  }} -> {t}",
        ]
        values.append(f"%v{i}")
    returned = [values[-1], *rng.choice(values[2:], 2)]
    head = f"func.func @f(%x: {t}, %y: {t}) -> ({', '.join([t] * 3)}) {{"
    return "\n".join([head, *lines, f"  return {', '.join(returned)} : {', '.join([t] * 3)}", "}"])


@pytest.mark.parametrize("seed", range(12))
def test_buffer_reuse_never_aliases_live_buffers(seed):
    rng = np.random.default_rng(seed)
    text = _random_dag(rng, 10)
    inputs = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2)]
    expected = run_stage(parse_module(text), inputs)
    for g, e in zip(run_stage(bufferized(text, reuse=True), inputs), expected, strict=True):
        np.testing.assert_array_equal(g, e)


def test_unsupported_op_is_named():
    text = """
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c = arith.constant 0 : index
  %v = tensor.extract %x[%c] : tensor<4xf32>
  %s = tensor.splat %v : tensor<4xf32>
  return %s : tensor<4xf32>
}"""
    with pytest.raises(Exception, match="irc-bufferize: cannot bufferize tensor.extract"):
        bufferized(text)
