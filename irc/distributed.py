"""`irc.distributed` (`torch.distributed`): irc runs one process on one device, so `is_available()` is
False and starting a process group is a clear error; `from irc.distributed import init_process_group`
works as in PyTorch. The implementation is `irc.frontend.distributed`."""

from irc.frontend.distributed import destroy_process_group, init_process_group, is_available, is_initialized

__all__ = ["destroy_process_group", "init_process_group", "is_available", "is_initialized"]
