"""Tracing a Python function into an `hl` function (the static graph).

`trace_program` runs the function on placeholder tensors and records:

* the returned tensors (the function's outputs),
* tensors captured from outside the function (parameters, buffers, earlier
  gradients, computed or still lazy): with `capture_state`, these become
  extra inputs read afresh on every call, otherwise they fold in as constants,
* in-place updates and `.grad` writes made during the trace (an optimizer
  step, or an update of an argument: `x[0].add_(1)`): extra outputs that the
  caller writes back after each run (to the call's own argument),
* leaves with a `feed` (keys of `hl.random_uniform` for Dropout and
  `irc.randn`, optimizer hyper-parameters): extra inputs, read afresh on
  every call,
* guards (`guard`): Python values the trace depends on; the caller traces
  again when one of them changes.

Tensors are restored to their pre-trace state afterwards: a trace computes
nothing.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp

from irc.errors import FrontendError
from irc.frontend import graph
from irc.frontend.graph import Node, Placeholder, Tracing, build_module, topological_order
from irc.frontend.pytree import Tree, flatten
from irc.frontend.spec import Spec
from irc.frontend.tensor import Tensor


def _short_repr(value, limit: int = 60) -> str:
    text = f"{type(value).__name__} {value!r}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def flatten_outputs(result, fn_name: str) -> tuple[list[Tensor], bool]:
    """(tensors, is_single) from what the traced function returned."""
    if isinstance(result, Tensor):
        return [result], True
    if isinstance(result, (tuple, list)) and result and all(isinstance(r, Tensor) for r in result):
        return list(result), False
    if result is None:
        return [], False
    raise FrontendError(f"{fn_name} must return a Tensor, a tuple of Tensors or None, got {type(result).__name__}")


@dataclass
class TracedProgram:
    """A traced function: its hl module and how to call it."""

    module: ModuleOp
    num_outputs: int  # the function's own outputs; state updates follow them
    #: extra inputs after the explicit ones: ("tensor", Tensor) reads its value, ("grad", Tensor) its `.grad`'s,
    #: ("feed", fn) calls fn
    implicit_inputs: list[tuple] = field(default_factory=list)
    #: what the outputs after `num_outputs` update: (Tensor, "node" | "grad"); (Tensor, "grad-none") has no output;
    #: an int in place of the Tensor is an explicit argument (its index among the inputs): the call's own
    updates: list[tuple] = field(default_factory=list)
    #: (check, value): the program is valid while every check() == value (see `guard`)
    guards: list[tuple[Callable[[], Hashable], Hashable]] = field(default_factory=list)
    #: the structure of what the function returned (irc.frontend.pytree): its tensors are the outputs
    output_tree: Tree = ("static", None, type(None))

    def holds(self) -> bool:
        """Whether every guard of the trace still holds."""
        return all(check() == value for check, value in self.guards)


@dataclass
class TraceScope:
    """What a `tracing_scope` saw: where it started (node serials) and what it mutated."""

    start: int
    #: id(tensor) -> (tensor, its node before the trace, its .grad before the trace)
    mutated: dict[int, tuple] = field(default_factory=dict)
    guards: list[tuple[Callable[[], Hashable], Hashable]] = field(default_factory=list)
    #: ids of the tensors whose `.grad` state a guard checks (`guard_grad`)
    grad_guards: set[int] = field(default_factory=set)
    #: id(node of a tensor's .grad before the trace) -> the tensor (an input read as `tensor.grad` at each call)
    grad_reads: dict[int, Tensor] = field(default_factory=dict)

    def restore(self) -> None:
        """Put every mutated tensor back as it was before the trace."""
        for tensor, node, grad in self.mutated.values():
            tensor._node, tensor._grad = node, grad


@contextmanager
def tracing_scope() -> Iterator[TraceScope]:
    """Run code symbolically: values cannot be realized, in-place updates are recorded."""
    scope = TraceScope(next(graph._serials))
    outer_mutated, outer_start = Tracing.mutated, Tracing.start
    Tracing.depth += 1
    Tracing.mutated, Tracing.start = scope.mutated, scope.start
    _scopes.append(scope)
    try:
        yield scope
    finally:
        _scopes.pop()
        Tracing.depth -= 1
        Tracing.mutated, Tracing.start = outer_mutated, outer_start


_scopes: list[TraceScope] = []


def guard(check: Callable[[], Hashable]) -> None:
    """Make the running traces valid only while `check()` returns what it returns now.

    For Python values that shape the traced graph and may change between calls:
    `irc.jit` traces again when a guard fails (an optimizer guards whether its
    momentum is zero, which decides whether the update has a momentum buffer).
    Outside a trace this does nothing.
    """
    if _scopes:
        value = check()
        for scope in _scopes:
            scope.guards.append((check, value))


def guard_grad(tensor) -> None:
    """A trace read `tensor.grad` as it was before the trace (a captured parameter's, which backward()
    accumulates into): make the running traces valid only while it is None, or not, as now."""
    for scope in _scopes:
        if id(tensor) in scope.mutated or id(tensor) in scope.grad_guards or tensor._node.serial >= scope.start:
            continue
        scope.grad_guards.add(id(tensor))
        if tensor._grad is not None:  # read at every call through the tensor, whose .grad object may change
            scope.grad_reads[id(tensor._grad._node)] = tensor
        ref = weakref.ref(tensor)

        def check(ref=ref):
            t = ref()
            return None if t is None else t._grad is None

        scope.guards.append((check, check()))


Tracing.guard_grad = staticmethod(guard_grad)


def trace(fn: Callable, specs: Sequence[Spec], name: str | None = None) -> ModuleOp:
    """Run `fn` on placeholder tensors of the given specs and return the hl module.

    Captured tensors and Python scalars fold in as constants; in-place updates
    made by `fn` are not part of the result.
    """
    return trace_program(fn, specs, name).module


def trace_program(
    fn: Callable, specs: Sequence[Spec], name: str | None = None, capture_state: bool = False, device: str = "cpu"
) -> TracedProgram:
    """Trace `fn` (see the module docstring) on placeholder tensors on `device` (where the program runs)."""
    placeholders = [Placeholder(None, (), {}, s.type, ("<input>", 0, 0), index=i) for i, s in enumerate(specs)]
    fn_name = name or getattr(fn, "__name__", "main")
    arguments = [Tensor(p, device) for p in placeholders]
    with tracing_scope() as scope:
        result = fn(*arguments)
    try:
        outputs, output_tree = flatten(result, lambda v: isinstance(v, Tensor), f"what {fn_name} returned")
    except TypeError as e:
        raise FrontendError(f"{e}: a traced function returns tensors in (nested) tuples, lists and dicts") from None
    out_nodes = [t._node for t in outputs]
    updates: list[tuple] = []
    argument_index = {id(t): i for i, t in enumerate(arguments)}
    for tensor, node, grad in scope.mutated.values() if capture_state else ():
        target = argument_index.get(id(tensor), tensor)
        if tensor._node is not node:
            updates.append((target, "node"))
            out_nodes.append(tensor._node)
        if tensor._grad is not grad:
            updates.append((target, "grad") if tensor._grad is not None else (target, "grad-none"))
            if tensor._grad is not None:
                out_nodes.append(tensor._grad._node)
    scope.restore()
    if Tracing.mutated is not None:  # a nested trace's updates belong to the outer trace too
        for key, value in scope.mutated.items():
            Tracing.mutated.setdefault(key, value)
    if not out_nodes:
        returned = "nothing" if result is None else f"no tensor (it returned {_short_repr(result)})"
        raise FrontendError(
            f"{fn_name} returns {returned} and updates no tensor: there is nothing to compile (its arguments are "
            "tensors where they are numpy arrays or irc tensors; a Python list or number is a constant)"
        )

    def captured(node: Node) -> bool:
        """A value from before the trace that a live tensor holds (realized or not): read on every call."""
        return capture_state and node.serial < scope.start and node.owner is not None and node.owner() is not None

    def stop(node: Node) -> bool:
        return graph.is_leaf(node) or captured(node)

    implicit_nodes = []
    if capture_state:
        for leaf in topological_order(out_nodes, stop):
            if isinstance(leaf, Placeholder) or not stop(leaf):
                continue
            if captured(leaf) or leaf.feed is not None:
                implicit_nodes.append(leaf)
        # in creation order: a call draws its random keys in the order eager code would
        implicit_nodes.sort(key=lambda leaf: leaf.serial)
    implicit_inputs = [
        ("feed", n.feed) if n.feed is not None else ("grad", scope.grad_reads[id(n)]) if id(n) in scope.grad_reads
        else ("tensor", n.owner())
        for n in implicit_nodes
    ]  # fmt: skip
    names = [*_param_names(fn), *(f"state{i}" for i in range(len(implicit_nodes)))]
    module, _ = build_module(
        out_nodes, _symbol(fn_name), args=[*placeholders, *implicit_nodes], constants=True, arg_names=names, stop=stop
    )
    guards = list(scope.guards)
    captured_tensors = [value for kind, value in implicit_inputs if kind == "tensor"]
    if captured_tensors:  # whether a captured tensor requires grad shaped the trace (`requires_grad_(False)` later)
        flags = tuple(t.requires_grad for t in captured_tensors)
        guards.append((lambda: tuple(t.requires_grad for t in captured_tensors), flags))
    return TracedProgram(module, len(outputs), implicit_inputs, updates, guards, output_tree)


def _param_names(fn: Callable) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return []
    return [p.name for p in params]


def _symbol(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "main"


__all__ = ["guard", "trace", "trace_program", "TracedProgram"]
