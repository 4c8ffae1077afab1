"""More of torch's math, compared with torch 2.13 (values, shapes, dtypes, gradients): integer `**` (negative
exponents, compiled), `median()` ties and `atan2(0, 0)` gradients, `logsumexp` over nothing, `isclose` of bools,
the shifts and `ldexp`, `cummax`/`cummin`, `quantile`/`nanquantile` (every interpolation), `renorm`, `mode`,
the stacks, broadcasting and dtype functions, `isin`, and the `irc.special` namespace."""

import numpy as np
import pytest

import irc
from tests.torch_compare import check_eager, check_jit, normal, raises_like_torch

torch = pytest.importorskip("torch")

NAN = float("nan")
TIES = np.array([1.0, 2.0, 2.0, 3.0, 2.0], np.float32)
WITH_NAN = np.array([[1.0, 2.0, 3.0, 4.0, 7.0], [5.0, NAN, 1.0, 1.0, 0.5]], np.float32)
INTS = np.array([2, 1, -1, 0, 3, -2, 5], np.int64)
EXPONENTS = np.array([-1, -2, -3, -1, 0, 3, 2], np.int64)


def _same(got, want):
    got = got.numpy() if isinstance(got, irc.Tensor) else np.asarray(got)
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _both(case):
    """case(m) for m = irc and torch, flattened to lists of outputs, compared."""
    got, want = case(irc), case(torch)
    got, want = (list(x) if isinstance(x, (tuple, list)) else [x] for x in (got, want))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        _same(g, w)


# ------------------------------------------------------------------ integer pow


INTEGER_POW = {
    "tensor": lambda m: m.tensor(INTS) ** m.tensor(EXPONENTS),
    "scalar-base": lambda m: 2 ** m.tensor([-1, 2, 0]),
    "negative-base": lambda m: m.pow(-2, m.tensor([-1, -2, 3])),
    "square": lambda m: m.tensor([3, -2]) ** 2,
    "int32": lambda m: m.tensor([3, -2], dtype=m.int32) ** m.tensor([3, 2], dtype=m.int32),
    "bool-base": lambda m: m.tensor([True, False]) ** 2,
    "pow_": lambda m: m.tensor([3, -2, 4]).pow_(m.tensor([2, 3, -1])),
}


@pytest.mark.parametrize("name", INTEGER_POW)
def test_integer_pow_matches_torch(name):
    _both(INTEGER_POW[name])


def test_integer_pow_wraps_on_overflow_in_the_reference():
    _both(lambda m: m.tensor([3], dtype=m.int64) ** m.tensor([70]))


def test_integer_pow_compiles():
    """`math.ipowi` translates to TIR: constant and tensor exponents, negative ones, int32 and int64."""

    @irc.jit(target="llvm")
    def powers(a, b, c):
        return a**b, a**2, 2**b, c**3, c ** (c - 1)

    a, c = np.array([2, 1, -1, 0, 3, -2, 5, 7], np.int64), np.array([3, -2, 5, 0], np.int32)
    b = np.array([-1, -2, -3, -1, 0, 3, 2, 20], np.int64)
    got = powers(a, b, c)
    ta, tb, tc = torch.tensor(a), torch.tensor(b), torch.tensor(c)
    for g, w in zip(got, (ta**tb, ta**2, 2**tb, tc**3, tc ** (tc - 1)), strict=True):
        _same(g, w)


def test_integer_pow_in_compiled_eager_mode():
    with irc.frontend.realize.set_eager_mode("compile"):
        x = irc.tensor([3, -2, 4])
        x.pow_(irc.tensor([2, -1, 3]))
        _same(x, torch.tensor([9, 0, 64]))


# ------------------------------------------------------------------ gradients at ties and at the origin


def test_median_gradient_is_shared_by_ties():
    for values in (TIES, np.array([1.0, 2.0, NAN, NAN], np.float32), np.array([3.0, 1.0], np.float32)):
        check_eager(torch, lambda m, x: (x.median(), x.nanmedian()), [values])


def test_atan2_gradient_at_the_origin_is_zero():
    a = np.array([0.0, -0.0, 0.0, 1.0, -2.0], np.float32)
    b = np.array([0.0, 0.0, -0.0, 1.0, 0.5], np.float32)
    check_eager(torch, lambda m, y, x: m.atan2(y, x), [a, b])


