"""The stage interpreter: stage-3 programs against numpy oracles, and its error messages."""

from __future__ import annotations

import numpy as np
import pytest

from irc.interpreters.loops import InterpretError, run_stage
from irc.ir import parse_module
from tests.conversions.linalg_cases import CASES, MATMUL, SUM_KEEPDIM


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_linalg_stage_matches_numpy(case, rng):
    inputs = case.inputs(rng)
    got = run_stage(parse_module(case.mlir), inputs)
    expected = case.oracle(*inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == np.shape(e)
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_wrong_input_shape_names_function_and_shapes(rng):
    with pytest.raises(InterpretError, match=r"@f input 1: expected shape \(7, 3\), got \(3, 7\)"):
        run_stage(parse_module(MATMUL.mlir), [np.zeros((5, 7), np.float32), np.zeros((3, 7), np.float32)])


def test_unknown_entry_lists_functions():
    with pytest.raises(InterpretError, match="no function @g .*@f"):
        run_stage(parse_module(SUM_KEEPDIM.mlir), [np.zeros((4, 8), np.float32)], entry="g")


def test_unwritten_output_shows_as_nan():
    text = """
func.func @f(%x: memref<3xf32>, %out: memref<3xf32>) attributes {irc.num_outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %v = memref.load %x[%c0] : memref<3xf32>
  memref.store %v, %out[%c0] : memref<3xf32>
  func.return
}"""
    (out,) = run_stage(parse_module(text), [np.array([1, 2, 3], np.float32)])
    assert out[0] == 1 and np.isnan(out[1:]).all()


def test_loops_vectorize_parallel_and_iterate_for():
    text = """
func.func @f(%a: memref<2x3xf32>, %out: memref<2xf32>) attributes {irc.num_outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  "scf.parallel"(%c0, %c2, %c1) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
  ^bb0(%i: index):
    memref.store %zero, %out[%i] : memref<2xf32>
    scf.for %k = %c0 to %c3 step %c1 {
      %x = memref.load %a[%i, %k] : memref<2x3xf32>
      %acc = memref.load %out[%i] : memref<2xf32>
      %s = arith.addf %x, %acc : f32
      memref.store %s, %out[%i] : memref<2xf32>
    }
    scf.reduce
  }) : (index, index, index) -> ()
  func.return
}"""
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    (out,) = run_stage(parse_module(text), [a])
    np.testing.assert_array_equal(out, a.sum(1))


def test_integer_division_rounds_toward_zero():
    text = """
func.func @f(%a: tensor<4xi32>, %b: tensor<4xi32>) -> (tensor<4xi32>, tensor<4xi32>) {
  %e = tensor.empty() : tensor<4xi32>
  %e2 = tensor.empty() : tensor<4xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%a, %b : tensor<4xi32>, tensor<4xi32>) outs(%e : tensor<4xi32>) {
  ^bb0(%x: i32, %y: i32, %o: i32):
    %q = arith.divsi %x, %y : i32
    linalg.yield %q : i32
  } -> tensor<4xi32>
  %m = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%a, %b : tensor<4xi32>, tensor<4xi32>) outs(%e2 : tensor<4xi32>) {
  ^bb0(%x: i32, %y: i32, %o: i32):
    %q = arith.remsi %x, %y : i32
    linalg.yield %q : i32
  } -> tensor<4xi32>
  return %r, %m : tensor<4xi32>, tensor<4xi32>
}"""
    a, b = np.array([7, -7, 7, -7], np.int32), np.array([2, 2, -2, -2], np.int32)
    q, r = run_stage(parse_module(text), [a, b])
    np.testing.assert_array_equal(q, [3, -3, -3, 3])
    np.testing.assert_array_equal(r, np.fmod(a, b))


def test_integer_power_at_the_loops_stage():
    """`math.ipowi` (integer `**`) runs at the loops stage as PyTorch computes it: a negative exponent gives
    0 unless the base is +-1 (the hl reference is the oracle)."""
    import irc
    from irc.ir import hl

    a = np.array([2, 1, -1, 3, -2, 0], np.int64)
    b = np.array([-1, -2, -3, 3, 2, 0], np.int64)
    lowering = irc.jit(lambda x, y: x**y).lower(a, b)
    (got,) = run_stage(parse_module(lowering.stages["loops"]), [a, b])
    np.testing.assert_array_equal(got, hl.power(a, b))
    np.testing.assert_array_equal(got, [0, 1, -1, 27, 4, 1])
