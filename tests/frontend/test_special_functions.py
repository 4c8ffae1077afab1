"""torch's special functions in irc: lgamma / gammaln, digamma / psi, polygamma, mvlgamma / multigammaln, erfinv,
ndtri, i0, i0e, i1, i1e (hl ops lgamma, polygamma, erfinv, ndtri, i0e, i1e: irc/ir/special_functions.py).

Values over wide ranges (negative non-integers, tiny and huge x), the poles and the domain's edges, float32
and float64, gradients: against torch 2.13 on both eager tiers and under `irc.jit(target="llvm")`, and
against mpmath (50 digits) where torch's own kernel is the less accurate one (trigamma, torch's
`sin(pi x)` far from 0). The compiled bodies must stay small trees (TVM's simplifier inlines every let).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from xdsl.dialects.linalg import ops as linalg

import irc
from irc.conversions.hl_to_linalg import ConvertHLToLinalgPass
from irc.ir import hl
from irc.ir.context import make_context, parse_module
from irc.testing import gradcheck
from irc.transforms.decompose import HLDecomposePass

torch = pytest.importorskip("torch")
mpmath = pytest.importorskip("mpmath")

TIERS = ["interpret", "compile", "jit"]
DTYPES = [np.float32, np.float64]
#: float32: the compiled code computes in float32 (torch's CPU kernels too); float64 to ~1e-12, as the brief
#: of torch's own double kernels (away from a function's zeros, where the terms it sums cancel: atol)
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}

#: the gamma family's inputs: negative non-integers, around the zeros of lgamma at 1 and 2 and of
#: digamma at 1.4616..., tiny and huge
GAMMA_X = np.concatenate(
    [
        np.linspace(-30.3, 40.7, 351),
        np.geomspace(1e-30, 1e30, 31),
        0.123 - np.geomspace(1e-3, 1e5, 21),
        [1 - 1e-7, 1 + 1e-7, 2 - 1e-7, 2 + 1e-7, 1.4616321449683622, 0.5, 2.5, 9.999, 10.0, 10.001, 1e-6, 3e-5],
    ]
)
POSITIVE_X = GAMMA_X[GAMMA_X > 0]
UNIT = np.concatenate([np.linspace(-0.999, 0.999, 201), [1e-30, -1e-20, 1 - 1e-6, -1 + 1e-6, 0.5, -0.7, 0.7]])
PROBABILITY = np.concatenate(
    [np.linspace(0.001, 0.999, 201), np.geomspace(1e-30, 0.1, 30), 1 - np.geomspace(1e-6, 0.1, 10)]
)
BESSEL_X = np.concatenate([np.linspace(-80, 80, 321), [0.0, -1e-20, 8.0, -8.0, 7.999, 8.001, 600.0, -700.0]])


def _ours(name: str):
    """irc's spelling of each function, as a function of one tensor."""
    return {
        "lgamma": lambda x: x.lgamma(),
        "gammaln": lambda x: irc.special.gammaln(x),
        "digamma": lambda x: x.digamma(),
        "psi": lambda x: irc.special.psi(x),
        "polygamma1": lambda x: irc.polygamma(1, x),
        "polygamma2": lambda x: irc.polygamma(2, x),
        "polygamma3": lambda x: x.polygamma(3),
        "mvlgamma1": lambda x: x.mvlgamma(1),
        "mvlgamma4": lambda x: irc.mvlgamma(x, 4),
        "multigammaln": lambda x: irc.special.multigammaln(x, 2),
        "erfinv": lambda x: irc.erfinv(x),
        "ndtri": lambda x: irc.special.ndtri(x),
        "i0": lambda x: irc.i0(x),
        "i0e": lambda x: irc.special.i0e(x),
        "i1": lambda x: irc.special.i1(x),
        "i1e": lambda x: irc.special.i1e(x),
    }[name]


def _torch(name: str):
    return {
        "lgamma": torch.lgamma,
        "gammaln": torch.special.gammaln,
        "digamma": torch.digamma,
        "psi": torch.special.psi,
        "polygamma1": lambda x: torch.polygamma(1, x),
        "polygamma2": lambda x: torch.polygamma(2, x),
        "polygamma3": lambda x: torch.polygamma(3, x),
        "mvlgamma1": lambda x: torch.mvlgamma(x, 1),
        "mvlgamma4": lambda x: torch.mvlgamma(x, 4),
        "multigammaln": lambda x: torch.special.multigammaln(x, 2),
        "erfinv": torch.erfinv,
        "ndtri": torch.special.ndtri,
        "i0": torch.i0,
        "i0e": torch.special.i0e,
        "i1": torch.special.i1,
        "i1e": torch.special.i1e,
    }[name]


