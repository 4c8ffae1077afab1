"""Graph keys (irc/frontend/graph.py) tell apart what computes differently and nothing else: float
attributes by their bits, so -0.0 is not 0.0 and a NaN constant finds its program again. Oracle: numpy."""

import numpy as np
import pytest

import irc
from irc.frontend import realize


@pytest.mark.parametrize("mode", ["interpret", "compile"])
def test_signed_zero_constants_are_different_programs(mode):
    x = np.array([2.0, -3.0], np.float32)
    t = irc.tensor(x)
    with irc.set_eager_mode(mode), np.errstate(divide="ignore"):
        for zero in (0.0, -0.0, 0.0):
            np.testing.assert_array_equal((1 / (t * zero)).numpy(), 1 / (x * np.float32(zero)))


def test_a_nan_constant_reuses_its_program():
    t = irc.tensor(np.arange(3, dtype=np.float32))
    with irc.set_eager_mode("interpret"):
        (t + float("nan")).numpy()
        seen = realize.cache_size()
        for _ in range(3):
            assert np.isnan((t + float("nan")).numpy()).all()
    assert realize.cache_size() == seen
