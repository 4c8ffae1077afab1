"""Realizing lazy tensors: compile the pending graph (cached by structure) and run it.

The compiler is irc's pipeline (`irc.driver.pipeline`), imported on the first
compile: the driver imports the frontend, not the other way round at load
time. `set_compiler` installs another one (tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from irc.errors import FrontendError
from irc.frontend.graph import Node, Placeholder, build_module, graph_key
from irc.runtime.devices import device_of, move

#: (hl module, target) -> callable(*numpy arrays) -> tuple of numpy arrays
Compiler = Callable[[ModuleOp, str], Callable[..., Sequence[np.ndarray]]]


def _pipeline_compiler(module: ModuleOp, target: str) -> Callable[..., Sequence[np.ndarray]]:
    from irc.driver.pipeline import Pipeline

    return Pipeline(target=target).run(module)


_compiler: Compiler = _pipeline_compiler
_cache: dict[tuple, Callable[..., Sequence[np.ndarray]]] = {}


def eager_target(device: str) -> str | dict:
    """The target eager tensors on `device` compile for (CUDA: the arch of device 0)."""
    if device == "cpu":
        return "llvm"
    if device == "cuda":
        from irc.targets.cuda import device_arch  # TVM is heavy: imported for the first cuda compile

        return {"kind": "cuda", "arch": device_arch()}
    return device


def set_compiler(compiler: Compiler) -> None:
    global _compiler
    _compiler = compiler


def clear_cache() -> None:
    _cache.clear()


def cache_size() -> int:
    return len(_cache)


def realize(node: Node, device: str | None = None):
    """The value of `node` (a numpy array, or a DeviceArray on a GPU device): computed once, then kept."""
    if node.value is None:
        realize_all([node], device)
    return node.value


def realize_all(nodes: Sequence[Node], device: str | None = None) -> list:
    """Realize several nodes as one compiled program on `device` (default: where their inputs live)."""
    pending = list({id(n): n for n in nodes if n.value is None}.values())
    if pending:
        key, leaves = graph_key(pending)
        for leaf in leaves:
            if isinstance(leaf, Placeholder):
                raise FrontendError(
                    "the value of a traced tensor is not known inside irc.jit (no .numpy()/.item()/print on it)",
                    pending[0].loc[:2],
                )
        if device is None:
            device = next((d for d in (device_of(leaf.value) for leaf in leaves) if d != "cpu"), "cpu")
        target = eager_target(device)
        cache_key = (key, json.dumps(target, sort_keys=True))
        run = _cache.get(cache_key)
        if run is None:
            module, _ = build_module(pending, "main", args=leaves)
            run = _cache[cache_key] = _compiler(module, target)
        values = [move(leaf.value, device) for leaf in leaves]
        outputs = run(*values) if device == "cpu" else run.compiled.run_device(*values)
        for node, value in zip(pending, outputs):
            node.value = value
    return [n.value for n in nodes]
