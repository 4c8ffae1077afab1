"""Eager autograd with PyTorch semantics, built on the `hl` autodiff transformation.

`Tensor.backward()` cuts the recorded graph between the loss and the leaves
that require grad, turns it into an `hl` function, applies the same VJP
transformation `irc.grad` uses (`irc.transforms.autodiff.build_vjp`) and replays
the gradient function as recorded nodes.  Gradients are therefore lazy
tensors too: an optimizer step realizes the whole forward + backward +
update graph at once, compiled (and cached) as one program.  Inside
`irc.jit` the same code records the backward pass into the static graph.
"""

from __future__ import annotations

import copy
import functools
import heapq
import inspect
import itertools
import weakref
from collections.abc import Sequence

import numpy as np

from irc.frontend.graph import GradMode, Node, Replay, build_module, data_node, graph_key, topological_order
from irc.ir import hl


class _GradModeContext:
    """A grad-mode switch used as a context manager or a decorator (`@irc.no_grad()` or `@irc.no_grad`); a
    decorated generator runs every step in the mode, as PyTorch's."""

    enabled: bool

    def __new__(cls, *args, **kwargs):
        if cls._decorates(args):  # `@irc.no_grad` without parentheses: decorate at once
            return cls()(args[0])
        return super().__new__(cls)

    @classmethod
    def _decorates(cls, args) -> bool:
        return len(args) == 1 and callable(args[0]) and cls in (no_grad, enable_grad)

    def _mode(self) -> bool:
        return self.enabled

    def _fresh(self):
        """The context one call of a decorated function runs in."""
        return copy.copy(self)

    def __enter__(self):
        self._prev = GradMode.enabled
        GradMode.enabled = self._mode()

    def __exit__(self, *exc):
        GradMode.enabled = self._prev

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():  # a context of its own per call (recursion, threads)
                return fn(*args, **kwargs)

        return wrapper

    def _wrap_generator(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with self._fresh():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self._fresh():
                            gen.close()
                        raise
                    except BaseException as error:  # noqa: BLE001 - handed to the generator, as torch does
                        with self._fresh():
                            response = gen.throw(error)
                    else:
                        with self._fresh():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return wrapper


class no_grad(_GradModeContext):
    """Context manager / decorator: ops inside record no gradient history.

    >>> with irc.no_grad():
    ...     w -= 0.1 * w.grad
    """

    enabled = False


class enable_grad(_GradModeContext):
    """Context manager / decorator: turn gradient recording back on inside `no_grad`."""

    enabled = True


class set_grad_enabled(_GradModeContext):
    """`irc.set_grad_enabled(False)` switches gradient recording off (or on) at once, as PyTorch's; as a
    context manager (`with irc.set_grad_enabled(False): ...`) or a decorator it restores the mode after."""

    def __init__(self, mode: bool):
        self.enabled = bool(mode)
        self._prev = GradMode.enabled
        GradMode.enabled = self.enabled

    def __enter__(self):  # the mode is set already; __exit__ restores the one before __init__
        GradMode.enabled = self.enabled

    def __call__(self, fn):
        GradMode.enabled = self._prev  # a decorator: the mode changes inside the function only
        return super().__call__(fn)

    def _fresh(self):
        return set_grad_enabled(self.enabled)


class inference_mode(_GradModeContext):
    """PyTorch's inference mode: in irc `no_grad` (there are no version counters to skip);
    `inference_mode(False)` leaves the grad mode as it is. A decorator with or without parentheses.

    >>> with irc.inference_mode():
    ...     pred = model(x)
    """

    @classmethod
    def _decorates(cls, args) -> bool:
        return len(args) == 1 and callable(args[0]) and not isinstance(args[0], bool)

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def _mode(self) -> bool:
        return GradMode.enabled and not self.mode


def is_grad_enabled() -> bool:
    return GradMode.enabled


def _differentiable(node: Node) -> bool:
    """Nodes backward() differentiates through (not leaves, not detached values)."""
    return node.requires_grad and not node.leaf


def _outside(node: Node) -> bool:
    return not _differentiable(node)


#: gradient functions by (forward graph structure, number of leaves, seed kind), least recently used
#: first, each ready to replay (`graph.Replay`)
_vjp_cache: dict[tuple, Replay] = {}
_VJP_CACHE_SIZE = 256

#: set once a hook, `retain_grad` or a custom Function is in use: until then backward() never looks for them
_barriers_used = False


def _segment(
    root: Node,
    gradient: Node | None,
    retain_graph: bool,
    create_graph: bool,
    cut: set[int] | None = None,
    order: list[Node] | None = None,
) -> tuple[list[Node], list[Node], list[Node]]:
    """Differentiate `root`'s graph (seeded with `gradient`, or ones) back to the leaves requiring grad and the
    `cut` nodes (ids) it reaches, which it treats as inputs: (those nodes, their gradients, the nodes between).
    `order`: `topological_order([root], stop=_outside)` where the caller has it already (no cut)."""
    from irc.transforms.autodiff import build_vjp

    if cut:
        stop = lambda n: _outside(n) or (id(n) in cut and n is not root)  # noqa: E731
        order = topological_order([root], stop=stop)
    else:
        stop = _outside
        order = order if order is not None else topological_order([root], stop=stop)
    inner = [n for n in order if not stop(n)]
    for n in inner:
        if n.freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after they "
                "have already been freed). Specify retain_graph=True if you need to backward through the graph a "
                f"second time (the graph was recorded at {n.loc[0]}:{n.loc[1]})"
            )
    wrt = [n for n in order if stop(n) and n.requires_grad]
    args = [*wrt, *(n for n in order if stop(n) and not n.requires_grad)]
    seed = "input" if gradient is not None else "ones"
    key = (graph_key([root], stop, args, order)[0], len(wrt), seed)
    grad_fn = _vjp_cache.pop(key, None)
    if grad_fn is None:  # a new graph structure: build its gradient function (an eager loop reuses it)
        module, _ = build_module([root], "loss", args=args, stop=stop)
        grad_fn = Replay(build_vjp(next(iter(module.ops)), list(range(len(wrt))), seed=seed, return_primals=True))
    _vjp_cache[key] = grad_fn  # most recently used last
    while len(_vjp_cache) > _VJP_CACHE_SIZE:
        del _vjp_cache[next(iter(_vjp_cache))]
    inputs = [*args, *([gradient] if gradient is not None else [])]
    with set_grad_enabled(create_graph):  # create_graph: the gradients get a history of their own
        primal, *grads = grad_fn(inputs)
    # The gradient function computes root's value on its way (the forward pass): realized with the
    # gradients while root is unrealized and held by a tensor (`loss.item()` after `opt.step()`), root
    # takes it from there instead of running its forward pass again as a program of its own
    primal.twin, root.primal = weakref.ref(root), weakref.ref(primal)
    given = {id(n) for n in inputs}
    for g in grads:
        if g.value is None and id(g) not in given:
            g.companions = (primal,)
    if not retain_graph:
        for n in inner:
            n.freed = True
    return wrt, grads, inner


