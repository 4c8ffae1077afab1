"""Run a compiled function on numpy arrays.

A `Kernel` wraps one packed function whose parameters are the inputs, then
the outputs (destination passing), then constant tensors. Calling it checks
the inputs, allocates the outputs 64-byte aligned and hands every array to
the function without a copy (numpy arrays cross over DLPack; bfloat16 ones,
which numpy cannot export, as `_BFloat16View`s); only inputs that are not
C-contiguous, or have another dtype, are converted once.
The outputs of one call are views of fresh allocations (arenas): they
never overlap, and an arena is freed when the last of its outputs is. The
small outputs (a loss, a step counter) have an arena of their own, so that
keeping one of them does not keep the large ones (the model state) alive.

    kernel = Kernel(fn, "mm", inputs=[((4, 8), "float32"), ...], outputs=[((4, 4), "float32")])
    (c,) = kernel(a, b)
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence

import numpy as np

from irc.errors import ExecutionError
from irc.runtime.dtypes import NUMPY_DTYPES

ALIGNMENT = 64
_BFLOAT16 = NUMPY_DTYPES["bf16"]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype, _capsule_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]


class _BFloat16View:
    """A bfloat16 array over DLPack: numpy exports only ints and IEEE floats, so this exports the
    array's uint16 view and relabels the DLTensor's dtype code kDLUInt as kDLBfloat (same bits)."""

    _DTYPE_CODE_OFFSET = 20  # DLTensor: void *data; DLDevice device; int32 ndim; DLDataType dtype {uint8 code, ...}
    _KDL_BFLOAT = 4

    def __init__(self, array: np.ndarray):
        self.bits = array.view(np.uint16)

    def __dlpack_device__(self):
        return self.bits.__dlpack_device__()

    def __dlpack__(self, **kwargs):
        capsule = self.bits.__dlpack__()  # unversioned: a "dltensor" capsule of a DLManagedTensor
        address = _capsule_pointer(capsule, b"dltensor") + self._DTYPE_CODE_OFFSET
        ctypes.c_uint8.from_address(address).value = self._KDL_BFLOAT
        return capsule


def _bfloat16_tensor(array: np.ndarray):
    import tvm_ffi  # only bfloat16 arrays need it, and the compiled code has loaded it

    return tvm_ffi.from_dlpack(_BFloat16View(array))


def aligned_empty(shape: Sequence[int], dtype: str | np.dtype, alignment: int = ALIGNMENT) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts on an `alignment`-byte boundary."""
    dtype = np.dtype(dtype)
    raw = np.empty(math.prod(shape) * dtype.itemsize + alignment, dtype=np.uint8)
    return np.ndarray(shape, dtype, buffer=raw, offset=-raw.ctypes.data % alignment)


def aligned_copy(array: np.ndarray) -> np.ndarray:
    out = aligned_empty(array.shape, array.dtype)
    out[...] = array
    return out


_NO_BYTES = aligned_empty((0,), np.uint8)


def empty_array(shape: Sequence[int], dtype: str | np.dtype) -> np.ndarray:
    """A zero-size array with the strides compiled code checks for: stride k is prod(shape[k+1:]) elements.

    (numpy gives a zero-size array all-zero strides, or counts its size-0 dims as 1 in them;
    TVM rejects both as "expected to be compact array".)
    """
    dtype = np.dtype(dtype)
    strides = [dtype.itemsize * math.prod(shape[k + 1 :]) for k in range(len(shape))]
    return np.ndarray(tuple(shape), dtype, buffer=_NO_BYTES, strides=strides)


