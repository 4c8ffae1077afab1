"""The everyday elementwise math of docs/torch-api.md ("Everyday math"), against torch 2.13.

Each case is `fn(m, *inputs)` written once for both modules (`m` is `irc` or `torch`). Forward values
(nan, inf, -0.0 and halves included: the sign of a zero must match too), dtypes, and the gradients of
a weighted sum on float64 inputs are compared on the interpreting tier; one `irc.jit(target="llvm")`
program runs many of the cases at once, and a few run on the compiled eager tier and on OpenCL.
"""

import math

import numpy as np
import pytest

import irc
from irc.frontend import realize

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
#: awkward values: halves (round), +-0.0, nan, inf, tiny, large
EDGES = np.array([-2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 1e-7, -3.7, 0.3, 7.25, NAN, INF, -INF], np.float32)
UNIT = np.array([-1.0, -0.999, -0.5, -0.0, 0.0, 1e-6, 0.25, 0.9, 1.0, 1.5, NAN], np.float32)
DIVIDENDS = np.array([5.0, -5.0, 5.0, -5.0, 0.0, -0.0, 7.5, -7.5, 1.0, INF, 3.0, NAN], np.float32)
DIVISORS = np.array([3.0, 3.0, -3.0, -3.0, 2.0, 2.0, 2.0, -2.0, INF, 2.0, 0.0, 1.0], np.float32)
INTS = np.array([-7, -3, -1, 0, 1, 2, 5, 9])
INT_DIVISORS = np.array([3, -3, 2, -2, 4, 5, -4, 7])


