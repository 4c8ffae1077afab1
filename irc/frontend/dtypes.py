"""irc's public dtypes (numpy dtypes) under their PyTorch names: `irc.float32`, `irc.float`, `irc.long`, ...

    >>> irc.float is irc.float32, irc.long is irc.int64, irc.ones(2).long().dtype == irc.long
    (True, True, True)

`irc.float16` (`irc.half`) is numpy's float16, `irc.bfloat16` is `ml_dtypes.bfloat16` (numpy has none);
both compute in float32 and round each op's result (docs/dtypes.md).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from irc.runtime.dtypes import NUMPY_DTYPES, is_float_dtype

float32, float64, int32, int64, bool_ = (np.dtype(t) for t in ("float32", "float64", "int32", "int64", "bool"))
float16, bfloat16 = NUMPY_DTYPES["f16"], NUMPY_DTYPES["bf16"]
# PyTorch's aliases (they shadow builtins here, where no builtin of these names is used)
float, double, half, int, long, bool = float32, float64, float16, int32, int64, bool_  # noqa: A001


class memory_format:  # noqa: N801  (torch's spelling)
    """torch's memory formats (`irc.preserve_format`, `contiguous_format`, `channels_last`,
    `channels_last_3d`), accepted where torch takes `memory_format=`: irc tensors have no strides
    (every value is a fresh row-major array), so each gives the same tensor."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"irc.{self.name}"


preserve_format, contiguous_format, channels_last, channels_last_3d = (
    memory_format(n) for n in ("preserve_format", "contiguous_format", "channels_last", "channels_last_3d")
)


def finfo(dtype=None) -> ml_dtypes.finfo:
    """The limits of a float dtype, as `torch.finfo` (`bits`, `eps`, `max`, `min`, `tiny`, `resolution`, ...);
    float32 by default.

        >>> irc.finfo(irc.half).max, irc.finfo(irc.bfloat16).eps
        (65500.0, 0.0078125)
    """
    dt = float32 if dtype is None else np.dtype(dtype)
    if not is_float_dtype(dt):
        raise TypeError(f"irc.finfo() requires a floating point input type, got {dt}")
    return ml_dtypes.finfo(dt)
