"""Loading and running compiled code (no xDSL here)."""

from irc.runtime.executor import Kernel, aligned_empty

__all__ = ["Kernel", "aligned_empty"]
