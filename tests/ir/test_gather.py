"""hl.gather: built with Python values, round-trips, a clear verifier error for each bad operand,
and a reference that raises IndexError (as torch does) for an index out of range."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.utils.exceptions import VerifyException

from irc.interpreters.reference import run_hl
from irc.ir import hl, parse_module, print_module


def _module(x: str, index: str, result: str, dim: int = 0) -> str:
    return (
        f"func.func @f(%x: tensor<{x}>, %i: tensor<{index}>) -> tensor<{result}> {{\n"
        f"  %0 = hl.gather %x, %i {{dim = {dim} : i64}} : (tensor<{x}>, tensor<{index}>) -> tensor<{result}>\n"
        f"  func.return %0 : tensor<{result}>\n}}\n"
    )


def test_make_infers_the_index_shape_and_the_source_dtype():
    x = hl.ConstantOp.from_array(np.zeros((5, 3), "float32"))
    i = hl.ConstantOp.from_array(np.zeros((7, 3), "int64"))
    op = hl.GatherOp.make([x, i], dim=0)
    assert hl.fmt_type(op.result.type) == "7x3xf32"
    op.verify()


def test_a_size_1_index_dim_broadcasts():
    module = parse_module(_module("3x2xf32", "4x1xi32", "4x2xf32"))
    module.verify()
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    (out,) = run_hl(module, [x, np.array([[2], [0], [0], [1]], np.int32)])
    np.testing.assert_array_equal(out, x[[2, 0, 0, 1]])


def test_round_trip():
    text = _module("5x3xf32", "2x3xi32", "2x3xf32", dim=-2)
    module = parse_module(text)
    module.verify()
    assert "hl.gather %x, %i {dim = -2 : i64}" in print_module(module)


@pytest.mark.parametrize(
    "x, index, result, dim, message",
    [
        ("5x3xf32", "2x3xf32", "2x3xf32", 0, "hl.gather: index must be an i32 or i64 tensor"),
        ("5x3xf32", "6xi64", "6xf32", 0, "hl.gather: index has rank 1, x has rank 2"),
        ("5x3xf32", "2x2xi64", "2x2xf32", 0, "hl.gather: index sizes outside dim 0 must be x's or 1"),
        ("5x3xf32", "2x1xi64", "2x1xf32", 0, "does not match the inferred 2x3xf32"),
        ("5x3xf32", "2x3xi64", "2x3xf32", 2, "hl.gather: dim 2 out of range for rank 2"),
        ("5x3xf32", "2x3xi64", "2x3xf64", 0, "does not match the inferred 2x3xf32"),
    ],
)
def test_invalid(x, index, result, dim, message):
    module = parse_module(_module(x, index, result, dim))
    with pytest.raises(VerifyException, match=message):
        module.verify()


def test_reference_is_take_along_axis_and_raises_out_of_range():
    module = parse_module(_module("3x2xf32", "4x2xi64", "4x2xf32"))
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    (out,) = run_hl(module, [x, np.array([[2, 0], [1, 1], [0, 2], [2, 2]])])
    np.testing.assert_array_equal(out, np.take_along_axis(x, np.array([[2, 0], [1, 1], [0, 2], [2, 2]]), 0))
    with pytest.raises(IndexError, match="hl.gather: index 3 is out of bounds for dim 0 with size 3"):
        run_hl(module, [x, np.array([[0, 3], [0, 0], [0, 0], [0, 0]])])
