"""`irc.device`: PyTorch's device objects, accepted wherever a device string is.

A device is a `str` ("cpu", "cuda", "opencl"), so it compares equal to the
string and goes wherever one goes; it also has torch's `.type` and `.index`.

    >>> irc.device("cuda:0")
    device(type='cuda', index=0)
    >>> irc.device("cpu") == "cpu", irc.ones(2).device.type
    (True, 'cpu')
"""

from __future__ import annotations

from irc.errors import FrontendError
from irc.frontend.graph import user_location
from irc.runtime.devices import DEVICES


class device(str):  # noqa: N801 (PyTorch's name)
    """`irc.device("cuda")`, `irc.device("cuda:0")`, `irc.device("cuda", 0)`: where tensor data lives.

    irc drives one device of each kind, so the index may only be 0 (or left out).
    """

    type: str
    index: int | None

    def __new__(cls, type: str, index: int | None = None) -> device:  # noqa: A002 (PyTorch's keyword)
        if isinstance(type, device) and index is None:
            return type
        if not isinstance(type, str):
            raise TypeError(f"irc.device: expected a string like 'cuda' or 'cuda:0', got {type!r}")
        kind, _, number = type.partition(":")
        if number:
            if index is not None or not number.isdigit():
                raise FrontendError(f"invalid device string: {type!r}", user_location()[:2])
            index = int(number)
        if kind not in DEVICES:
            raise FrontendError(
                f"unknown device {type!r}: expected one of {', '.join(DEVICES)}, optionally with ':0'",
                user_location()[:2],
            )
        if index not in (None, 0):
            raise FrontendError(
                f"device {kind}:{index} is not available: irc drives one device of each kind ({kind}:0)",
                user_location()[:2],
            )
        self = super().__new__(cls, kind)
        self.type, self.index = kind, index
        return self

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __reduce__(self):
        return device, (self.type, self.index)


#: the device objects tensors carry (`x.device`), one per kind
_KINDS = {kind: device(kind) for kind in DEVICES}


def as_device(where) -> device:
    """The device object of `where` (a device, "cuda", "cuda:0"); unknown names are a FrontendError."""
    found = _KINDS.get(where)
    return found if found is not None else _KINDS[device(where).type]
