"""`irc.cuda`: PyTorch's `torch.cuda` queries, answered by irc's own CUDA runtime (no TVM).

>>> irc.cuda.is_available()       # False without cuda-python, an NVIDIA driver or a GPU
False
>>> dev = irc.device("cuda" if irc.cuda.is_available() else "cpu")
"""

from __future__ import annotations

from irc.runtime import cuda as _runtime


def device_count() -> int:
    """How many CUDA devices the driver sees (0 without cuda-python, a driver or a GPU)."""
    return _runtime.device_count()


def is_available() -> bool:
    """True where irc can run the `cuda` target: cuda-python, an NVIDIA driver and at least one GPU."""
    return device_count() > 0


class amp:  # noqa: N801 (PyTorch's name)
    """`irc.cuda.amp`: the older spelling of `irc.amp` for CUDA (`torch.cuda.amp.GradScaler(...)`)."""

    @staticmethod
    def GradScaler(*args, **kwargs):  # noqa: N802
        """`irc.amp.GradScaler("cuda", ...)`."""
        from irc.frontend.amp import GradScaler

        return GradScaler("cuda", *args, **kwargs)