#: name -> inputs compared with torch. torch's trigamma (polygamma1) takes sin(pi x) of the unreduced x,
#: which loses digits away from 0 (in float32 already at x = -30): it is compared with torch for x > 0 and
#: with mpmath everywhere (test_polygamma_matches_mpmath)
VALUE_CASES = {
    "lgamma": GAMMA_X,
    "gammaln": GAMMA_X,
    "digamma": GAMMA_X,
    "psi": GAMMA_X,
    "polygamma1": POSITIVE_X,
    "polygamma2": GAMMA_X,
    "polygamma3": GAMMA_X,
    "mvlgamma1": GAMMA_X,
    "mvlgamma4": GAMMA_X + 2,
    "multigammaln": GAMMA_X,
    "erfinv": UNIT,
    "ndtri": PROBABILITY,
    "i0": BESSEL_X,
    "i0e": BESSEL_X,
    "i1": BESSEL_X,
    "i1e": BESSEL_X,
}


def run(fn, x: np.ndarray, tier: str) -> np.ndarray:
    """fn(irc.tensor(x)) on an eager tier, or compiled by irc.jit for llvm."""
    if tier == "jit":
        return irc.jit(fn, target="llvm")(irc.tensor(x)).numpy()
    with irc.set_eager_mode(tier):
        return fn(irc.tensor(x)).numpy()


def assert_close(got: np.ndarray, want: np.ndarray, dtype, scale: float = 1.0, **tol) -> None:
    """Equal nan and inf positions, finite values within TOL (times `scale`) of dtype."""
    tol = tol or {k: v * scale for k, v in TOL[dtype].items()}
    assert got.dtype == want.dtype == dtype
    np.testing.assert_allclose(got, want, equal_nan=True, **tol)


#: torch's float64 trigamma is within ~5e-10 (its asymptotic series stops at x^-7): its TOL scale
TORCH_TRIGAMMA = 1e4


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", VALUE_CASES)
def test_values_match_torch(name, dtype, tier):
    x = VALUE_CASES[name].astype(dtype)
    want = _torch(name)(torch.tensor(x)).numpy()
    scale = TORCH_TRIGAMMA if name == "polygamma1" and dtype == np.float64 else 1.0
    assert_close(run(_ours(name), x, tier), want, dtype, scale)


def _mp(fn, x: np.ndarray, digits: int = 50) -> np.ndarray:
    with mpmath.workdps(digits):
        return np.array([float(fn(mpmath.mpf(float(v)))) for v in x])


#: far from 0 and near the negative integers, where torch's trigamma loses digits
NEGATIVE_X = np.concatenate(
    [-np.geomspace(1e-3, 1e6, 40) + 0.377, -3 + np.geomspace(1e-9, 1e-3, 5), [-9.000000000000002]]
)


def _polygamma_truth(n: int, v):
    """mpmath's polygamma; below 0 by the reflection psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi (d/dx)^n cot(pi x)
    (mpmath's own sum takes seconds at x = -1e6)."""
    if v >= 0:
        return mpmath.polygamma(n, v)
    return (-1) ** n * mpmath.polygamma(n, 1 - v) - mpmath.pi * mpmath.diff(lambda s: mpmath.cot(mpmath.pi * s), v, n)


@pytest.mark.parametrize("tier", ["interpret", "compile"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 6])
def test_polygamma_matches_mpmath(n, dtype, tier):
    x = np.concatenate([POSITIVE_X[::3], NEGATIVE_X, np.linspace(-10.05, -0.05, 21)]).astype(dtype)
    x = x[x != np.floor(x)]  # -3 + 1e-9 is -3 in float32
    with np.errstate(over="ignore"):  # beyond float32's range: inf, as the compiled code gives
        want = _mp(lambda v: _polygamma_truth(n, v), x).astype(dtype)
    # the zeros of digamma (and of the even orders) below 0: the terms of the reflection cancel
    scale = {0: 2.0, 1: 1.0, 2: 1.0, 3: 1.0, 6: 4.0}[n]
    assert_close(run(lambda t: t.polygamma(n), x, tier), want, dtype, scale)


