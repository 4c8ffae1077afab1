"""Importing TVM and tvm_ffi without PyTorch, unless the program already uses it.

tvm_ffi's `__init__` imports torch when it is installed (a workaround for a
symbol clash on Windows with torch 2.9 and Python 3.12), and TVM's relax
package imports `torch.utils.dlpack`: 1.5-3 s of every cold compile, for
programs that never touch torch. `import_without_torch` makes `import torch`
fail for the duration of the import, then forgets that, so the user's own
`import torch` later works as usual. What tvm_ffi then lacks is its
torch-specific conversions (torch dtypes, a faster DLPack exchange), which
irc does not use: it takes torch tensors through numpy.

    >>> tvm = import_without_torch("tvm")
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_without_torch(name: str) -> ModuleType:
    """`import name`, hiding torch from it when torch is not imported yet (on Windows: as is)."""
    if name in sys.modules or "torch" in sys.modules or sys.platform == "win32":
        return importlib.import_module(name)
    sys.modules["torch"] = None  # `import torch` raises ImportError, as if it were not installed
    try:
        return importlib.import_module(name)
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