def normal(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def away_from_integers(*shape, seed=1):
    """Values whose rounding is not at a jump (finite differences of floor must see a flat function)."""
    x = normal(*shape, seed=seed) * 3
    return np.floor(x) + 0.25 + 0.5 * (np.abs(x - np.floor(x)) > 0.5)


#: name -> (fn(m, *inputs), inputs, differentiable inputs for the gradient check or None)
CASES = {
    "floor": (lambda m, x: m.floor(x), [EDGES]),
    "ceil": (lambda m, x: x.ceil(), [EDGES]),
    "round": (lambda m, x: m.round(x), [EDGES]),
    "round_decimals": (lambda m, x: m.round(x * 10.125, decimals=2), [EDGES]),
    "round_negative_decimals": (lambda m, x: (x * 100).round(decimals=-1), [EDGES]),
    "trunc_fix": (lambda m, x: (m.trunc(x), x.fix()), [EDGES]),
    "frac": (lambda m, x: x.frac(), [EDGES]),
    "sign_sgn": (lambda m, x: (m.sign(x), x.sgn()), [EDGES]),
    "remainder": (lambda m, a, b: (m.remainder(a, b), a % b, a % 2.5, a.remainder(-2)), [DIVIDENDS, DIVISORS]),
    "fmod": (lambda m, a, b: (m.fmod(a, b), a.fmod(-2.5)), [DIVIDENDS, DIVISORS]),
    "reciprocal": (lambda m, x: x.reciprocal(), [EDGES]),
    "log1p_expm1": (lambda m, x: (m.log1p(x), x.expm1()), [EDGES]),
    "log2_log10_exp2": (lambda m, x: (m.log2(x), x.log10(), m.exp2(x)), [EDGES]),
    "tan_atan": (lambda m, x: (m.tan(x), x.atan(), m.arctan(x)), [EDGES]),
    "asin_acos_atanh": (lambda m, x: (m.asin(x), x.acos(), m.atanh(x), m.arcsin(x), x.arccos()), [UNIT]),
    "sinh_cosh_asinh": (lambda m, x: (m.sinh(x), x.cosh(), m.asinh(x), x.arcsinh()), [EDGES]),
    "acosh": (lambda m, x: (m.acosh(x + 2), x.arccosh()), [EDGES]),
    "atan2": (lambda m, a, b: (m.atan2(a, b), m.arctan2(b, a), a.atan2(b)), [EDGES, EDGES[::-1].copy()]),
    "predicates": (
        lambda m, x: (m.isnan(x), x.isinf(), m.isposinf(x), m.isneginf(x), m.isfinite(x)),
        [EDGES],
    ),
    "nan_to_num": (lambda m, x: (m.nan_to_num(x), x.nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0)), [EDGES]),
    "logical": (
        lambda m, a, b: (m.logical_not(a), m.logical_and(a, b), a.logical_or(b), m.logical_xor(a, b)),
        [EDGES, INTS.repeat(2)[:15]],
    ),
    "lerp": (
        lambda m, a, b, w: (m.lerp(a, b, 0.3), a.lerp(b, 0.75), m.lerp(a, b, w)),
        [normal(4), normal(4, seed=2), np.array([0.1, 0.6, -0.2, 1.5])],
    ),
    "addcmul_addcdiv": (
        lambda m, x, a, b: (m.addcmul(x, a, b), x.addcmul(a, b, value=-0.5), m.addcdiv(x, a, b, value=2)),
        [normal(3, 4), normal(4, seed=1), normal(3, 1, seed=2)],
    ),
    "hypot_square": (lambda m, a, b: (m.hypot(a, b), m.square(a), a.rsqrt()), [normal(5), normal(5, seed=3)]),
    "clamp_tensor": (
        lambda m, x, lo, hi: (m.clamp(x, lo, hi), x.clip(min=lo), m.clamp(x, max=hi)),
        [normal(3, 4), normal(4, seed=1) - 0.5, normal(3, 1, seed=2) + 0.5],
    ),
    "fmax_fmin": (
        lambda m, a, b: (m.fmax(a, b), a.fmin(b), m.maximum(a, b), m.minimum(a, b)),
        [EDGES, EDGES[::-1].copy()],
    ),
    "copysign": (lambda m, a, b: (m.copysign(a, b), a.copysign(-1.0)), [EDGES, EDGES[::-1].copy()]),
    "deg2rad": (lambda m, x: (m.deg2rad(x), x.rad2deg()), [EDGES]),
    # nan != anything is true (compiled code once emitted the ordered `fcmp one`, false for nan)
    "ne_nan": (lambda m, a, b: (a != b, a != 0, m.ne(a, a)), [EDGES, EDGES[::-1].copy()]),
    "more": (
        lambda m, a, b: (
            m.signbit(a),
            m.logaddexp(a, b),
            a.logaddexp2(b),
            m.heaviside(a, b),
            a.clamp_min(0.5),
            m.clamp_max(a, b),
            m.positive(a),
            m.true_divide(a, 2),
        ),
        [EDGES, EDGES[::-1].copy()],
    ),
    # integers: rounding keeps the dtype, remainders follow Python and C
    "int_rounding": (lambda m, x: (m.floor(x), x.ceil(), m.round(x), x.trunc(), x.sign()), [INTS]),
    "int_remainders": (lambda m, a, b: (m.remainder(a, b), a % 3, m.fmod(a, b), a.fmod(-4)), [INTS, INT_DIVISORS]),
    "int_to_float": (
        lambda m, x: (x.reciprocal(), x.deg2rad(), x.log1p(), m.atan2(x, x + 20), x.isnan(), x.isfinite()),
        [np.abs(INTS) + 1],
    ),
    "bool_logical": (lambda m, x: (m.logical_not(x), x.sign(), m.logical_xor(x, x)), [np.array([True, False])]),
    # an infinity is close only to itself (|x - inf| <= inf is no closeness)
    "isclose": (
        lambda m, a, b: (m.isclose(a, b), a.isclose(b, equal_nan=True), m.isclose(a, b, rtol=0, atol=0)),
        [
            np.array([1.0, -INF, 0.0, 5.0, INF, NAN, INF, -INF, 3e38, 1.0], np.float32),
            np.array([INF, INF, -INF, 5.0, INF, NAN, -INF, -INF, INF, 1.0 + 1e-6], np.float32),
        ],
    ),
    # trunc(a / b): an infinite quotient stays infinite, -0.0 where a negative quotient rounds to 0
    "div_trunc": (
        lambda m, a, b: (a.div(b, rounding_mode="trunc"), m.div(a, 0.3, rounding_mode="trunc")),
        [
            np.array([5.0, INF, -1.0, 1e38, -7.5, 0.3, -0.3, -INF, NAN, -0.0], np.float32),
            np.array([0.0, 2.0, 0.0, 1e-10, 2.0, 1.0, 1.0, 3.0, 1.0, 5.0], np.float32),
        ],
    ),
    # x * 10**d in float32, rounded back, as torch (in float16, 65504 * 10 overflows)
    "round_decimals_16bit": (
        lambda m, x: (
            x.half().round(decimals=1).float(),
            x.bfloat16().round(decimals=2).float(),
            x.half().round(decimals=-2).float(),
        ),
        [np.array([65504.0, 10000.0, 7000.5, 1.25, -2.35, 0.125, 3.14159, 12345.678, INF, NAN], np.float32)],
    ),
    "nan_to_num_16bit": (lambda m, x: (x.bfloat16().nan_to_num().float(), m.nan_to_num(x.half()).float()), [EDGES]),
    # torch computes x ** 0.5 as sqrt and x ** -0.5 as rsqrt: -0.0 ** 0.5 is -0.0, -inf ** 0.5 nan
    "pow_halves": (lambda m, x: (x**0.5, x.pow(-0.5), m.pow(x, 0.5)), [EDGES]),
}