@pytest.mark.parametrize("tier", ["interpret", "compile"])
def test_float64_accuracy_against_mpmath(tier):
    """Relative accuracy to a few ulps (1e-14) in float64, also at lgamma's zeros 1 and 2, where log |gamma|
    is computed from its series around 2 (a Lanczos sum would leave only an absolute error there), and
    near erfinv's poles, where Newton's method on erf (torch's portable kernel) cannot resolve x."""
    near = np.array([1 - 1e-12, 1 + 1e-12, 2 - 1e-12, 2 + 1e-12, 1 - 1e-7, 2 + 1e-7, 0.25, 3.75, 1e-300, 7e7])
    cases = [
        (lambda t: t.lgamma(), near, lambda v: mpmath.log(abs(mpmath.gamma(v)))),
        (lambda t: t.erfinv(), np.array([1 - 2**-52, -1 + 1e-15, 0.9999, 1e-300, -0.3]), mpmath.erfinv),
        (lambda t: irc.special.ndtri(t), np.array([1e-300, 1e-20, 0.02, 0.5 + 1e-9, 1 - 1e-15]),
         lambda v: mpmath.sqrt(2) * mpmath.erfinv(2 * v - 1)),
        (lambda t: irc.special.i0e(t), np.array([1e-8, 3.0, 8.0, 8.5, 50.0, 1e6]),
         lambda v: mpmath.besseli(0, v) * mpmath.exp(-abs(v))),
        (lambda t: irc.special.i1e(t), np.array([1e-8, -3.0, 8.0, 8.5, 50.0, 1e6]),
         lambda v: mpmath.besseli(1, v) * mpmath.exp(-abs(v))),
    ]  # fmt: skip
    for fn, x, truth in cases:
        want = _mp(truth, x, digits=400)  # ndtri(1e-300) is erfinv(-1 + 2e-300)
        np.testing.assert_allclose(run(fn, x, tier), want, rtol=1e-14, atol=0)


EDGES = np.array([0.0, -0.0, -1.0, -5.0, -math.inf, math.inf, math.nan])
#: name -> (inputs, the values where irc differs from torch on purpose)
EDGE_CASES = {
    "lgamma": (EDGES, {}),
    "digamma": (EDGES, {}),
    # torch's trigamma is finite at -1, -5 (its sin(pi x) is not 0 there): irc gives the pole's inf
    "polygamma1": (EDGES, {2: math.inf, 3: math.inf}),
    # torch's polygamma(n >= 2, inf) is nan (0 * inf in its zeta): irc gives the limit, -0.0 or 0.0
    "polygamma2": (EDGES, {5: -0.0}),
    "polygamma3": (EDGES, {5: 0.0}),
    "i0": (EDGES, {}),
    "i0e": (EDGES, {}),
    "i1": (EDGES, {}),
    "i1e": (EDGES, {}),
    "erfinv": (np.array([1.0, -1.0, 1.5, -1.01, 0.0, -0.0, math.nan]), {}),
    "ndtri": (np.array([0.0, 1.0, -0.1, 1.1, 0.5, math.nan]), {}),
}


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", EDGE_CASES)
def test_poles_and_domain_edges(name, dtype, tier):
    """inf at the poles (with its sign), nan outside the domain and -0.0 kept, as torch's."""
    x, differs = EDGE_CASES[name]
    x = x.astype(dtype)
    want = _torch(name)(torch.tensor(x)).numpy()
    for i, value in differs.items():
        assert want[i] != value
        want[i] = value
    got = run(_ours(name), x, tier)
    assert_close(got, want, dtype, rtol=2e-7, atol=0)
    signed = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(want[signed]))


#: name -> (inputs, irc, torch) for gradients: away from the poles
GRAD_CASES = {
    "lgamma": np.array([-2.5, -0.3, 1e-3, 0.2, 1.0, 1.7, 3.3, 12.0, 1e4]),
    "digamma": np.array([-2.5, -0.3, 1e-3, 0.2, 1.0, 1.7, 3.3, 12.0, 1e4]),
    "polygamma2": np.array([-2.5, -0.3, 0.2, 1.0, 1.7, 3.3, 12.0]),
    "mvlgamma4": np.array([1.6, 2.0, 3.3, 12.0]),
    "erfinv": np.array([-0.99, -0.3, 0.0, 0.2, 0.7, 0.999]),
    "ndtri": np.array([1e-10, 0.01, 0.3, 0.5, 0.9, 0.999]),
    "i0": np.array([-10.0, -3.0, -1e-20, 0.0, 0.5, 2.0, 9.0]),
    "i0e": np.array([-10.0, -3.0, -1e-20, 0.0, 0.5, 2.0, 9.0]),
    "i1": np.array([-10.0, -3.0, -1e-20, 0.0, 0.5, 2.0, 9.0]),
    "i1e": np.array([-10.0, -3.0, -1e-20, 0.0, 0.5, 2.0, 9.0]),
}


