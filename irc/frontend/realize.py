"""Realizing lazy tensors: compile the pending graph (cached by structure) and run it.

The compiler is irc's pipeline (`irc.driver.pipeline`), imported on the first
compile: the driver imports the frontend, not the other way round at load
time. `set_compiler` installs another one (tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from irc.errors import FrontendError
from irc.frontend.graph import Node, Placeholder, build_module, graph_key

#: (hl module, target) -> callable(*numpy arrays) -> tuple of numpy arrays
Compiler = Callable[[ModuleOp, str], Callable[..., Sequence[np.ndarray]]]


def _pipeline_compiler(module: ModuleOp, target: str) -> Callable[..., Sequence[np.ndarray]]:
    from irc.driver.pipeline import Pipeline

    return Pipeline(target=target).run(module)


_compiler: Compiler = _pipeline_compiler
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
    if node.value is None:
        realize_all([node], device)
    return node.value


def realize_all(nodes: Sequence[Node], device: str = "cpu") -> list[np.ndarray]:
    """Realize several nodes as one compiled program; each keeps its value."""
    pending = list({id(n): n for n in nodes if n.value is None}.values())
    if pending:
        key, leaves = graph_key(pending)
        for leaf in leaves:
            if isinstance(leaf, Placeholder):
                raise FrontendError(
                    "the value of a traced tensor is not known inside irc.jit (no .numpy()/.item()/print on it)",
                    pending[0].loc[:2],
                )
        target = EAGER_TARGET[device]
        run = _cache.get((key, target))
        if run is None:
            module, _ = build_module(pending, "main", args=leaves)
            run = _cache[(key, target)] = _compiler(module, target)
        for node, value in zip(pending, run(*(leaf.value for leaf in leaves))):
            node.value = value
    return [n.value for n in nodes]
