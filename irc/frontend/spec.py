"""`irc.Spec`: a declared example input (shape and dtype) for tracing and the CLI."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irc.errors import FrontendError
from irc.frontend.graph import user_location
from irc.ir import hl
from irc.runtime.dtypes import random_array


@dataclass(frozen=True, init=False)
class Spec:
    """An input of `shape` and `dtype`, e.g. ``def f(x: irc.Spec((64, 784))): ...``.

    A negative or non-integer size is a FrontendError at the caller's line.
    """

    shape: tuple[int, ...]
    dtype: str = "float32"

    def __init__(self, shape: Sequence[int], dtype: str | np.dtype = "float32"):
        try:
            sizes = tuple(operator.index(s) for s in shape)
        except TypeError:
            sizes = None
        if sizes is None or any(s < 0 for s in sizes):
            raise FrontendError(
                f"irc.Spec: a shape is a tuple of non-negative integers, got {shape!r}", user_location()[:2]
            )
        object.__setattr__(self, "shape", sizes)
        object.__setattr__(self, "dtype", np.dtype(dtype).name)
        hl.element_type_of(self.dtype)

    @property
    def type(self):
        return hl.tensor_type(self.shape, hl.element_type_of(self.dtype))

    def random(self, rng: np.random.Generator) -> np.ndarray:
        """A random value by irc's one rule (irc.runtime.dtypes.random_array), as `irc run` draws its inputs."""
        return random_array(self.shape, self.dtype, rng)

    @staticmethod
    def of(array: np.ndarray) -> Spec:
        return Spec(array.shape, array.dtype.name)
