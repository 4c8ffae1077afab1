"""`irc.nn.parallel`: PyTorch's data-parallel wrappers, which irc (one process, one device) does not have.

The names exist so that scripts importing them (`from torch.nn.parallel import DistributedDataParallel
as DDP`, used only under `torchrun`) import; wrapping a model is a clear error.
"""

from __future__ import annotations

from irc.errors import FrontendError
from irc.frontend.graph import user_location


class DistributedDataParallel:
    def __init__(self, module, *args, **kwargs):
        raise FrontendError(
            "nn.parallel.DistributedDataParallel is not supported: irc runs one process on one device; "
            "use the module itself",
            user_location()[:2],
        )


class DataParallel:
    def __init__(self, module, *args, **kwargs):
        raise FrontendError(
            "nn.DataParallel is not supported: irc runs on one device; use the module itself", user_location()[:2]
        )