class Kernel:
    """A compiled entry point: `kernel(*numpy_inputs) -> tuple of numpy outputs`."""

    def __init__(
        self,
        function: Callable,
        name: str,
        inputs: Sequence[tuple[Sequence[int], str | np.dtype]],
        outputs: Sequence[tuple[Sequence[int], str | np.dtype]],
        constants: Sequence[np.ndarray] = (),
    ):
        self.function = function
        self.name = name
        self.inputs = [(tuple(shape), np.dtype(dtype)) for shape, dtype in inputs]
        self.outputs = [(tuple(shape), np.dtype(dtype)) for shape, dtype in outputs]
        self.constants = [aligned_copy(np.asarray(c, order="C")) for c in constants]
        self._bfloat16 = any(dtype == _BFLOAT16 for _, dtype in [*self.inputs, *self.outputs]) or any(
            c.dtype == _BFLOAT16 for c in self.constants
        )
        # each output's place, (arena, byte offset): arena 0 holds the outputs of at most
        # ALIGNMENT bytes, arena 1 the others; every output starts on an ALIGNMENT boundary
        self._places: list[tuple[int, int]] = []
        self._arena_sizes = [0, 0]
        for shape, dtype in self.outputs:
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes == 0:  # a zero-size output has no place: it is an empty_array
                self._places.append((None, 0))
                continue
            arena = int(nbytes > ALIGNMENT)
            self._places.append((arena, self._arena_sizes[arena]))
            self._arena_sizes[arena] += -(-nbytes // ALIGNMENT) * ALIGNMENT
        # zero-size inputs are passed as these (see empty_array): they hold nothing to read
        self._empty_inputs = {
            i: empty_array(shape, dtype) for i, (shape, dtype) in enumerate(self.inputs) if 0 in shape
        }

    def _prepare(self, i: int, value) -> np.ndarray:
        """Input `i` as the function takes it: checked, converted if it must be."""
        shape, dtype = self.inputs[i]
        array = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=dtype)
        if array.shape != shape:
            raise ValueError(f"{self.name}: input {i} has shape {array.shape}, expected {shape}")
        if array.dtype != dtype:
            if not np.can_cast(array.dtype, dtype, casting="same_kind"):
                raise TypeError(f"{self.name}: input {i} has dtype {array.dtype}, expected {dtype}")
            array = array.astype(dtype)
        if not array.flags.c_contiguous or not array.flags.writeable:  # DLPack (TVM's calls) refuses read-only arrays
            array = aligned_copy(array)
        return array

    def _allocate_outputs(self) -> list[np.ndarray]:
        """Uninitialized outputs, each `ALIGNMENT`-aligned, as views of new arenas."""
        arenas = [aligned_empty((size,), np.uint8) if size else None for size in self._arena_sizes]
        return [
            np.ndarray(shape, dtype, buffer=arenas[arena], offset=offset)
            if arena is not None
            else empty_array(shape, dtype)
            for (shape, dtype), (arena, offset) in zip(self.outputs, self._places)
        ]

    def __call__(self, *inputs) -> tuple[np.ndarray, ...]:
        if len(inputs) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} inputs, got {len(inputs)}")
        args = list(inputs)
        for i, (value, (shape, dtype)) in enumerate(zip(inputs, self.inputs)):
            # the common case, checked inline: an exact, C-contiguous numpy array is passed as it is
            exact = type(value) is np.ndarray and value.shape == shape and value.dtype == dtype
            if not (exact and value.flags.c_contiguous and value.flags.writeable):
                args[i] = self._prepare(i, value)
        if self._empty_inputs:
            for i, placeholder in self._empty_inputs.items():
                args[i] = placeholder
        try:
            outputs = self._allocate_outputs()
            arrays = [*args, *outputs, *self.constants]
            if self._bfloat16:
                arrays = [_bfloat16_tensor(a) if a.dtype == _BFLOAT16 else a for a in arrays]
            self.function(*arrays)
        except MemoryError as e:
            raise self._out_of_memory() from e
        except Exception as e:  # the compiled code's scratch allocation failed (TVM: std::bad_alloc)
            if "bad_alloc" not in str(e):
                raise
            raise self._out_of_memory() from e
        return tuple(outputs)

    def _out_of_memory(self) -> ExecutionError:
        nbytes = sum(math.prod(shape) * dtype.itemsize for shape, dtype in self.outputs)
        return ExecutionError(
            f"{self.name}: out of memory (its outputs take {format_bytes(nbytes)}, "
            "its scratch buffers more; see the buffers stage for their sizes)"
        )


def format_bytes(n: int) -> str:
    """`n` bytes in the largest unit that keeps a number >= 1: '512 B', '3.0 GiB', '4.0 TiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n:.1f} TiB"
