"""hl.scatter: built with Python values, round-trips, a clear verifier error for each bad operand,
and a reference that combines duplicates (np.ufunc.at) and raises IndexError out of range."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.utils.exceptions import VerifyException

from irc.interpreters.reference import run_hl
from irc.ir import hl, parse_module, print_module


def _module(x: str, index: str, src: str, dim: int = 0, reduce: str = "sum", result: str | None = None) -> str:
    result = result or x
    return (
        f"func.func @f(%x: tensor<{x}>, %i: tensor<{index}>, %s: tensor<{src}>) -> tensor<{result}> {{\n"
        f'  %0 = hl.scatter %x, %i, %s {{dim = {dim} : i64, reduce = "{reduce}"}}'
        f" : (tensor<{x}>, tensor<{index}>, tensor<{src}>) -> tensor<{result}>\n"
        f"  func.return %0 : tensor<{result}>\n}}\n"
    )


def test_make_infers_x_type():
    x = hl.ConstantOp.from_array(np.zeros((5, 3), "float32"))
    i = hl.ConstantOp.from_array(np.zeros((7, 1), "int64"))
    s = hl.ConstantOp.from_array(np.zeros((7, 3), "float32"))
    op = hl.ScatterOp.make([x, i, s], dim=0)
    assert hl.fmt_type(op.result.type) == "5x3xf32"
    assert op.attr("reduce") == "sum"
    op.verify()


def test_round_trip():
    module = parse_module(_module("5x3xf32", "2x3xi32", "2x3xf32", dim=-2, reduce="amin"))
    module.verify()
    assert 'hl.scatter %x, %i, %s {dim = -2 : i64, reduce = "amin"}' in print_module(module)


@pytest.mark.parametrize(
    "x, index, src, dim, reduce, message",
    [
        ("5x3xf32", "2x3xi64", "2x3xf32", 0, "mean", "hl.scatter: unknown reduce 'mean'"),
        ("5x3xf32", "2x3xf32", "2x3xf32", 0, "sum", "hl.scatter: index must be an i32 or i64 tensor"),
        ("5x3xf32", "6xi64", "6x3xf32", 0, "sum", "hl.scatter: x, index and src must have one rank"),
        ("f32", "i64", "f32", 0, "sum", "hl.scatter: x, index and src must have one rank, at least 1"),
        ("5x3xf32", "2x3xi64", "2x3xf64", 0, "sum", "hl.scatter: src must have x's dtype"),
        ("5x3xi1", "2x3xi64", "2x3xi1", 0, "amax", "hl.scatter: x must be a number tensor, not i1"),
        ("5x3xf32", "2x2xi64", "2x2xf32", 0, "sum", "hl.scatter: src sizes outside dim 0 must be x's"),
        ("5x3xf32", "1x3xi64", "2x3xf32", 0, "sum", "hl.scatter: index sizes must be src's or 1"),
        ("5x3xf32", "2x3xi64", "2x3xf32", 2, "sum", "hl.scatter: dim 2 out of range for rank 2"),
    ],
)
def test_invalid(x, index, src, dim, reduce, message):
    module = parse_module(_module(x, index, src, dim, reduce))
    with pytest.raises(VerifyException, match=message):
        module.verify()


def test_wrong_result_type():
    with pytest.raises(VerifyException, match="does not match the inferred 5x3xf32"):
        parse_module(_module("5x3xf32", "2x3xi64", "2x3xf32", result="5x3xf64")).verify()


@pytest.mark.parametrize(
    "reduce, ufunc", [("sum", np.add), ("prod", np.multiply), ("amax", np.maximum), ("amin", np.minimum)]
)
def test_reference_combines_duplicates_and_raises_out_of_range(reduce, ufunc):
    module = parse_module(_module("3x2xf32", "4x1xi64", "4x2xf32", reduce=reduce))
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    src = np.array([[9, -1], [4, 2], [-3, 7], [5, 0]], np.float32)
    (out,) = run_hl(module, [x, np.array([[2], [0], [2], [2]]), src])
    expected = x.copy()
    for j, row in enumerate([2, 0, 2, 2]):
        expected[row] = ufunc(expected[row], src[j])
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(IndexError, match="hl.scatter: index 3 is out of bounds for dim 0 with size 3"):
        run_hl(module, [x, np.array([[0], [3], [0], [0]]), src])
