"""Loading and running compiled code and packages (no xDSL here; no TVM for GPU packages)."""

from irc.runtime.executor import Kernel, aligned_empty
from irc.runtime.package import Package, load

__all__ = ["Kernel", "Package", "aligned_empty", "load"]
