"""PyTorch's legacy typed constructors: `irc.FloatTensor`, `DoubleTensor`, `HalfTensor`,
`BFloat16Tensor`, `LongTensor`, `IntTensor`, `BoolTensor`.

`irc.LongTensor([1, 2])` copies data to int64 (floats truncated, as torch), `irc.FloatTensor(2, 3)`
is a tensor of that shape (zeros here; uninitialised in torch), `irc.FloatTensor(t)` is `t`'s data
when t already has that dtype (torch's TypeError otherwise).  The names are classes only for
`isinstance`: `isinstance(x, irc.FloatTensor)` is True for a float32 tensor on the cpu, as in torch;
what they construct is an ordinary `irc.Tensor`.
"""

from __future__ import annotations

import numpy as np

from irc.frontend import graph
from irc.frontend.tensor import _TYPE_NAMES, Tensor, as_array
from irc.ir import hl
from irc.runtime.devices import move


class _LegacyType(type):
    """The metaclass of the typed constructors: calling one builds a Tensor of its dtype."""

    short: str

    def __call__(cls, *args, device: str = "cpu") -> Tensor:
        dtype = cls.dtype
        if len(args) == 1 and isinstance(args[0], Tensor):
            if args[0]._node.dtype != cls.short:
                raise TypeError(f"expected {cls.__name__} (got {args[0].type()})")
            return Tensor(args[0], device=device)
        if not args or (isinstance(args[0], (int, np.integer)) and not isinstance(args[0], bool)):
            return Tensor(*args, device=device).to(dtype)
        if len(args) > 1:
            got = ", ".join(type(a).__name__ for a in args)
            raise TypeError(f"irc.{cls.__name__}(): expected a sequence of numbers or sizes, got ({got})")
        array = as_array(args[0], dtype, f"irc.{cls.__name__}", copy=True)
        return Tensor(graph.data_node(move(array, device)), device=device)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj._node.dtype == cls.short and obj.device.type == "cpu"

    @property
    def dtype(cls):
        return hl.NUMPY_DTYPES[cls.short]


def _legacy(short: str) -> _LegacyType:
    cls = _LegacyType(
        _TYPE_NAMES[short],
        (),
        {
            "short": short,
            "__doc__": f"`irc.{_TYPE_NAMES[short]}(...)`: torch's legacy constructor (see irc/frontend/legacy.py).",
        },
    )
    cls.__module__ = "irc"
    return cls


FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor = (_legacy(s) for s in ("f32", "f64", "f16", "bf16"))
LongTensor, IntTensor, BoolTensor = (_legacy(s) for s in ("i64", "i32", "i1"))
