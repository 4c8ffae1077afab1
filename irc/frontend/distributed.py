"""`irc.distributed`: PyTorch's `torch.distributed` entry points, answered for irc's single process.

irc runs one process on one device: there is no process group. `is_available()` is False, as in a
PyTorch build without distributed support, so scripts that check it (or only start a group when
launched by `torchrun`, as nanoGPT's `train.py` does) run on; starting a group is a clear error.
"""

from __future__ import annotations

from irc.errors import FrontendError
from irc.frontend.graph import user_location

_WHY = "irc runs one process on one device and has no process groups (docs/torch-api.md)"


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False


def init_process_group(*args, **kwargs) -> None:
    raise FrontendError(f"torch.distributed.init_process_group is not supported: {_WHY}", user_location()[:2])


def destroy_process_group(*args, **kwargs) -> None:
    raise FrontendError(f"torch.distributed.destroy_process_group is not supported: {_WHY}", user_location()[:2])
