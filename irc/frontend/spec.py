"""`irc.Spec`: a declared example input (shape and dtype) for tracing and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from irc.ir import hl


@dataclass(frozen=True)
class Spec:
    """An input of `shape` and `dtype`, e.g. ``def f(x: irc.Spec((64, 784))): ...``."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        hl.element_type_of(self.dtype)

    @property
    def type(self):
        return hl.tensor_type(self.shape, hl.element_type_of(self.dtype))

    def random(self, rng: np.random.Generator) -> np.ndarray:
        """A random value: standard normal floats, small non-negative ints, random bools."""
        dt = np.dtype(self.dtype)
        if dt.kind == "f":
            return rng.standard_normal(self.shape).astype(dt)
        if dt.kind == "b":
            return rng.random(self.shape) < 0.5
        return rng.integers(0, 10, self.shape).astype(dt)

    @staticmethod
    def of(array: np.ndarray) -> Spec:
        return Spec(array.shape, array.dtype.name)
