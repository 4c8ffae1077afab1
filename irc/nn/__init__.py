"""`irc.nn`: neural-network building blocks (PyTorch spelling)."""

from irc.nn import functional

__all__ = ["functional"]
