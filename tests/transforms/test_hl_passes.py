"""hl-level passes: decompose, canonicalize, CSE, DCE. Oracle: the hl numpy reference
(`run_hl`) of the module before the pass against the module after it."""

from __future__ import annotations

import numpy as np
import pytest

from irc.interpreters.reference import run_hl
from irc.ir import parse_module, print_module, rules
from irc.ir.context import make_context
from irc.transforms.canonicalize import HLCanonicalizePass, HLCSEPass, HLDCEPass
from irc.transforms.decompose import HLDecomposePass
from tests.helpers import random_inputs


def check_pass(pass_, text: str, scale: float = 1.0):
    """Run the pass; the hl reference must give the same results before and after. Returns the new module."""
    before = parse_module(text)
    inputs = random_inputs(
        before, draw=lambda rng, shape, dt: rng.standard_normal(shape) * scale if dt.kind == "f" else None
    )
    expected = run_hl(before, inputs)
    after = parse_module(text)
    pass_.apply(make_context(), after)
    after.verify()
    parse_module(print_module(after)).verify()  # still round-trips
    for got, want in zip(run_hl(after, inputs), expected, strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    return after


def op_names(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.startswith("hl.")]


SOFTMAX = """
func.func @f(%x: tensor<3x5xf32>) -> tensor<3x5xf32> {{
  %r = hl.{op} %x {{dim = {dim}}} : (tensor<3x5xf32>) -> tensor<3x5xf32> loc("model.py":7:3)
  func.return %r : tensor<3x5xf32>
}}
"""


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [-1, 0])
def test_decompose_softmax(op, dim):
    # scale 100: without subtracting the max, exp would overflow to inf
    module = check_pass(HLDecomposePass(), SOFTMAX.format(op=op, dim=dim), scale=100.0)
    names = op_names(module)
    assert "hl.softmax" not in names and "hl.log_softmax" not in names
    assert names[:4] == ["hl.max", "hl.sub", "hl.exp", "hl.sum"]
    assert names[-1] == ("hl.div" if op == "softmax" else "hl.sub")
    assert all(o.location == names_loc(module) for o in module.walk() if o.name.startswith("hl."))


@pytest.mark.parametrize("op, expected", [("softmax", 1.0), ("log_softmax", 0.0)])
def test_decompose_softmax_of_a_0d_tensor(op, expected):
    # a 0-d tensor is a one-element row (PyTorch): softmax is exp(x - x) / exp(x - x) = 1, log_softmax 0
    module = parse_module(
        f"func.func @f(%x: tensor<f32>) -> tensor<f32> {{\n  %r = hl.{op} %x {{dim = -1}} : (tensor<f32>) -> tensor<f32>\n"
        "  func.return %r : tensor<f32>\n}\n"
    )
    HLDecomposePass().apply(make_context(), module)
    module.verify()
    assert op_names(module)[:4] == ["hl.max", "hl.sub", "hl.exp", "hl.sum"]
    for x in (np.float32(-3.5), np.float32(80.0)):
        (got,) = run_hl(module, [np.array(x)])
        assert got.shape == () and got == np.float32(expected)


def names_loc(module):
    """The location of the first hl op (all new ops share the original's)."""
    return next(o for o in module.walk() if o.name.startswith("hl.")).location


def test_decompose_keeps_the_source_location_in_text():
    module = parse_module(SOFTMAX.format(op="softmax", dim=1))
    HLDecomposePass().apply(make_context(), module)
    text = print_module(module, locations=True)
    assert text.count('loc("model.py":7:3)') == 5


#: every composite (an op with a decomposition rule) on f32 and f64, with edge values among the inputs
COMPOSITES = {
    "relu": ("", [-2.0, -0.0, 0.0, 3.0, np.nan, -np.inf]),
    "sigmoid": ("", [-1000.0, -100.0, -88.0, -1.0, 0.0, 1.0, 100.0, 1000.0]),
    "rsqrt": ("", [1e-30, 0.25, 1.0, 4.0, np.inf, 0.0]),
    "mean": (" {dims = array<i64: 0>, keepdim = false}", [1.0, 2.0, -3.5, 1e30, 1e-30, 7.0]),
    "softmax": (" {dim = 0}", [-np.inf, 0.0, 1.0, 1000.0, -1000.0, 2.0]),
    "log_softmax": (" {dim = 0}", [-np.inf, 0.0, 1.0, 1000.0, -1000.0, 2.0]),
    "argsort": (" {descending = true, k = 5 : i64}", [1.0, np.nan, -0.0, 1.0, 0.0, -np.inf, np.nan]),
}