#: gradient checks: name -> (fn(m, *inputs), float64 inputs)
GRAD_CASES = {
    "rounding": (
        lambda m, x: m.floor(x) + x.ceil() * 2 + x.round() + x.trunc() + x.frac() * x,
        [away_from_integers(6)],
    ),
    "sign": (lambda m, x: m.sign(x) * x, [np.array([-1.5, 0.0, 2.0, -0.0])]),
    "remainder_fmod": (
        lambda m, a, b: m.remainder(a, b) + m.fmod(a, b) * 2,
        [np.array([5.2, -5.2, 5.2, -5.2, 1.1]), np.array([3.0, 3.0, -3.0, -3.0, 0.7])],
    ),
    "logs_exps": (lambda m, x: m.log1p(x) + x.expm1() + x.log2() + x.log10() + x.exp2(), [np.abs(normal(5)) + 0.2]),
    "trig": (
        lambda m, x: m.tan(x) + x.asin() + x.acos() + x.atan() + x.sinh() + x.cosh() + x.asinh() + x.atanh(),
        [np.array([-0.7, -0.2, 0.0, 0.3, 0.8])],
    ),
    "acosh_atan2_hypot": (
        lambda m, a, b: m.acosh(a + 2) + m.atan2(a, b) + m.hypot(a, b),
        [normal(5), normal(5, seed=4)],
    ),
    "blends": (
        lambda m, x, a, b: (
            m.lerp(x, a, 0.3) + m.lerp(x, a, b.sigmoid()) + m.addcmul(x, a, b) + m.addcdiv(x, a, b.exp())
        ),
        [normal(4), normal(4, seed=1), normal(4, seed=2)],
    ),
    "fmax_copysign_clamp": (
        lambda m, a, b: m.fmax(a, b) + m.fmin(a, b) * 2 + m.copysign(a, b) + m.clamp(a, b - 0.5, b + 0.5),
        [np.array([1.0, -2.0, 3.0, 0.5, -0.3]), np.array([1.0, 2.0, -3.0, -0.5, 0.0])],
    ),
    "logaddexp_heaviside": (
        lambda m, a, b: m.logaddexp(a, b) + m.logaddexp2(a, b * 3) + m.heaviside(a.detach(), b.detach()) * a,
        [np.array([1.0, -2.0, 30.0, 0.0]), np.array([1.0, 2.0, -3.0, 0.5])],
    ),
    "nan_to_num_deg2rad": (lambda m, x: m.nan_to_num(x) + x.deg2rad() + x.reciprocal(), [normal(4)]),
}


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


def _assert_same(got, want, where=""):
    got, want = _outputs(got), _outputs(want)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        w = w.detach().numpy()
        g = np.asarray(g.numpy() if isinstance(g, irc.Tensor) else g)
        assert g.dtype == w.dtype, f"{where} output {i}: dtype {g.dtype}, torch {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-30, err_msg=f"{where} output {i}")
        if w.dtype.kind == "f":
            finite_zero = (w == 0) & ~np.isnan(w)
            assert (np.signbit(g)[finite_zero] == np.signbit(w)[finite_zero]).all(), f"{where} output {i}: sign of 0"


def _run(name, m, cases=CASES):
    fn, inputs = cases[name][:2]
    return fn(m, *[m.tensor(x) for x in inputs])


@pytest.mark.parametrize("name", CASES)
def test_forward_matches_torch(name):
    with np.errstate(all="ignore"):
        _assert_same(_run(name, irc), _run(name, torch), name)