def test_logsumexp_over_nothing_and_isclose_of_bools():
    _both(lambda m: (m.zeros(2, 0).logsumexp(1), m.zeros(2, 0).logsumexp((0, 1)), m.zeros(0, 3).logsumexp(0)))
    _both(lambda m: (m.tensor([True, False]).isclose(m.tensor([True, True])), m.isclose(m.ones(2), m.ones(2))))
    raises_like_torch(torch, lambda m: m.isclose(m.tensor([True, False]), m.tensor([1, 0])))
    raises_like_torch(torch, lambda m: m.tensor([1, 2]).isclose(m.tensor([1.0, 2.0])))


# ------------------------------------------------------------------ shifts, ldexp


SHIFTS = {
    "left": lambda m: m.tensor([5, -5, 1, -1, 7]) << m.tensor([1, 1, 63, 64, -1]),
    "right": lambda m: m.tensor([5, -5, 1, -1, 7]) >> m.tensor([1, 1, 63, 64, -1]),
    "int32": lambda m: (
        m.tensor([5, -5], dtype=m.int32) << m.tensor([31, 32], dtype=m.int32),
        m.tensor([5, -5], dtype=m.int32) >> 33,
    ),
    "reflected": lambda m: (1 << m.tensor([1, 2]), 64 >> m.tensor([1, 3])),
    "functions": lambda m: (m.bitwise_left_shift(m.tensor([1, 2]), 3), m.tensor([-9, 9]).bitwise_right_shift(2)),
    "in-place": lambda m: m.tensor([3, 4]).bitwise_left_shift_(2).bitwise_right_shift_(1),
    "ldexp": lambda m: (
        m.ldexp(m.tensor([1.0, 2.0]), m.tensor([2, -3])),
        m.tensor([1, 2]).ldexp(m.tensor([2, 3])),
        m.ldexp(m.tensor([1.5], dtype=m.float64), m.tensor([-2])),
    ),
}


@pytest.mark.parametrize("name", SHIFTS)
def test_shifts_and_ldexp_match_torch(name):
    _both(SHIFTS[name])


def test_ldexp_gradient():
    """torch's ldexp gradient multiplies by the integer 2 ** other: 0 for a negative int exponent (irc: 2.0 **
    other, the derivative), so only non-negative ones are compared."""
    check_eager(torch, lambda m, x: m.ldexp(x, m.tensor([1, 0, 3])), [normal(2, 3)])
    check_eager(torch, lambda m, x: x.ldexp(m.tensor([-1.0, 2.5, 0.0])), [normal(3)])


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_compiled_shifts_at_every_count_match_torch(dtype):
    """`hl.shift_left`/`shift_right` in llvm code, every count from -3 to the width + 3 (arith's shifts are
    poison past the width), extreme values, and `(a << 1) > a` (a shift wraps: no overflow assumed)."""
    info = np.iinfo(dtype)
    counts = np.arange(-3, info.bits + 4, dtype=dtype)
    values = np.resize(np.array([0, 1, -1, 5, -5, info.max, info.min, 123456789 % info.max], dtype), len(counts))
    a = np.concatenate([values, values[::-1]])
    b = np.concatenate([counts, counts])
    got = irc.jit(lambda a, b: (a << b, a >> b, (a << 1) > a, 3 << b, a >> 2), target="llvm")(a, b)
    ta, tb = torch.tensor(a), torch.tensor(b)
    want = (ta << tb, ta >> tb, (ta << 1) > ta, 3 << tb, ta >> 2)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_shift_operators_in_place_and_errors():
    for m in (irc, torch):
        x = m.tensor([1, -8])
        x <<= 2
        x >>= 1
        if m is irc:
            got = x
    _same(got, x)
    raises_like_torch(torch, lambda m: m.tensor([True]) << m.tensor([True]))
    raises_like_torch(torch, lambda m: m.tensor([1.5]) << 1)


# ------------------------------------------------------------------ cummax, cummin, quantile, renorm, mode