def test_every_composite_has_a_case():
    assert {op.name.removeprefix("hl.") for op in rules.decomposition.rules} == set(COMPOSITES)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("name", COMPOSITES)
def test_a_decomposition_computes_the_reference(name, dtype):
    """The decomposition and the op's numpy reference agree, at the edges too (overflow, -inf, nan)."""
    attrs, values = COMPOSITES[name]
    n = len(values)
    out = {"mean": f"tensor<{dtype}>", "argsort": "tensor<5xi64>"}.get(name, f"tensor<{n}x{dtype}>")
    text = _module(
        f"%x: tensor<{n}x{dtype}>",
        f"  %r = hl.{name} %x{attrs} : (tensor<{n}x{dtype}>) -> {out}\n  func.return %r : {out}",
        out,
    )
    x = np.array(values, dtype=np.float32 if dtype == "f32" else np.float64)
    with np.errstate(all="ignore"):
        (want,) = run_hl(parse_module(text), [x])
        module = parse_module(text)
        HLDecomposePass().apply(make_context(), module)
        module.verify()
        assert f"hl.{name} " not in print_module(module)
        (got,) = run_hl(module, [x])
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "f32" else 1e-14, atol=0)


def _module(args: str, body: str, ret: str) -> str:
    return f"func.func @f({args}) -> {ret} {{\n{body}\n}}\n"


A = "tensor<4x3xf32>"

CANONICALIZE_CASES = {
    "reshape_chain": (
        f"%x: {A}",
        f"""  %0 = hl.reshape %x {{shape = array<i64: 12>}} : ({A}) -> tensor<12xf32>
  %1 = hl.reshape %0 {{shape = array<i64: 2, 6>}} : (tensor<12xf32>) -> tensor<2x6xf32>
  func.return %1 : tensor<2x6xf32>""",
        "tensor<2x6xf32>",
        ["hl.reshape"],
    ),
    "reshape_roundtrip": (
        f"%x: {A}",
        f"""  %0 = hl.reshape %x {{shape = array<i64: 12>}} : ({A}) -> tensor<12xf32>
  %1 = hl.reshape %0 {{shape = array<i64: 4, 3>}} : (tensor<12xf32>) -> {A}
  func.return %1 : {A}""",
        A,
        [],
    ),
    "transpose_cancels": (
        "%x: tensor<2x3x4xf32>",
        """  %0 = hl.transpose %x {perm = array<i64: 1, 2, 0>} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %1 = hl.transpose %0 {perm = array<i64: 2, 0, 1>} : (tensor<3x4x2xf32>) -> tensor<2x3x4xf32>
  func.return %1 : tensor<2x3x4xf32>""",
        "tensor<2x3x4xf32>",
        [],
    ),
    "transpose_chain": (
        "%x: tensor<2x3x4xf32>",
        """  %0 = hl.transpose %x {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  %1 = hl.transpose %0 {perm = array<i64: 2, 0, 1>} : (tensor<3x2x4xf32>) -> tensor<4x3x2xf32>
  func.return %1 : tensor<4x3x2xf32>""",
        "tensor<4x3x2xf32>",
        ["hl.transpose"],
    ),
    "transpose_of_matmul": (
        "%a: tensor<4x3xf32>, %b: tensor<3x5xf32>",
        """  %0 = hl.matmul %a, %b : (tensor<4x3xf32>, tensor<3x5xf32>) -> tensor<4x5xf32>
  %1 = hl.transpose %0 {perm = array<i64: 1, 0>} : (tensor<4x5xf32>) -> tensor<5x4xf32>
  func.return %1 : tensor<5x4xf32>""",
        "tensor<5x4xf32>",
        ["hl.transpose", "hl.transpose", "hl.matmul"],
    ),
    "weight_gradient_needs_one_transpose": (  # (x^T @ g)^T -> g^T @ x
        "%x: tensor<4x3xf32>, %g: tensor<4x5xf32>",
        """  %0 = hl.transpose %x {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %1 = hl.matmul %0, %g : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %2 = hl.transpose %1 {perm = array<i64: 1, 0>} : (tensor<3x5xf32>) -> tensor<5x3xf32>
  func.return %2 : tensor<5x3xf32>""",
        "tensor<5x3xf32>",
        ["hl.transpose", "hl.matmul"],
    ),
    "batched_transpose_of_matmul": (
        "%a: tensor<2x4x3xf32>, %b: tensor<3x5xf32>",
        """  %0 = hl.matmul %a, %b : (tensor<2x4x3xf32>, tensor<3x5xf32>) -> tensor<2x4x5xf32>
  %1 = hl.transpose %0 {perm = array<i64: 0, 2, 1>} : (tensor<2x4x5xf32>) -> tensor<2x5x4xf32>
  func.return %1 : tensor<2x5x4xf32>""",
        "tensor<2x5x4xf32>",
        ["hl.transpose", "hl.transpose", "hl.matmul"],
    ),
    "matmul_used_twice_is_kept": (
        "%a: tensor<4x3xf32>, %b: tensor<3x4xf32>",
        """  %0 = hl.matmul %a, %b : (tensor<4x3xf32>, tensor<3x4xf32>) -> tensor<4x4xf32>
  %1 = hl.transpose %0 {perm = array<i64: 1, 0>} : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %2 = hl.add %0, %1 : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  func.return %2 : tensor<4x4xf32>""",
        "tensor<4x4xf32>",
        ["hl.matmul", "hl.transpose", "hl.add"],
    ),
    "identity_ops": (
        f"%x: {A}",
        f"""  %0 = hl.broadcast_to %x {{shape = array<i64: 4, 3>}} : ({A}) -> {A}
  %1 = hl.cast %0 : ({A}) -> {A}
  %2 = hl.reshape %1 {{shape = array<i64: 4, 3>}} : ({A}) -> {A}
  func.return %2 : {A}""",
        A,
        [],
    ),
    "neutral_operands": (
        f"%x: {A}",
        f"""  %z = hl.full {{value = 0.0 : f64}} : tensor<3xf32>
  %o = hl.constant {{value = dense<1.0> : {A}}} : {A}
  %0 = hl.add %z, %x : (tensor<3xf32>, {A}) -> {A}
  %1 = hl.mul %0, %o : ({A}, {A}) -> {A}
  %2 = hl.sub %1, %z : ({A}, tensor<3xf32>) -> {A}
  %3 = hl.div %2, %o : ({A}, {A}) -> {A}
  func.return %3 : {A}""",
        A,
        [],
    ),
    "broadcasting_neutral_is_kept": (
        "%x: tensor<3xf32>",
        f"""  %z = hl.full {{value = 0.0 : f64}} : {A}
  %0 = hl.add %x, %z : (tensor<3xf32>, {A}) -> {A}
  func.return %0 : {A}""",
        A,
        ["hl.full", "hl.add"],
    ),
    "not_neutral_is_kept": (
        f"%x: {A}",
        f"""  %z = hl.full {{value = 0.0 : f64}} : {A}
  %0 = hl.sub %z, %x : ({A}, {A}) -> {A}
  %o = hl.full {{value = 2.0 : f64}} : {A}
  %1 = hl.mul %0, %o : ({A}, {A}) -> {A}
  func.return %1 : {A}""",
        A,
        ["hl.full", "hl.sub", "hl.full", "hl.mul"],
    ),
}