def _weighted(fn, n: int):
    """sum(w_i * fn(x)_i), weights 1..n, so that each element's gradient counts."""
    return lambda x: (fn(x) * irc.arange(1, n + 1, dtype=x.dtype)).sum()


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", GRAD_CASES)
def test_gradients_match_torch(name, dtype, tier):
    x = GRAD_CASES[name].astype(dtype)
    t = torch.tensor(x, requires_grad=True)
    (_torch(name)(t) * torch.arange(1, x.size + 1, dtype=t.dtype)).sum().backward()
    loss = _weighted(_ours(name), x.size)
    if tier == "jit":
        got = irc.jit(irc.grad(loss), target="llvm")(irc.tensor(x)).numpy()
    else:
        with irc.set_eager_mode(tier):
            leaf = irc.tensor(x, requires_grad=True)
            loss(leaf).backward()
            got = leaf.grad.numpy()
    scale = TORCH_TRIGAMMA if name == "digamma" and dtype == np.float64 else 1.0
    assert_close(got, t.grad.numpy(), dtype, scale)


def test_second_derivatives_match_torch():
    x = np.array([-2.5, 0.3, 1.7, 6.0])
    t = torch.tensor(x, requires_grad=True)
    for torch_fn, fn in [(torch.lgamma, lambda v: v.lgamma()), (torch.special.i1e, irc.special.i1e)]:
        (first,) = torch.autograd.grad(torch_fn(t).sum(), t, create_graph=True)
        (second,) = torch.autograd.grad(first.sum(), t)
        d2 = irc.grad(lambda v, fn=fn: irc.grad(lambda w: fn(w).sum())(v).sum())
        np.testing.assert_allclose(d2(irc.tensor(x)).numpy(), second.numpy(), rtol=1e-8)


@pytest.mark.parametrize(
    "fn, x",
    [
        (lambda t: t.lgamma(), [-2.5, 0.3, 1.7, 6.0]),
        (lambda t: t.polygamma(0), [-2.5, 0.3, 1.7, 6.0]),
        (lambda t: t.polygamma(3), [-2.5, 0.3, 1.7, 6.0]),
        (lambda t: t.erfinv(), [-0.9, 0.1, 0.6]),
        (lambda t: irc.special.ndtri(t), [0.01, 0.4, 0.97]),
        (lambda t: irc.special.i0e(t), [-9.0, -0.5, 0.0, 2.0, 12.0]),
        (lambda t: irc.special.i1e(t), [-9.0, -0.5, 0.0, 2.0, 12.0]),
    ],
    ids=["lgamma", "digamma", "polygamma3", "erfinv", "ndtri", "i0e", "i1e"],
)
def test_vjp_rules_against_finite_differences(fn, x):
    assert gradcheck(fn, [np.array(x)])


def test_torch_spellings_and_argument_order():
    x = irc.tensor([0.5, 3.0])
    np.testing.assert_allclose(irc.polygamma(1, x).numpy(), torch.polygamma(1, torch.tensor([0.5, 3.0])).numpy())
    np.testing.assert_array_equal(irc.special.polygamma(2, x).numpy(), x.polygamma(2).numpy())
    np.testing.assert_array_equal(irc.special.psi(x).numpy(), irc.digamma(x).numpy())
    np.testing.assert_array_equal(irc.special.multigammaln(x + 1, 2).numpy(), (x + 1).mvlgamma(2).numpy())
    np.testing.assert_array_equal(irc.special.i0(x).numpy(), x.i0().numpy())
    for name, arg in [
        ("lgamma", ()),
        ("digamma", ()),
        ("polygamma", (1,)),
        ("mvlgamma", (2,)),
        ("erfinv", ()),
        ("i0", ()),
    ]:
        y = irc.tensor([1.5, 0.25]) if name != "erfinv" else irc.tensor([0.5, -0.25])
        want = getattr(y, name)(*arg).numpy()
        assert getattr(y, f"{name}_")(*arg) is y
        np.testing.assert_array_equal(y.numpy(), want)


