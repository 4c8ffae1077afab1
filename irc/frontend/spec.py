"""`irc.Spec`: a declared example input (shape and dtype) for tracing and the CLI.

The type itself is irc.runtime.spec.Spec (numpy only, shared with packages and
`irc run`); this layer adds the hl `.type` and reports a bad shape at the caller's line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from irc.errors import FrontendError
from irc.frontend.graph import user_location
from irc.ir import hl
from irc.runtime import spec


class Spec(spec.Spec):
    """An input of `shape` and `dtype`, e.g. ``def f(x: irc.Spec((64, 784))): ...``.

    A negative or non-integer size is a FrontendError at the caller's line.
    """

    def __init__(self, shape: Sequence[int], dtype: str | np.dtype = "float32", name: str | None = None):
        try:
            super().__init__(shape, dtype, name)
        except ValueError as e:
            raise FrontendError(str(e), user_location()[:2]) from None

    @property
    def type(self):
        return hl.tensor_type(self.shape, hl.element_type_of(self.dtype))
