"""Signed integer arithmetic wraps around in every tier, as in numpy and torch (two's complement).

C, OpenCL C and LLVM leave signed overflow undefined (TVM's LLVM code marks int32 arithmetic `nsw`), and
the compilers fold on it: `(x + 1) > x` compiled to true for x = 2**31 - 1 on llvm and OpenCL, where numpy
and the interpreter say false. int32 add, sub and mul now run in int64 and are truncated back
(irc.targets.tir._WRAPPING); int64 data keeps the plain form (no wider type)."""

import numpy as np
import pytest

import irc
from tests.targets.test_opencl import _has_platform

TIERS = [
    "interpret",
    "compile",
    "llvm",
    pytest.param("opencl", marks=pytest.mark.skipif(not _has_platform(), reason="no OpenCL")),
]


def run(fn, tier, *arrays):
    if tier in ("interpret", "compile"):  # eager tensors: the numpy interpreter, or compiled code
        with irc.set_eager_mode(tier):
            out = fn(*(irc.tensor(a) for a in arrays))
        return [np.asarray(o.numpy()) for o in (out if isinstance(out, tuple) else (out,))]
    out = irc.jit(fn, target=tier)(*arrays)
    return [np.asarray(o) for o in (out if isinstance(out, tuple) else (out,))]


def edges(dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.array([info.max, info.max - 1, info.min, info.min + 1, -1, 0, 1, 77] * 4, dtype)


def overflowing(a):
    return (a + 1) > a, a + 1, a - 2, a * 3, -a, (a * 3) < a


@pytest.mark.parametrize("tier", TIERS)
def test_overflow_wraps_and_comparisons_see_the_wrapped_value(tier):
    dtype = np.int32  # irc's integer types are int32 and int64; int64 keeps the plain form
    x = edges(dtype)
    with np.errstate(over="ignore"):
        one, two, three = (np.array(v, dtype) for v in (1, 2, 3))
        want = [(x + one) > x, x + one, x - two, x * three, -x, (x * three) < x]
    for got, expected in zip(run(overflowing, tier, x), want, strict=True):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("tier", TIERS)
def test_a_linear_congruential_hash_matches_numpy(tier):
    """x -> x * 1103515245 + 12345 (int32), three rounds: every round overflows."""

    def lcg(s):
        for _ in range(3):
            s = s * 1103515245 + 12345
        return s, s < 0

    seeds = np.arange(-64, 64, dtype=np.int32) * 7919
    with np.errstate(over="ignore"):
        want = seeds.copy()
        for _ in range(3):
            want = want * np.int32(1103515245) + np.int32(12345)
    got, negative = run(lcg, tier, seeds)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(negative, want < 0)


@pytest.mark.parametrize("tier", TIERS)
def test_integer_powers_with_a_constant_exponent_are_exact_and_wrap(tier):
    """x ** k multiplies (the constant reaches the compiled body): exact past 2 ** 53 and wrapping as torch,
    where float64 pow rounded (int64 (2 ** 53 + 1) ** 1) and saturated (int32 50000 ** 2)."""
    torch = pytest.importorskip("torch")
    big = np.array([2**53 + 1, 2**20 + 1, 3**39, -(3**20), 7, -1, 0], np.int64)
    small = np.array([50000, -46341, 3, 2**31 - 1, -(2**31)], np.int32)
    got = run(lambda a, b: (a**1, a**2, a**3, b**2, b**5, b**16), tier, big, small)
    ta, tb = torch.tensor(big), torch.tensor(small)
    for g, w in zip(got, (ta**1, ta**2, ta**3, tb**2, tb**5, tb**16), strict=True):
        np.testing.assert_array_equal(g, w.numpy())


def test_a_chain_of_wrapping_ops_casts_once():
    """16 chained int32 additions are int64 expressions with one cast back each (and one per input): nested
    int32 <-> int64 casts cost TVM's simplifier time exponential in their depth (12 additions took minutes).
    A long chain is cut into statements (values materialized in a scratch buffer: docs/compile-time.md)."""

    def chain(a, b):
        p = a
        for k in range(16):
            p = p + (b if k % 2 else a)
        return p

    x = np.arange(-4, 4, dtype=np.int32) * 300_000_000
    tir = irc.jit(chain, target="llvm").lower(x, x).stages["tir"]
    statements = [line for line in tir.splitlines() if ' = T.Cast("int32"' in line]
    assert statements and all(line.count('T.Cast("int32"') == 1 for line in statements), tir
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(irc.jit(chain, target="llvm")(x, x).numpy(), x * 9 + x * 8)


def test_integer_sign_of_a_zero_difference_compiles():
    """Only a power's exponent folds into the body: an int32 `sign` of a constant zero made TVM fold an
    integer division by zero (an abort, not an error) when every integer fill was folded."""
    x = np.arange(-3, 5, dtype=np.int32)
    got = irc.jit(lambda x: ((x - x).sign(), x.sign()), target="llvm")(x)
    np.testing.assert_array_equal(got[0].numpy(), np.zeros_like(x))
    np.testing.assert_array_equal(got[1].numpy(), np.sign(x))


@pytest.mark.parametrize("tier", TIERS)
def test_integer_powers_with_a_computed_exponent_are_exact_and_wrap(tier):
    """x ** y of integer tensors is exponentiation by squaring in compiled code too: exact and wrapping as
    torch, where float64 pow saturated (int32 3 ** 40 came back as INT_MIN) and rounded (int64 7 ** 25).
    Negative exponents: 1 for base 1, +-1 for base -1, 0 otherwise. Also summed (not fused into the sum,
    whose body could not hold the squaring)."""
    torch = pytest.importorskip("torch")
    base = np.array([3, -3, 7, 2**20 + 1, 5, -2, 123456789, 1, -1, -1, 0, 2, 0, 0, -7], np.int64)
    exponent = np.array([40, 39, 25, 3, 27, 63, 5, -3, -3, -4, 0, 64, 5, -2, 2**40 + 1], np.int64)
    b32, e32 = base.astype(np.int32), np.minimum(exponent, 2**31 - 1).astype(np.int32)
    got = run(lambda a, b, c, d: (a**b, c**d, (c**d).sum()), tier, base, exponent, b32, e32)
    ta, tb, tc, td = (torch.tensor(x) for x in (base, exponent, b32, e32))
    for g, w in zip(got, (ta**tb, tc**td, (tc**td).sum()), strict=True):
        np.testing.assert_array_equal(g, w.numpy())