@pytest.mark.parametrize("name", CANONICALIZE_CASES)
def test_canonicalize(name):
    args, body, ret, remaining = CANONICALIZE_CASES[name]
    module = check_pass(HLCanonicalizePass(), _module(args, body, ret))
    assert op_names(module) == remaining


def test_cse_merges_equal_ops_and_dce_drops_dead_ones():
    text = _module(
        f"%x: {A}",
        f"""  %0 = hl.exp %x : ({A}) -> {A}
  %1 = hl.exp %x : ({A}) -> {A}
  %dead = hl.tanh %x : ({A}) -> {A}
  %2 = hl.add %0, %1 : ({A}, {A}) -> {A}
  func.return %2 : {A}""",
        A,
    )
    module = check_pass(HLCSEPass(), text)
    assert op_names(module).count("hl.exp") == 1
    module = check_pass(HLDCEPass(), text)
    assert "hl.tanh" not in op_names(module) and op_names(module).count("hl.exp") == 2


def test_cse_keeps_ops_with_different_attributes():
    text = _module(
        "%x: tensor<2x3xf32>",
        """  %0 = hl.sum %x {dims = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
  %1 = hl.sum %x {dims = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
  %2 = hl.sum %x {dims = array<i64: 0>, keepdim = true} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  %3 = hl.add %0, %1 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %4 = hl.add %2, %3 : (tensor<1x3xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  func.return %4 : tensor<1x3xf32>""",
        "tensor<1x3xf32>",
    )
    module = check_pass(HLCSEPass(), text)
    assert op_names(module).count("hl.sum") == 2
