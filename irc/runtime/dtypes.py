"""The element types irc supports, as numpy dtypes.

numpy only, so that `irc run` can check its `--input` files without the compiler:

    >>> supported_dtype(np.float16, "irc.tensor")
    Traceback (most recent call last):
    TypeError: irc.tensor: dtype float16 is not supported (supported: float32, float64, int32, int64, bool)
"""

from __future__ import annotations

import numpy as np

#: the hl element type's short name -> its numpy dtype
NUMPY_DTYPES: dict[str, np.dtype] = {
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "i1": np.dtype(np.bool_),
}

_SUPPORTED = set(NUMPY_DTYPES.values())
SUPPORTED_NAMES = ", ".join(str(dt) for dt in NUMPY_DTYPES.values())


def random_array(shape: tuple[int, ...], dtype, rng: np.random.Generator) -> np.ndarray:
    """irc's one rule for random inputs (`irc run` without `--input`, `irc.Spec.random`):
    floats standard normal, ints in [0, 4) (valid as small indices), bools fair coins."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 4, shape).astype(dt)


def supported_dtype(dtype, where: str, error: type[Exception] = TypeError) -> np.dtype:
    """`dtype` as a numpy dtype if irc supports it; else `error` naming `where` and the supported dtypes.

    irc has no 8- or 16-bit types (float16, bfloat16, int8, int16, uint8 ...): it refuses them rather
    than convert silently.
    """
    dt = np.dtype(dtype)
    if dt not in _SUPPORTED:
        raise error(f"{where}: dtype {dt} is not supported (supported: {SUPPORTED_NAMES})")
    return dt