@pytest.mark.parametrize("name", GRAD_CASES)
def test_gradients_match_torch(name):
    fn, inputs = GRAD_CASES[name]
    grads = {}
    for m in (irc, torch):
        xs = [m.tensor(x, dtype=m.float64, requires_grad=True) for x in inputs]
        out = fn(m, *xs)
        (out * m.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(out.shape))).sum().backward()
        grads[m] = [x.grad.numpy() if m is irc else x.grad.numpy() for x in xs]
    for g, w in zip(grads[irc], grads[torch]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=name)


def test_jvp_of_the_new_ops_matches_torch_forward_ad():
    x = np.array([-0.7, -0.2, 0.3, 0.8])
    fn = GRAD_CASES["trig"][0]
    _, tangent = irc.jvp(lambda t: fn(irc, t), (irc.tensor(x),), (irc.tensor(np.ones(4)),))
    _, expected = torch.func.jvp(lambda t: fn(torch, t), (torch.tensor(x),), (torch.ones(4, dtype=torch.float64),))
    np.testing.assert_allclose(tangent.numpy(), expected.numpy(), rtol=1e-12)
    zero = irc.jvp(lambda t: t.floor() + t.round(), (irc.tensor(x),), (irc.tensor(np.ones(4)),))[1]
    assert (zero.numpy() == 0).all()


#: the cases one llvm program and the compiled eager tier run (float32 and int64 ones, one compile each)
COMPILED = [
    "floor", "ceil", "round", "round_decimals", "trunc_fix", "frac", "sign_sgn", "remainder", "fmod",
    "log1p_expm1", "log2_log10_exp2", "tan_atan", "asin_acos_atanh", "sinh_cosh_asinh", "acosh", "atan2",
    "predicates", "nan_to_num", "fmax_fmin", "copysign", "int_rounding", "int_remainders", "ne_nan",
    "isclose", "div_trunc", "round_decimals_16bit", "nan_to_num_16bit", "pow_halves",
]  # fmt: skip


def _all_cases(m, *xs, names=COMPILED):
    outs, i = [], 0
    for name in names:
        fn, inputs = CASES[name][:2]
        outs += _outputs(fn(m, *xs[i : i + len(inputs)]))
        i += len(inputs)
    return tuple(outs)


def _all_inputs(names=COMPILED):
    return [x for name in names for x in CASES[name][1]]


def test_jit_llvm_matches_torch():
    with np.errstate(all="ignore"):
        got = irc.jit(lambda *xs: _all_cases(irc, *xs), target="llvm")(*[irc.tensor(x) for x in _all_inputs()])
        _assert_same(got, _all_cases(torch, *[torch.tensor(x) for x in _all_inputs()]), "llvm")


def test_compiled_eager_tier_matches_torch():
    """A few cases on the compiled eager tier (it shares the pipeline with irc.jit, tested above)."""
    names = ["round", "remainder", "predicates", "int_remainders", "isclose", "div_trunc", "pow_halves"]
    realize._cache.clear()
    with irc.set_eager_mode("compile"), np.errstate(all="ignore"):
        got = _all_cases(irc, *[irc.tensor(x) for x in _all_inputs(names)], names=names)
        got = tuple(t.numpy() for t in got)  # realizes the graph (compiled: one program)
        assert realize._cache and all(p.compiled is not None for p in realize._cache.values())
    _assert_same(got, _all_cases(torch, *[torch.tensor(x) for x in _all_inputs(names)], names=names), "eager")


def test_opencl_runs_the_new_unary_ops():
    pytest.importorskip("pyopencl")
    from tests.targets.test_opencl import pytestmark  # noqa: F401 - only for its skip condition

    x = np.array([-2.5, -0.5, 0.5, 1.5, 0.3, -0.9, 3.0], np.float32)

    def f(m, t):
        return (m.round(t), t.floor(), t.expm1(), t.asinh(), (t * 0.3).atanh(), t.remainder(-2.0), m.atan2(t, t + 1))

    try:
        got = irc.jit(lambda t: f(irc, t), target="opencl")(irc.tensor(x))
    except irc.CompileError as e:  # no OpenCL platform on this machine
        pytest.skip(str(e))
    _assert_same(got, f(torch, torch.tensor(x)), "opencl")


