"""irc.runtime.blas: numpy's OpenBLAS thread count, limited inside a block and restored after it."""

import numpy as np
import pytest

from irc.runtime import blas


def test_blas_threads_limits_inside_the_block_only():
    functions = blas._openblas()
    if functions is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS found through /proc/self/maps")
    get, set_ = functions
    before = get()
    set_(2)
    try:
        with blas.blas_threads(1):
            assert get() == 1
            a = np.ones((64, 64), np.float32)
            np.testing.assert_array_equal(a @ a, np.full((64, 64), 64, np.float32))
        assert get() == 2
        with blas.blas_threads(4):  # never raised
            assert get() == 2
    finally:
        set_(before)


def test_blas_threads_is_a_no_op_without_openblas(monkeypatch):
    monkeypatch.setattr(blas, "_openblas", lambda: None)
    with blas.blas_threads(1):
        pass
