"""Run a compiled function on numpy arrays.

A `Kernel` wraps one packed function whose parameters are the inputs, then
the outputs (destination passing), then constant tensors. Calling it checks
the inputs, allocates the outputs 64-byte aligned and hands every array to
the function without a copy (numpy arrays cross over DLPack); only inputs
that are not C-contiguous, or have another dtype, are converted once.

    kernel = Kernel(fn, "mm", inputs=[((4, 8), "float32"), ...], outputs=[((4, 4), "float32")])
    (c,) = kernel(a, b)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

ALIGNMENT = 64

Spec = tuple[tuple[int, ...], str]  # (shape, dtype)


def aligned_empty(shape: Sequence[int], dtype: str | np.dtype, alignment: int = ALIGNMENT) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts on an `alignment`-byte boundary."""
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    raw = np.empty(size * dtype.itemsize + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start : start + size * dtype.itemsize].view(dtype).reshape(shape)


def aligned_copy(array: np.ndarray) -> np.ndarray:
    out = aligned_empty(array.shape, array.dtype)
    out[...] = array
    return out


class Kernel:
    """A compiled entry point: `kernel(*numpy_inputs) -> tuple of numpy outputs`."""

    def __init__(
        self,
        function: Callable,
        name: str,
        inputs: Sequence[Spec],
        outputs: Sequence[Spec],
        constants: Sequence[np.ndarray] = (),
    ):
        self.function = function
        self.name = name
        self.inputs = [(tuple(shape), np.dtype(dtype)) for shape, dtype in inputs]
        self.outputs = [(tuple(shape), np.dtype(dtype)) for shape, dtype in outputs]
        self.constants = [aligned_copy(np.asarray(c, order="C")) for c in constants]

    def _prepare(self, i: int, value) -> np.ndarray:
        shape, dtype = self.inputs[i]
        if type(value) is np.ndarray and value.shape == shape and value.dtype == dtype and value.flags.c_contiguous:
            return value
        array = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=dtype)
        if array.shape != shape:
            raise ValueError(f"{self.name}: input {i} has shape {array.shape}, expected {shape}")
        if array.dtype != dtype:
            if not np.can_cast(array.dtype, dtype, casting="same_kind"):
                raise TypeError(f"{self.name}: input {i} has dtype {array.dtype}, expected {dtype}")
            array = array.astype(dtype)
        if not array.flags.c_contiguous:
            array = aligned_copy(array)
        return array

    def __call__(self, *inputs) -> tuple[np.ndarray, ...]:
        if len(inputs) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} inputs, got {len(inputs)}")
        args = [self._prepare(i, x) for i, x in enumerate(inputs)]
        outputs = [aligned_empty(shape, dtype) for shape, dtype in self.outputs]
        self.function(*args, *outputs, *self.constants)
        return tuple(outputs)
