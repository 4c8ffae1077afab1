"""Compiled float arithmetic keeps IEEE semantics: NaN and inf propagate, rounding and signed zeros stay.

TVM's simplifier treats floats as reals in a few rules (`x - x` -> 0, `(x + y) - y` -> x);
the TIR translation keeps those subtractions out of its reach (irc/targets/tir.py `_subf`).
numpy is the oracle, compared bit for bit (NaNs equal, signs of zeros too).
"""

import numpy as np
import pytest

import irc

PROGRAMS = {
    "x - x": lambda t: t - t,
    "(x + c) - c": lambda t: (t + 1e20) - 1e20,
    "(x + y) - x": lambda t: (t + 1e20) - t,
    "x - (x + c)": lambda t: t - (t + 1e20),
    "2x - 2x": lambda t: t * 2 - t * 2,
    "x - x.detach()": lambda t: t - t.detach(),
    "-x": lambda t: -t,
    "(x - x).sum()": lambda t: (t - t).sum(),
}
VALUES = np.array([np.nan, np.inf, -np.inf, 1.0, -1.0, 0.0, -0.0, 3.0e-39], np.float32)


def _numpy(name: str, fn) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(VALUES - VALUES if name == "x - x.detach()" else fn(VALUES))


@pytest.mark.parametrize("target", ["llvm", "opencl"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_float_arithmetic_is_ieee(name, target):
    fn = PROGRAMS[name]
    got = irc.jit(fn, target=target)(VALUES).numpy()
    expected = _numpy(name, fn)
    np.testing.assert_array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected)), (got, expected)
