"""The numpy reference's own numerics where it does not call numpy directly. Oracle: Python's `math`."""

import math

import numpy as np

from irc.ir.hl import _erf


def test_erf_is_math_erf_to_two_ulp():
    rng = np.random.default_rng(0)
    special = [0.0, -0.0, 6.0, -6.0, 5.9999999, 6.0000001, 1e300, 5e-324, 2.0**-13, 1.5 * 2.0**-13, math.inf, -math.inf]
    xs = np.concatenate(
        [
            rng.standard_normal(100_000),
            rng.uniform(-7, 7, 100_000),
            rng.standard_normal(2_000) * 1e-8,
            10.0 ** rng.uniform(-300, 1, 2_000),
            special,
        ]
    )
    want = np.array([math.erf(v) for v in xs.tolist()])
    np.testing.assert_allclose(_erf(xs), want, rtol=5e-16, atol=0)
    assert np.signbit(_erf(np.array([-0.0]))).all()
    assert np.isnan(_erf(np.array([math.nan]))).all()


def test_erf_of_float32_is_math_erf_rounded():
    x = np.random.default_rng(1).standard_normal(50_000).astype(np.float32) * 3
    want = np.array([math.erf(v) for v in x.astype(np.float64).tolist()]).astype(np.float32)
    got = _erf(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_erf_keeps_the_shape_of_any_rank():
    for value in (np.float32(0.5), np.array(-0.5), np.full((2, 0, 3), 1.0), np.ones((2, 3, 4), np.float32)):
        got = _erf(np.asarray(value))
        assert got.shape == np.shape(value) and got.dtype == np.asarray(value).dtype
        np.testing.assert_array_equal(
            got, np.vectorize(math.erf, otypes=[float])(np.asarray(value, np.float64)).astype(got.dtype)
        )
