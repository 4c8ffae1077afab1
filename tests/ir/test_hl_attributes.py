"""hl attributes are typed: they round-trip in the attr-dict, and the verifier rejects unknown names and
wrong kinds with a message naming the op and the attribute (MLIR's invalid.mlir, as pytest cases)."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, i64
from xdsl.utils.exceptions import VerifyException

from irc.ir import hl, parse_module, print_module


def _module(line: str, result: str = "tensor<4xf32>") -> str:
    return f"func.func @f(%x: tensor<4x3xf32>) -> {result} {{\n  %0 = {line}\n  func.return %0 : {result}\n}}\n"


ROUND_TRIP = [
    "hl.sum %x {dims = array<i64: 1>, keepdim = false} : (tensor<4x3xf32>) -> tensor<4xf32>",
    "hl.sum %x {dims = array<i64: 1>} : (tensor<4x3xf32>) -> tensor<4xf32>",
    "hl.argmax %x {dim = 1 : i64, keepdim = false} : (tensor<4x3xf32>) -> tensor<4xi64>",
    'hl.compare %x, %x {predicate = "lt"} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xi1>',
    "hl.full {value = 2.500000e+00 : f64} : tensor<4xf32>",
]


@pytest.mark.parametrize("line", ROUND_TRIP)
def test_attributes_round_trip(line):
    result = line.rsplit("-> ", 1)[1] if "->" in line else line.rsplit(": ", 1)[1]
    text = _module(line, result)
    module = parse_module(text)
    module.verify()
    assert line in print_module(module)


INVALID = [
    (
        "hl.neg %x {perm = 3} : (tensor<4x3xf32>) -> tensor<4x3xf32>",
        r"hl.neg: unknown attribute 'perm' \(known: none\)",
    ),
    (
        "hl.sum %x {dims = array<i64: 1>, whatever = 4.0} : (tensor<4x3xf32>) -> tensor<4xf32>",
        r"hl.sum: unknown attribute 'whatever' \(known: dims, keepdim\)",
    ),
    (
        "hl.sum %x {dims = 3} : (tensor<4x3xf32>) -> tensor<4xf32>",
        r"hl.sum: attribute 'dims' must be an i64 array \(array<i64: ...>\), got 3 : i64",
    ),
    (
        "hl.sum %x {dims = array<i32: 1>} : (tensor<4x3xf32>) -> tensor<4xf32>",
        "hl.sum: attribute 'dims' must be an i64 array",
    ),
    (
        "hl.sum %x {dims = array<i64: 1>, keepdim = 1} : (tensor<4x3xf32>) -> tensor<4xf32>",
        r"hl.sum: attribute 'keepdim' must be a bool \(true or false\), got 1 : i64",
    ),
    ("hl.sum %x : (tensor<4x3xf32>) -> tensor<4xf32>", "hl.sum: missing attribute 'dims'"),
    (
        "hl.compare %x, %x {predicate = 1} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xi1>",
        "hl.compare: attribute 'predicate' must be a string",
    ),
    ('hl.full {value = "one"} : tensor<4xf32>', "hl.full: attribute 'value' must be a number"),
    ("hl.full : tensor<4xf32>", "hl.full: missing attribute 'value'"),
    ("hl.constant {value = 3} : tensor<4xf32>", "hl.constant: attribute 'value' must be a dense tensor, got 3 : i64"),
    (
        "hl.argmax %x {dim = 1.0} : (tensor<4x3xf32>) -> tensor<4xi64>",
        r"hl.argmax: attribute 'dim' must be an i64 integer, got 1.000000e\+00 : f64",
    ),
]


@pytest.mark.parametrize("line, message", INVALID, ids=[m.split(":")[0] + " " + m.split("'")[1] for _, m in INVALID])
def test_invalid_attributes_are_named(line, message):
    result = line.rsplit("-> ", 1)[1] if "->" in line else line.rsplit(": ", 1)[1]
    module = parse_module(_module(line, result))
    with pytest.raises(VerifyException, match=message):
        module.verify()


def test_python_values_in_and_out():
    x = hl.ConstantOp.from_array(np.zeros((4, 3), "float32"))
    op = hl.SumOp.make([x], dims=(1,))
    assert op.attributes["dims"] == DenseArrayBase.from_list(i64, [1])
    assert "keepdim" not in op.attributes  # an absent optional attribute reads its default
    assert op.attr("dims") == (1,) and op.attr("keepdim") is False
    conv = hl.MaxPool2dOp.ATTRIBUTES["kernel"].kind.build(2)  # a pair given as one int
    assert conv == DenseArrayBase.from_list(i64, [2, 2])
    assert hl.ArgmaxOp.make([x], dim=1).attributes["dim"] == IntegerAttr(1, i64)


def test_make_refuses_an_unknown_attribute():
    x = hl.ConstantOp.from_array(np.zeros((4, 3), "float32"))
    with pytest.raises(TypeError, match=r"hl.sum takes no attribute 'perm' \(known: dims, keepdim\)"):
        hl.SumOp.make([x], dims=(1,), perm=(0,))