# ------------------------------------------------------------------ errors and dtypes


@pytest.mark.parametrize(
    "fn, torch_error, error, message",
    [
        (
            lambda m: m.remainder(m.tensor([3, 4]), m.tensor([1, 0])),
            RuntimeError,
            ZeroDivisionError,
            "remainder: integer division by zero",
        ),
        (lambda m: m.fmod(m.tensor([3, 4]), 0), RuntimeError, ZeroDivisionError, "fmod: integer division by zero"),
        (
            lambda m: m.frac(m.tensor([3, 4])),
            NotImplementedError,
            NotImplementedError,
            "\"frac_cpu\" not implemented for 'Long'",
        ),
        (
            lambda m: m.round(m.tensor([3, 4]), decimals=1),
            NotImplementedError,
            NotImplementedError,
            "not implemented for 'Long'",
        ),
        (
            lambda m: m.hypot(m.tensor([3]), m.tensor([4])),
            NotImplementedError,
            NotImplementedError,
            '"hypot_cpu" not implemented',
        ),
        (
            lambda m: m.fmod(m.tensor([True]), m.tensor([True])),
            NotImplementedError,
            NotImplementedError,
            "not implemented for 'Bool'",
        ),
        (
            lambda m: m.addcdiv(m.tensor([1]), m.tensor([3]), m.tensor([2])),
            RuntimeError,
            irc.FrontendError,
            "Integer division with addcdiv",
        ),
        (lambda m: m.var(m.tensor([1, 2])), RuntimeError, irc.FrontendError, "std and var only support floating point"),
    ],
)
def test_errors_follow_torch(fn, torch_error, error, message):
    with pytest.raises(torch_error):
        fn(torch)
    with pytest.raises(error, match=message.replace("(", r"\(")):
        fn(irc)


def test_in_place_forms_keep_the_dtype_and_match_torch():
    for m in (irc, torch):
        x = m.tensor([-1.5, 0.5, 2.5])
        x.floor_().remainder_(2.0).lerp_(m.tensor([1.0, 1.0, 1.0]), 0.5)
        y = m.tensor([1.7, -2.2])
        y.round_().sign_()
        if m is irc:
            got = (x.numpy(), y.numpy())
        else:
            np.testing.assert_array_equal(got[0], x.numpy())
            np.testing.assert_array_equal(got[1], y.numpy())


def test_allclose_of_infinities_matches_torch():
    pairs = [([1.0, 5.0], [INF, 5.0]), ([-INF], [INF]), ([INF, -INF], [INF, -INF]), ([NAN], [NAN])]
    for a, b in pairs:
        for equal_nan in (False, True):
            want = torch.allclose(torch.tensor(a), torch.tensor(b), equal_nan=equal_nan)
            assert irc.allclose(irc.tensor(a), irc.tensor(b), equal_nan=equal_nan) == want, (a, b, equal_nan)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hypot_does_not_overflow_or_underflow(dtype):
    """sqrt(a*a + b*b) would give inf at 1e30 and 0 at 1e-30 in float32; torch gives neither."""
    a = np.array([3.0, 0.0, 1e30, -1e30, 1e-30, 0.0, np.inf, 5.0, -2.0], dtype)
    b = np.array([4.0, 0.0, 1e30, 2e30, 1e-30, -7.0, 1.0, np.nan, 2.0], dtype)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.hypot(ta, tb).sum().backward()
    ia, ib = irc.tensor(a, requires_grad=True), irc.tensor(b, requires_grad=True)
    out = irc.hypot(ia, ib)
    np.testing.assert_allclose(out.numpy(), torch.hypot(ta, tb).detach().numpy(), rtol=1e-6)
    out.sum().backward()
    finite = np.isfinite(a) & np.isfinite(b) & ((a != 0) | (b != 0))  # torch's gradient is nan at 0/0
    np.testing.assert_allclose(ia.grad.numpy()[finite], ta.grad.numpy()[finite], rtol=1e-6)
    np.testing.assert_allclose(ib.grad.numpy()[finite], tb.grad.numpy()[finite], rtol=1e-6)
    with realize.set_eager_mode("compile"):
        compiled = irc.hypot(irc.tensor(a), irc.tensor(b)).numpy()
    np.testing.assert_allclose(compiled, torch.hypot(ta, tb).detach().numpy(), rtol=1e-6)
