"""f16 and bf16 in hl: they parse, print and verify; the reference computes each op in f32 and rounds once
(as PyTorch's CPU kernels: the oracle here); every stage down to the compiled llvm code agrees bit for bit."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import torch

from irc.compiler.pipeline import Pipeline
from irc.interpreters.reference import run_hl
from irc.ir import hl, parse_module, print_module

BF16 = np.dtype(ml_dtypes.bfloat16)

PROGRAM = """
func.func @f(%x: tensor<3x4xf16>, %w: tensor<4x2xf16>, %b: tensor<3x4xbf16>, %d: tensor<3x4xf64>) -> (tensor<3x2xf16>, tensor<3xbf16>, tensor<3x4xf16>, tensor<3x4xbf16>, tensor<3x4xf16>) {
  %c = hl.constant {value = dense<[0.1, -2.5, 3.0e+04, 7.0]> : tensor<4xf16>} : tensor<4xf16>
  %0 = hl.add %x, %c : (tensor<3x4xf16>, tensor<4xf16>) -> tensor<3x4xf16>
  %1 = hl.exp %0 : (tensor<3x4xf16>) -> tensor<3x4xf16>
  %2 = hl.matmul %x, %w : (tensor<3x4xf16>, tensor<4x2xf16>) -> tensor<3x2xf16>
  %3 = hl.mul %b, %b : (tensor<3x4xbf16>, tensor<3x4xbf16>) -> tensor<3x4xbf16>
  %4 = hl.sum %3 {dims = array<i64: 1>, keepdim = false} : (tensor<3x4xbf16>) -> tensor<3xbf16>
  %5 = hl.softmax %b {dim = 1 : i64} : (tensor<3x4xbf16>) -> tensor<3x4xbf16>
  %6 = hl.cast %d : (tensor<3x4xf64>) -> tensor<3x4xf16>
  %7 = hl.mul %1, %0 : (tensor<3x4xf16>, tensor<3x4xf16>) -> tensor<3x4xf16>
  %8 = hl.add %7, %6 : (tensor<3x4xf16>, tensor<3x4xf16>) -> tensor<3x4xf16>
  func.return %2, %4, %8, %5, %1 : tensor<3x2xf16>, tensor<3xbf16>, tensor<3x4xf16>, tensor<3x4xbf16>, tensor<3x4xf16>
}
"""


def _inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float16)
    w = rng.standard_normal((4, 2)).astype(np.float16)
    b = (rng.standard_normal((3, 4)) * 3).astype(BF16)
    d = rng.standard_normal((3, 4)) * 1000
    return [x, w, b, d]


def _torch(x, w, b, d):
    """The program in PyTorch (CPU): the oracle."""
    x, w, d = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(d)
    b = torch.from_numpy(b.astype(np.float32)).bfloat16()
    c = torch.tensor([0.1, -2.5, 3.0e04, 7.0]).half()
    e = (x + c).exp()
    out = [x @ w, (b * b).sum(1), e * (x + c) + d.half(), b.softmax(1), e]
    return [o.float().numpy() for o in out]


def _same(got, expected):
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(np.asarray(g).astype(np.float32), e)


def test_round_trip_and_types():
    module = parse_module(PROGRAM)
    module.verify()
    text = print_module(module)
    assert "tensor<3x4xbf16>" in text and "dense<[9.997560e-02, -2.500000e+00" in text
    assert print_module(parse_module(text)) == text
    assert hl.numpy_dtype(hl.DTYPES["bf16"]) == BF16 and hl.element_type_of(np.float16) == hl.DTYPES["f16"]


def test_reference_matches_torch():
    got = run_hl(parse_module(PROGRAM), _inputs())
    assert [g.dtype for g in got] == [np.float16, BF16, np.float16, BF16, np.float16]
    _same(got, _torch(*_inputs()))


def test_every_stage_and_llvm_agree_with_the_reference():
    """hl-decompose computes 16-bit ops in f32 between casts; the loops interpreter and llvm code agree."""
    inputs = _inputs()
    expected = _torch(*inputs)
    lowering = Pipeline(target="llvm").run(parse_module(PROGRAM))
    opt = lowering.stages["hl-opt"]
    assert "hl.exp %" in opt and "(tensor<3x4xf32>) -> tensor<3x4xf32>" in opt
    assert "hl.softmax" not in opt and "-> tensor<3x4xbf16>" in opt
    assert "arith.extf" in lowering.stages["loops"] and "arith.truncf" in lowering.stages["loops"]
    for stage in ("hl-opt", "linalg", "buffers", "loops"):
        _same(lowering.execute(stage, *inputs), expected)
    _same(lowering(*inputs), expected)


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_conversions_round_like_torch(dtype):
    """f32 -> 16 bits rounds to nearest even, inf and nan survive; f64 goes through f32 (as torch)."""
    np_dtype = hl.NUMPY_DTYPES[dtype]
    special = [np.inf, -np.inf, np.nan, 0.0, -0.0, 65504.0, 65520.0, 1e-8, 3.0e38, 1.00390625, 1.01171875]
    values = np.concatenate([special, np.random.default_rng(1).standard_normal(200) * 100]).astype(np.float32)
    t = f"tensor<{values.size}x{dtype}>"
    text = f"""
func.func @f(%x: tensor<{values.size}xf32>) -> ({t}, tensor<{values.size}xi32>) {{
  %0 = hl.cast %x : (tensor<{values.size}xf32>) -> {t}
  %1 = hl.cast %0 : ({t}) -> tensor<{values.size}xi32>
  func.return %0, %1 : {t}, tensor<{values.size}xi32>
}}"""
    expected = torch.from_numpy(values).to({"f16": torch.float16, "bf16": torch.bfloat16}[dtype])
    lowering = Pipeline(target="llvm").run(parse_module(text))
    finite = np.isfinite(expected.float().numpy())
    for got, ints in [run_hl(parse_module(text), [values]), lowering(values)]:
        assert got.dtype == np_dtype
        np.testing.assert_array_equal(got.astype(np.float32), expected.float().numpy())
        np.testing.assert_array_equal(ints[finite], expected.int().numpy()[finite])


def test_a_fill_rounds_through_f32_in_every_tier():
    """1 + 2**-11 + 2**-40 rounds to f16 1.001 directly, but through f32 (a tie) to 1.0, as torch's fill does."""
    value = 1 + 2**-11 + 2**-40
    text = f"""
func.func @f() -> tensor<2xf16> {{
  %0 = hl.full {{value = {value!r} : f64}} : tensor<2xf16>
  func.return %0 : tensor<2xf16>
}}"""
    expected = torch.full((2,), value, dtype=torch.float16).numpy()
    assert expected[0] != np.float16(value)  # the case where rounding twice differs
    (got,) = run_hl(parse_module(text), [])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(Pipeline(target="llvm").run(parse_module(text))()[0], expected)
