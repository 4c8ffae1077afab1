"""`irc.accelerator`: PyTorch's device-agnostic queries (the PyTorch quickstart picks its device with them).

    >>> device = irc.accelerator.current_accelerator().type if irc.accelerator.is_available() else "cpu"

irc's accelerator is CUDA where `irc.cuda.is_available()`; OpenCL devices are only used when asked for
by name (`device="opencl"`).
"""

from __future__ import annotations

from irc.frontend import cuda
from irc.frontend.device import device


def is_available() -> bool:
    """True where irc can run on a CUDA GPU."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """`irc.device("cuda")` where a GPU is available, else None."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()