def test_cummax_cummin_match_torch():
    row = np.array([1.0, 3.0, 2.0, 3.0, NAN, 5.0, NAN], np.float32)
    check_eager(torch, lambda m, x: m.cummax(x, 0), [row])
    check_eager(torch, lambda m, x: (x.cummax(1), x.cummin(0), m.cummin(x, -1)), [normal(3, 5).round(0)])
    _both(lambda m: (m.cummin(m.tensor([[3, 1, 2, 1, 0]]), 1), m.tensor([True, False, True]).cummax(0)))
    _both(lambda m: m.tensor(2.0).cummax(0))


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_matches_torch(interpolation):
    for q in (0.4, [0.1, 0.5, 0.95, 1.0]):
        for dim, keepdim in ((None, False), (None, True), (1, False), (0, True)):

            def case(m, x, q=q, dim=dim, keepdim=keepdim):
                qq = m.tensor(q) if isinstance(q, list) else q
                return (
                    x.quantile(qq, dim, keepdim, interpolation=interpolation),
                    m.nanquantile(x, qq, dim, keepdim, interpolation=interpolation),
                )

            check_eager(torch, case, [WITH_NAN])
            check_eager(torch, case, [normal(3, 6)])


def test_quantile_errors_match_torch():
    raises_like_torch(torch, lambda m: m.quantile(m.tensor([1.0, 2.0]), 1.5))
    raises_like_torch(torch, lambda m: m.quantile(m.tensor([1, 2]), 0.5))
    raises_like_torch(torch, lambda m: m.tensor([1.0, 2.0]).quantile(m.tensor([0.5], dtype=m.float64)))
    raises_like_torch(torch, lambda m: m.tensor([1.0]).quantile(0.5, interpolation="cubic"))


def test_renorm_and_mode_match_torch():
    x = np.array([[1.0, 5.0, 2.0], [3.0, -4.0, 0.5], [0.1, 0.2, 0.0]], np.float32)
    check_eager(torch, lambda m, x: (x.renorm(2, 0, 4.0), m.renorm(x, 1, 1, 3.0), x.renorm(3, -1, 1.0)), [x])
    modes = np.array([[3.0, 1.0, 3.0, 1.0, 2.0], [5, 5, 4, 4, 4], [2, 7, 2, 1, 7]], np.float32)
    check_eager(torch, lambda m, x: (x.mode(), x.mode(0, True), m.mode(x, 1)), [modes])
    _both(lambda m: (m.tensor([[3, 1, 3], [2, 2, 9]]).mode(1), m.tensor(3.0).mode()))


# ------------------------------------------------------------------ free functions