def test_integers_become_float32_and_errors_are_torchs():
    for fn, torch_fn in [
        (lambda t: t.lgamma(), torch.lgamma),
        (lambda t: irc.polygamma(2, t), lambda t: torch.polygamma(2, t)),
        (lambda t: t.mvlgamma(2), lambda t: torch.mvlgamma(t, 2)),
        (lambda t: irc.special.i1(t), torch.special.i1),
        (lambda t: irc.special.ndtri(t), torch.special.ndtri),
    ]:
        got = fn(irc.tensor([0, 1, 3]))
        want = torch_fn(torch.tensor([0, 1, 3]))
        assert got.dtype == irc.float32 and want.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    x = irc.tensor([1.0])
    with pytest.raises(irc.FrontendError, match="polygamma\\(n, x\\) does not support negative n"):
        irc.polygamma(-1, x)
    with pytest.raises(TypeError, match="argument 'n' .* must be int, not float"):
        x.polygamma(1.0)
    with pytest.raises(irc.FrontendError, match="p has to be greater than or equal to 1"):
        x.mvlgamma(0)
    with pytest.raises(hl.ShapeError, match="polygamma: needs n >= 0, got -2"):
        hl.PolygammaOp.infer([hl.tensor_type((2,), hl.DTYPES["f32"])], {"n": -2})


@pytest.mark.parametrize("tier", ["interpret", "compile"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16bit_floats_compute_in_float32(dtype, tier):
    """Rounded once, as torch's: i0(12) is 18944 in float16, while exp(12) alone is beyond its range. (torch's
    i0e of a 16-bit float computes in that type, a unit of its last place off: irc's is float32's, rounded.)"""
    x = np.array([-12.0, -2.5, 0.0, 0.3, 3.0, 11.5])
    with irc.set_eager_mode(tier):
        for name in ("lgamma", "digamma", "i0", "i1", "i0e"):
            got = _ours(name)(irc.tensor(x, dtype=getattr(irc, dtype)))
            want = _torch(name)(torch.tensor(x, dtype=getattr(torch, dtype)))
            if name == "i0e":
                want = _torch(name)(torch.tensor(x, dtype=getattr(torch, dtype)).float()).to(want.dtype)
            assert str(got.dtype) == dtype
            np.testing.assert_array_equal(got.float().numpy(), want.float().numpy(), err_msg=name)


def test_jit_records_the_hl_ops():
    stages = irc.jit(lambda t: (t.lgamma(), t.digamma(), irc.special.i1(t)), target="llvm").lower(irc.tensor([1.5]))
    hl_text = stages.stages["hl"]
    assert "hl.lgamma" in hl_text and "hl.polygamma" in hl_text and "hl.i1e" in hl_text


def _function(dtype: str, op: str, attrs: str = "") -> str:
    return (
        f"func.func @f(%a: tensor<8x{dtype}>) -> tensor<8x{dtype}> {{\n"
        f"  %r = {op} %a {attrs} : (tensor<8x{dtype}>) -> tensor<8x{dtype}>\n"
        f"  func.return %r : tensor<8x{dtype}>\n}}"
    )


def _tree_size(block) -> int:
    """The size of the body's result as one expression, each shared value written out at every use (what
    TVM's simplifier makes of it, as it substitutes the lets back)."""
    sizes = {}
    for op in block.ops:
        if isinstance(op, linalg.YieldOp):
            return sum(sizes.get(v, 1) for v in op.operands)
        for r in op.results:
            sizes[r] = 1 + sum(sizes.get(v, 1) for v in op.operands)
    raise AssertionError("no linalg.yield")


@pytest.mark.parametrize("op", ["hl.lgamma", "hl.polygamma", "hl.polygamma {n = 1}", "hl.polygamma {n = 7}",
                                "hl.erfinv", "hl.ndtri", "hl.i0e", "hl.i1e"])  # fmt: skip
def test_compiled_bodies_stay_small_trees(op):
    """Chebyshev's recurrence or a loop-carried select grows the tree exponentially: a digamma written so
    hung TVM's build for minutes. These bodies take well under a second to build."""
    name, _, attrs = op.partition(" ")
    module = parse_module(_function("f64", name, attrs))
    HLDecomposePass().apply(make_context(), module)
    ConvertHLToLinalgPass().apply(make_context(), module)
    (generic,) = [o for o in module.walk() if isinstance(o, linalg.GenericOp)]
    assert _tree_size(generic.body.block) < 6000