def run_backward(
    roots: Sequence[Node],
    seeds: Sequence[Node | None],
    retain_graph: bool,
    create_graph: bool = False,
    targets: Sequence[Node] = (),
    tensor_type: type | None = None,
) -> tuple[list[tuple[Node, Node]], dict[int, Node]]:
    """The gradients of the roots (each seeded with its seed, None for ones) as PyTorch's backward computes
    them: ([(leaf, gradient)] for every leaf requiring grad they reach, {id(target): gradient} for the
    `targets` they reach (nodes `irc.autograd.grad` asks for, leaves or not)).

    Where no node in the way has a hook (`Tensor.register_hook`, `retain_grad`) or is a custom
    `Function`'s output, and nothing but leaves is asked for, this is one gradient function of the whole
    graph. Otherwise the graph is cut at those nodes: each segment's gradient function runs from its
    node back to the leaves and cut nodes it reaches, downstream segments first, so that a cut node's
    gradient is complete (the sum over its uses) when its hooks, its Function's `backward` or the caller
    see it; the leaves' gradients are the sums over the segments, by linearity. Hooks get their gradient
    as a `tensor_type` (the frontend's Tensor: this module sits below it).
    """
    if len(roots) == 1 and not targets:
        root = roots[0]
        order = topological_order([root], stop=_outside) if _barriers_used else None
        if order is None or not any(n.hooks or n.function for n in order):
            wrt, grads, _ = _segment(root, seeds[0], retain_graph, create_graph, order=order)
            return list(zip(wrt, grads)), {}
    return _run_segments(roots, seeds, retain_graph, create_graph, targets, tensor_type)


def _grad_inputs(node: Node) -> tuple[Node, ...]:
    """The nodes gradients flow to from `node`: a custom Function's inputs for one of its outputs."""
    return node.function[0].input_nodes if node.function is not None else node.inputs


