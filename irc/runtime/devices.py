"""Where tensor data lives: numpy arrays on the CPU, `DeviceArray`s on "cuda" / "opencl".

The frontend keeps eager tensors on their device between kernels; only
`.numpy()` (and `Tensor.to("cpu")`) copies to the host.
"""

from __future__ import annotations

import functools

import numpy as np

from irc.runtime.kinds import RUNTIME_KINDS
from irc.runtime.plan import Device, DeviceArray

#: "cpu" and the device of every kind of code that runs on one (irc.runtime.kinds), in table order
DEVICES = ("cpu", *dict.fromkeys(kind.device for kind in RUNTIME_KINDS.values() if kind.open_device))


@functools.cache
def data_device(kind: str) -> Device:
    """The device that allocates and copies data for device `kind` (opened once; errors name what is missing)."""
    for runtime_kind in RUNTIME_KINDS.values():
        if runtime_kind.device == kind and runtime_kind.open_device:
            return runtime_kind.open_device()
    raise ValueError(f"no device data for {kind!r}")


def device_of(value) -> str:
    """ "cpu" for a numpy array, else the kind of the DeviceArray's device."""
    return getattr(value.device, "kind", "cpu") if isinstance(value, DeviceArray) else "cpu"


def move(value, kind: str):
    """`value` (numpy or DeviceArray) on device `kind`; no copy when it is already there."""
    if kind == "cpu" and type(value) is np.ndarray:  # the common case, first
        return value
    if device_of(value) == kind:
        return value
    host = value.to_numpy() if isinstance(value, DeviceArray) else np.asarray(value)
    return host if kind == "cpu" else DeviceArray.from_numpy(data_device(kind), host)


def to_host(value) -> np.ndarray:
    return move(value, "cpu")
