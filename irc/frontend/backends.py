"""`irc.backends`: the PyTorch backend flags scripts set or ask, with irc's answers.

irc has neither Apple's MPS nor cuDNN: `irc.backends.mps.is_available()` is False, and the
`irc.backends.cudnn` flags (`benchmark`, `deterministic`, `enabled`) may be set but change nothing.
"""

from __future__ import annotations


class mps:  # noqa: N801 (PyTorch's names)
    """Apple's Metal backend: not in irc."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def is_built() -> bool:
        return False


class cudnn:  # noqa: N801
    """cuDNN's flags: irc's CUDA kernels are its own, so setting them changes nothing."""

    enabled = True
    benchmark = False
    deterministic = False

    @staticmethod
    def is_available() -> bool:
        return False