def _run_segments(roots, seeds, retain_graph, create_graph, targets, tensor_type):
    """`run_backward` through hooks, custom Functions and non-leaf targets (see there)."""
    order = _order(roots)
    position = {id(n): float(i) for i, n in enumerate(order)}
    wanted = {id(t) for t in targets}
    cut = {id(n) for n in order if not _outside(n) and (n.hooks or n.function is not None or id(n) in wanted)}
    pending: dict[int, list] = {}  # id -> [node, gradient so far] of the cut nodes gradients reached
    heap: list[tuple] = []  # (-position, id): the cut node (or Function) furthest downstream first
    leaves: dict[int, list] = {}
    found: dict[int, Node] = {}
    inner_all: list[Node] = []
    tie = itertools.count()

    def add(node: Node, g: Node) -> None:
        if _outside(node):
            if node.requires_grad:
                entry = leaves.setdefault(id(node), [node, None])
                entry[1] = _sum(entry[1], g, create_graph)
            return
        entry = pending.get(id(node))
        if entry is None:
            pending[id(node)] = [node, g]
            heapq.heappush(heap, (-position[id(node)], next(tie), node))
        else:
            entry[1] = _sum(entry[1], g, create_graph)

    for root, seed in zip(roots, seeds):
        add(root, seed if seed is not None else data_node(np.ones(root.shape, hl.numpy_dtype(root.type.element_type))))
    while heap:
        _, _, item = heapq.heappop(heap)
        if not isinstance(item, Node):  # a custom Function whose outputs' gradients are all in
            for node, g in zip(item.input_nodes, item._call_backward(create_graph)):
                if g is not None:
                    add(node, g)
            continue
        node, g = pending.pop(id(item))
        if node.hooks:
            g = _run_hooks(node, g, create_graph, tensor_type)
        if id(node) in wanted:
            found[id(node)] = g
        if node.function is not None:
            ctx, index = node.function
            if node.freed:
                raise RuntimeError(
                    f"Trying to backward through {ctx.name}'s backward a second time: specify retain_graph=True "
                    f"(the Function was applied at {node.loc[0]}:{node.loc[1]})"
                )
            inner_all.append(node)
            if ctx._add_grad(index, g, create_graph):  # its first output seen: run it after all of them
                first = min(position.get(id(o), float("inf")) for o in ctx.output_nodes())
                heapq.heappush(heap, (-(first - 0.5), next(tie), ctx))
            continue
        wrt, grads, inner = _segment(node, g, True, create_graph, cut)
        inner_all.extend(inner)
        for n, gn in zip(wrt, grads):
            add(n, gn)
    if not retain_graph:
        for n in inner_all:
            n.freed = True
    for t in targets:
        if id(t) not in found and id(t) in leaves:
            found[id(t)] = leaves[id(t)][1]
    ordered = sorted(leaves.values(), key=lambda e: position.get(id(e[0]), -1.0))
    return [(n, g) for n, g in ordered], found


def _order(roots: Sequence[Node]) -> list[Node]:
    """The nodes gradients flow through from `roots`, inputs first (through custom Functions to their inputs),
    and the leaves and values they stop at."""
    return topological_order(roots, stop=_outside, inputs_of=_grad_inputs)


def _sum(old: Node | None, new: Node, create_graph: bool) -> Node:
    if old is None:
        return new
    from irc.frontend.graph import apply

    with set_grad_enabled(create_graph):
        return apply(hl.AddOp, [old, new])


def _run_hooks(node: Node, g: Node, create_graph: bool, tensor_type) -> Node:
    """Call `node`'s hooks in order with its gradient; a hook that returns a tensor replaces it
    (`retain_grad`'s hook sees the final one, as in PyTorch)."""
    hooks = sorted(node.hooks, key=lambda h: isinstance(h, RetainGrad))
    return apply_hooks(hooks, g, node, create_graph, tensor_type)


def apply_hooks(hooks, g: Node, node: Node, create_graph: bool, tensor_type, device: str | None = None) -> Node:
    """Call tensor hooks on the gradient `g` of a tensor like `node` (shape, dtype; on `device`, by default its
    tensor's); a hook that returns something replaces the gradient with it."""
    if device is None:
        owner = node.owner() if node.owner is not None else None
        device = owner.device if owner is not None else "cpu"
    with set_grad_enabled(create_graph):
        for hook in hooks:
            result = hook(tensor_type(g, device))
            if result is None:
                continue
            if not isinstance(result, tensor_type) or result.shape != node.shape:
                got = f"shape {list(result.shape)}" if isinstance(result, tensor_type) else type(result).__name__
                raise RuntimeError(
                    f"hook '{getattr(hook, '__name__', hook)}' returned {got}, expected a tensor of shape "
                    f"{list(node.shape)} (the gradient it was given) or None"
                )
            g = result._cast(node.dtype)._node
    return g


class RetainGrad:
    """The hook `Tensor.retain_grad()` puts on a non-leaf: accumulate its gradient into the tensor's `.grad`."""

    def __init__(self, tensor):
        self.tensor = weakref.ref(tensor)

    def __call__(self, grad):
        tensor = self.tensor()
        if tensor is not None:
            tensor._grad = grad if tensor._grad is None else tensor._grad + grad


class RemovableHandle:
    """What `Tensor.register_hook` returns: `remove()` takes the hook off."""

    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        for k, h in enumerate(self._hooks):
            if h is self._hook:
                del self._hooks[k]
                break

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def realize_many(nodes: Sequence[Node]) -> list[np.ndarray]:
    """Realize several nodes as ONE compiled program (e.g. all parameter updates of a step)."""
    from irc.frontend import realize

    return realize.realize_all(nodes)


__all__ = ["enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "run_backward", "set_grad_enabled"]
