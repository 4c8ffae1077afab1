"""The element types irc supports, as numpy dtypes.

numpy only, so that `irc run` can check its `--input` files without the compiler:

    >>> supported_dtype(np.int8, "irc.tensor")
    Traceback (most recent call last):
    TypeError: irc.tensor: dtype int8 is not supported (supported: float32, float64, float16, bfloat16, int32, int64, bool)

bfloat16 is `ml_dtypes.bfloat16` (numpy has none); its numpy kind is "V", not "f": ask `is_float_dtype`.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

#: the hl element type's short name -> its numpy dtype
NUMPY_DTYPES: dict[str, np.dtype] = {
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(ml_dtypes.bfloat16),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "i1": np.dtype(np.bool_),
}

_SUPPORTED = set(NUMPY_DTYPES.values())
SUPPORTED_NAMES = ", ".join(str(dt) for dt in NUMPY_DTYPES.values())
#: the 16-bit floats: stored in 16 bits, computed in float32 (docs/dtypes.md)
HALF_DTYPES = frozenset((NUMPY_DTYPES["f16"], NUMPY_DTYPES["bf16"]))


def is_float_dtype(dtype) -> bool:
    """True for irc's float dtypes, bfloat16 included (numpy's kind of it is "V")."""
    dt = np.dtype(dtype)
    return dt.kind == "f" or dt in HALF_DTYPES


def load_npy(file) -> np.ndarray:
    """`np.load` of a `.npy` file (a path or file object), without pickles. numpy writes a bfloat16
    array as 2-byte voids (`|V2`, its header cannot name ml_dtypes' type): irc reads those as bfloat16."""
    value = np.load(file, allow_pickle=False)
    return value.view(NUMPY_DTYPES["bf16"]) if value.dtype == _BFLOAT16_ON_DISK else value


_BFLOAT16_ON_DISK = np.dtype("V2")


def random_array(shape: tuple[int, ...], dtype, rng: np.random.Generator) -> np.ndarray:
    """irc's one rule for random inputs (`irc run` without `--input`, `irc.Spec.random`):
    floats standard normal, ints in [0, 4) (valid as small indices), bools fair coins."""
    dt = np.dtype(dtype)
    if is_float_dtype(dt):
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 4, shape).astype(dt)


def supported_dtype(dtype, where: str, error: type[Exception] = TypeError) -> np.dtype:
    """`dtype` as a numpy dtype if irc supports it; else `error` naming `where` and the supported dtypes.

    irc has no 8- or 16-bit integers (int8, int16, uint8 ...) and no float8: it refuses them rather
    than convert silently.
    """
    dt = np.dtype(dtype)
    if dt not in _SUPPORTED:
        raise error(f"{where}: dtype {dt} is not supported (supported: {SUPPORTED_NAMES})")
    return dt
