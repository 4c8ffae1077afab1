"""`Spec`: irc's one input/output spec type, an optional name with a shape and a dtype.

numpy only (no xDSL, no TVM), so packages and `irc run` use it without the compiler:

    >>> Spec((64, 784))
    Spec((64, 784), 'float32')
    >>> str(Spec((2, 3), "int64", name="idx"))
    'idx: int64[2, 3]'

`irc.Spec` (irc.frontend.spec) is this type with the hl `.type` for tracing and
shape errors at the caller's line; package entries (`model.inputs`) and the
inputs of `irc run` are `Spec`s with their names.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irc.runtime.dtypes import random_array, supported_dtype


@dataclass(frozen=True, init=False)
class Spec:
    """An array of `shape` and `dtype`, named `name` where it is a function's input or output.

    A size that is negative or not an integer is a ValueError, an unsupported dtype a TypeError.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    name: str | None = None

    def __init__(self, shape: Sequence[int], dtype: str | np.dtype = "float32", name: str | None = None):
        try:
            sizes = tuple(operator.index(s) for s in shape)
        except TypeError:
            sizes = None
        if sizes is None or any(s < 0 for s in sizes):
            raise ValueError(f"irc.Spec: a shape is a tuple of non-negative integers, got {shape!r}")
        object.__setattr__(self, "shape", sizes)
        object.__setattr__(self, "dtype", supported_dtype(dtype, "irc.Spec"))
        object.__setattr__(self, "name", name)

    @classmethod
    def of(cls, array: np.ndarray, name: str | None = None) -> Spec:
        """The spec of `array`."""
        return cls(array.shape, array.dtype, name)

    def random(self, rng: np.random.Generator) -> np.ndarray:
        """A random value by irc's one rule (irc.runtime.dtypes.random_array), as `irc run` draws its inputs."""
        return random_array(self.shape, self.dtype, rng)

    def to_json(self) -> dict:
        """The package manifest's form: {"name", "shape", "dtype"}."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.name}

    @classmethod
    def from_json(cls, data: dict) -> Spec:
        return cls(tuple(data["shape"]), data["dtype"], data["name"])

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name is not None else ""
        return f"{type(self).__name__}({self.shape}, {self.dtype.name!r}{name})"

    def __str__(self) -> str:
        text = f"{self.dtype}{list(self.shape)}"
        return text if self.name is None else f"{self.name}: {text}"
