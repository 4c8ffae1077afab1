"""Realizing lazy tensors: compile the pending graph (cached by structure) and run it.

The frontend does not know the compiler: `irc/__init__.py` installs the
driver's compile function with `set_compiler`, keeping data flowing one way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from irc.errors import FrontendError
from irc.frontend.graph import Node, Placeholder, build_module, graph_key

#: (hl module, target) -> callable(*numpy arrays) -> tuple of numpy arrays
Compiler = Callable[[ModuleOp, str], Callable[..., Sequence[np.ndarray]]]

_compiler: Compiler | None = None
_cache: dict[tuple, Callable[..., Sequence[np.ndarray]]] = {}
EAGER_TARGET = {"cpu": "llvm"}


def set_compiler(compiler: Compiler) -> None:
    global _compiler
    _compiler = compiler


def clear_cache() -> None:
    _cache.clear()


def cache_size() -> int:
    return len(_cache)


def realize(node: Node, device: str = "cpu") -> np.ndarray:
    """The value of `node`: compiled and run once, then kept on the node."""
    if node.value is not None:
        return node.value
    key, leaves = graph_key([node])
    for leaf in leaves:
        if isinstance(leaf, Placeholder):
            raise FrontendError(
                "the value of a traced tensor is not known inside irc.jit (do not call .numpy()/.item()/print on it)",
                node.loc[:2],
            )
    target = EAGER_TARGET[device]
    run = _cache.get((key, target))
    if run is None:
        if _compiler is None:
            raise RuntimeError("no compiler installed; import irc (not irc.frontend) first")
        module, _ = build_module([node], "main", args=leaves)
        run = _cache[(key, target)] = _compiler(module, target)
    (node.value,) = run(*(leaf.value for leaf in leaves))
    return node.value
