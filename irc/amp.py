"""`irc.amp` (`torch.amp`): `GradScaler` for float16 training; `from irc.amp import GradScaler` works as
`from torch.amp import GradScaler` does. The implementation is `irc.frontend.amp`."""

from irc.frontend.amp import GradScaler

__all__ = ["GradScaler"]