FUNCTIONS = {
    "hstack": lambda m: (m.hstack([m.tensor([1, 2]), m.tensor([3.0])]), m.hstack([m.ones(2, 1), m.zeros(2, 2)])),
    "vstack": lambda m: (
        m.vstack([m.tensor([1, 2]), m.tensor([3, 4])]),
        m.row_stack([m.ones(1, 2), m.tensor([5.0, 6.0])]),
    ),
    "dstack": lambda m: (m.dstack([m.tensor([[1, 2]]), m.tensor([[3, 4]])]), m.dstack([m.tensor(1), m.tensor(2)])),
    "column_stack": lambda m: m.column_stack([m.tensor([1, 2]), m.tensor([[3], [4]]), m.tensor([[5, 6], [7, 8]])]),
    "broadcast_tensors": lambda m: m.broadcast_tensors(m.tensor([1, 2]), m.tensor([[1.0], [2.0], [3.0]]), m.tensor(7)),
    "isin": lambda m: (
        m.isin(m.tensor([[1, 2], [3, 4]]), m.tensor([[4], [1]])),
        m.isin(m.tensor([1.0, 2.0, 3.0]), 2, invert=True),
        m.isin(2, m.tensor([1, 2])),
        m.isin(m.tensor([1, 2]), m.tensor([], dtype=m.int64)),
    ),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_match_torch(name):
    _both(FUNCTIONS[name])


def test_stack_gradients_and_errors():
    check_eager(torch, lambda m, a, b: (m.hstack([a, b]), m.vstack([a, b]), m.dstack([a, b]), m.column_stack([a, b])),
                [normal(2, 3), normal(2, 3, seed=1)])  # fmt: skip
    raises_like_torch(torch, lambda m: m.hstack([]))
    raises_like_torch(torch, lambda m: m.broadcast_tensors(m.ones(2), m.ones(3)))


def test_broadcast_shapes_matches_torch():
    for shapes in (((2, 1), (3,), ()), (2, (3, 1)), ((5, 1, 4), (1, 3, 1)), ()):
        assert irc.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    raises_like_torch(torch, lambda m: m.broadcast_shapes((2, 1), (3, 2)))


_DTYPE_NAMES = ("float32", "float64", "float16", "bfloat16", "int32", "int64", "bool")


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def test_promote_types_and_can_cast_match_torch():
    for a in _DTYPE_NAMES:
        for b in _DTYPE_NAMES:
            ia, ib, ta, tb = getattr(irc, a), getattr(irc, b), getattr(torch, a), getattr(torch, b)
            assert _name(irc.promote_types(ia, ib)) == _name(torch.promote_types(ta, tb)), (a, b)
            assert irc.can_cast(ia, ib) == torch.can_cast(ta, tb), (a, b)


def test_result_type_matches_torch():
    def operands(m):
        return [
            (m.tensor([1]), 1.0), (m.tensor([1], dtype=m.int32), m.tensor(1)), (m.tensor([1], dtype=m.int32), m.tensor([1])),
            (2, 3.0), (m.tensor(1.0, dtype=m.float64), m.tensor([1], dtype=m.int32)), (m.tensor([True]), 2),
            (m.tensor([True]), True), (m.ones(1, dtype=m.float16), 2.0), (m.tensor([1], dtype=m.int32), m.tensor(1.0, dtype=m.float64)),
            (m.tensor([True]), 1.5), (m.tensor(1, dtype=m.int32), 5), (m.tensor(True), m.tensor([1], dtype=m.int32)),
            (m.tensor(1.0, dtype=m.float64), 1.5), (m.ones(1, dtype=m.bfloat16), m.ones((), dtype=m.float16)),
            (True, False), (1, True),
        ]  # fmt: skip

    for (a, b), (ta, tb) in zip(operands(irc), operands(torch), strict=True):
        assert _name(irc.result_type(a, b)) == _name(torch.result_type(ta, tb)), (ta, tb)


# ------------------------------------------------------------------ irc.special


SPECIAL_UNARY = ("expit", "erf", "erfc", "log1p", "expm1", "exp2", "sinc", "ndtr")


def test_special_matches_torch():
    x = np.array([0.0, 0.5, -1.0, 2.0, -0.25], np.float32)
    for name in SPECIAL_UNARY:
        check_eager(torch, lambda m, x, name=name: getattr(m.special, name)(x), [x])
    check_eager(torch, lambda m, x: m.special.logit(x.sigmoid(), 1e-3), [x])
    # where x is 0 and log(y) (log1p(y)) is not finite torch gives y the gradient 0 / 0 = nan, irc 0: values only
    check_eager(torch, lambda m, x, y: (m.special.xlogy(x, y), m.special.xlog1py(x, y)),
                [np.array([0.0, 2.0, 0.5, 0.0], np.float32), np.array([1.5, 3.0, 0.5, -0.5], np.float32)])  # fmt: skip
    _both(
        lambda m: (m.special.xlogy(m.zeros(2), m.tensor([0.0, NAN])), m.special.xlog1py(m.zeros(1), m.tensor([-1.0])))
    )
    check_eager(torch, lambda m, x: (m.special.softmax(x, 1), m.special.log_softmax(x, 0), m.special.logsumexp(x, 1)),
                [normal(2, 3)])  # fmt: skip
    # entr's gradient where x <= 0 is 0 in irc (torch: -(1 + log(x)), inf or nan): values only
    _both(
        lambda m: (m.special.round(m.tensor([0.5, 1.25]), decimals=1), m.special.entr(m.tensor([NAN, -1.0, 0.0, 0.5])))
    )
    check_eager(torch, lambda m, x: m.special.entr(x), [np.array([0.5, 2.0, 0.01], np.float32)])
    _both(lambda m: m.special.log_softmax(m.tensor([[1.0, 2.0]]), 1, dtype=m.float64))


# ------------------------------------------------------------------ compiled


def test_compiled_program_matches_torch():
    """Several of the above in one llvm program with their gradients (irc.grad)."""
    cases = {
        "cummax-quantile": (lambda m, x: (x.cummax(1).values, x.quantile(0.3, 1), m.renorm(x, 2, 0, 1.0)), [normal(3, 5)]),
        "median-atan2": (lambda m, x, y: (x.median(), m.atan2(x * 0, y * 0), m.ldexp(x, m.tensor([1, 2, 0]))),
                         [TIES[:3].copy(), np.array([1.0, 0.0, 0.0], np.float32)]),
        "shifts": (lambda m, a: (a << 2, a >> 1, m.tensor([5, -5]) >> a[:2]), [np.array([1, -8, 3], np.int64)]),
    }  # fmt: skip
    check_jit(torch, cases, tol=1e-5)
