"""irc's public dtypes (numpy dtypes) under their PyTorch names: `irc.float32`, `irc.float`, `irc.long`, ...

    >>> irc.float is irc.float32, irc.long is irc.int64, irc.ones(2).long().dtype == irc.long
    (True, True, True)

irc has no 16-bit types (docs/dtypes.md): `irc.half`, `irc.float16` and `irc.bfloat16` are an
AttributeError saying so, `x.half()` and `x.bfloat16()` a TypeError.
"""

from __future__ import annotations

import numpy as np

from irc.runtime.dtypes import SUPPORTED_NAMES

float32, float64, int32, int64, bool_ = (np.dtype(t) for t in ("float32", "float64", "int32", "int64", "bool"))
# PyTorch's aliases (they shadow builtins here, where no builtin of these names is used)
float, double, int, long, bool = float32, float64, int32, int64, bool_  # noqa: A001


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


def no_16_bit(name: str) -> str:
    """The one-line message for a 16-bit type."""
    return f"{name}: irc has no 16-bit types (supported: {SUPPORTED_NAMES}); see docs/dtypes.md"
