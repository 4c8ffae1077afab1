"""Tracing a Python function into an `hl` function (the static graph)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

from xdsl.dialects.builtin import ModuleOp

from irc.errors import FrontendError
from irc.frontend.graph import Placeholder, Tracing, build_module
from irc.frontend.spec import Spec
from irc.frontend.tensor import Tensor


def flatten_outputs(result, fn_name: str) -> tuple[list[Tensor], bool]:
    """(tensors, is_single) from what the traced function returned."""
    if isinstance(result, Tensor):
        return [result], True
    if isinstance(result, (tuple, list)) and result and all(isinstance(r, Tensor) for r in result):
        return list(result), False
    raise FrontendError(f"{fn_name} must return a Tensor or a tuple of Tensors, got {type(result).__name__}")


def trace(fn: Callable, specs: Sequence[Spec], name: str | None = None, static_args: dict | None = None) -> ModuleOp:
    """Run `fn` on placeholder tensors of the given specs and return the hl module.

    Tensors captured from outside (closures, globals) and Python scalars are
    folded in as constants.
    """
    module, _ = trace_with_info(fn, specs, name, static_args)
    return module


def trace_with_info(fn: Callable, specs: Sequence[Spec], name: str | None = None, static_args: dict | None = None):
    """Like `trace`, also returning whether `fn` returned a single tensor."""
    placeholders = [Placeholder(None, (), {}, s.type, ("<input>", 0, 0), index=i) for i, s in enumerate(specs)]
    args = [Tensor(p) for p in placeholders]
    fn_name = name or getattr(fn, "__name__", "main")
    Tracing.depth += 1
    try:
        result = fn(*args, **(static_args or {}))
    finally:
        Tracing.depth -= 1
    outputs, single = flatten_outputs(result, fn_name)
    module, _ = build_module(
        [t._node for t in outputs], _symbol(fn_name), args=placeholders, constants=True, arg_names=_param_names(fn)
    )
    return module, single


def _param_names(fn: Callable) -> list[str]:
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        return []


def _symbol(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "main"
