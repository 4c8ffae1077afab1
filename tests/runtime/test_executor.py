"""Kernel: input checks and conversions, and the outputs it allocates (one arena per call)."""

import gc
import weakref

import numpy as np
import pytest

from irc.runtime.executor import ALIGNMENT, Kernel

OUTPUTS = [
    ((2, 3), "float32"),
    ((), "int64"),
    ((4, 32), "float32"),
    ((0,), "float32"),
    ((9,), "float64"),
    ((1,), "int32"),
]


def fill_kernel(seen: list | None = None) -> Kernel:
    """A Kernel over a Python function: output k is filled with sum(input) + k."""

    def fill(x, *outputs):
        if seen is not None:
            seen.append(x)
        for k, out in enumerate(outputs):
            out[...] = x.sum() + k

    return Kernel(fill, "fill", inputs=[((3,), "float32")], outputs=OUTPUTS)


def test_outputs_are_aligned_separate_and_filled():
    kernel = fill_kernel()
    outputs = kernel(np.array([1, 2, 3], np.float32))
    assert [(o.shape, o.dtype.name) for o in outputs] == OUTPUTS
    for k, out in enumerate(outputs):
        assert out.ctypes.data % ALIGNMENT == 0 and out.flags.c_contiguous and out.flags.writeable
        np.testing.assert_array_equal(out, np.full(out.shape, 6 + k, out.dtype))
    for i, a in enumerate(outputs):
        for b in outputs[i + 1 :]:
            assert not np.shares_memory(a, b)
    outputs[2][...] = -1  # writing one output leaves the others as they were
    assert outputs[1] == 7 and outputs[4][0] == 10 and outputs[5][0] == 11


def test_every_call_returns_new_memory():
    kernel = fill_kernel()
    first = kernel(np.zeros(3, np.float32))
    second = kernel(np.ones(3, np.float32))
    for a, b in zip(first, second, strict=True):
        assert not np.shares_memory(a, b)
    assert first[2][0, 0] == 2 and second[2][0, 0] == 5


def test_a_kept_small_output_does_not_keep_the_large_ones_alive():
    loss, *others = fill_kernel()(np.ones(3, np.float32))[1:]
    large = weakref.ref(others[0].base)  # the memory of the (4, 32) output
    del others
    gc.collect()
    assert large() is None and loss == 4


def test_inputs_are_converted_only_when_they_must_be():
    seen = []
    kernel = fill_kernel(seen)
    exact = np.arange(3, dtype=np.float32)
    strided = np.arange(6, dtype=np.float32)[::2]
    kernel(exact)
    kernel(strided)
    kernel([1, 2, 3])
    kernel(np.arange(3, dtype=np.float64))
    assert seen[0] is exact
    assert seen[1].flags.c_contiguous and not np.shares_memory(seen[1], strided)
    np.testing.assert_array_equal(seen[1], [0, 2, 4])
    assert all(s.dtype == np.float32 for s in seen)
    np.testing.assert_array_equal(seen[2], [1, 2, 3])


def test_bad_inputs_are_named():
    kernel = fill_kernel()
    with pytest.raises(TypeError, match="takes 1 inputs, got 2"):
        kernel(np.zeros(3, np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"input 0 has shape \(4,\), expected \(3,\)"):
        kernel(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="input 0 has dtype complex64"):
        kernel(np.zeros(3, np.complex64))
