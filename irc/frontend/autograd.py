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
import weakref
from collections.abc import Sequence

import numpy as np

from irc.frontend.graph import GradMode, Node, Replay, build_module, data_node, graph_key, topological_order


class _GradModeContext:
    enabled: bool

    def __enter__(self):
        self._prev = GradMode.enabled
        GradMode.enabled = self.enabled

    def __exit__(self, *exc):
        GradMode.enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with copy.copy(self):  # a context of its own per call (recursion, threads)
                return fn(*args, **kwargs)

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
    """`with irc.set_grad_enabled(False): ...`"""

    def __init__(self, mode: bool):
        self.enabled = bool(mode)


class inference_mode(_GradModeContext):
    """PyTorch's inference mode: in irc `no_grad` (there are no version counters to skip);
    `inference_mode(False)` leaves the grad mode as it is.

    >>> with irc.inference_mode():
    ...     pred = model(x)
    """

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = GradMode.enabled
        GradMode.enabled = GradMode.enabled and not self.mode


def is_grad_enabled() -> bool:
    return GradMode.enabled


def _differentiable(node: Node) -> bool:
    """Nodes backward() differentiates through (not leaves, not detached values)."""
    return node.requires_grad and not node.leaf


def _outside(node: Node) -> bool:
    return not _differentiable(node)


def backward_graph(root: Node) -> tuple[list[Node], list[Node], list[Node], list[Node]]:
    """(nodes to differentiate through, leaves requiring grad, other inputs, all of them in
    topological order) of `root`."""
    order = topological_order([root], stop=_outside)
    inner = [n for n in order if _differentiable(n)]
    wrt = [n for n in order if not _differentiable(n) and n.requires_grad]
    others = [n for n in order if not n.requires_grad]
    return inner, wrt, others, order


#: gradient functions by (forward graph structure, number of leaves, seed kind), least recently used
#: first, each ready to replay (`graph.Replay`)
_vjp_cache: dict[tuple, Replay] = {}
_VJP_CACHE_SIZE = 256


def backward(root: Node, gradient: Node | None, retain_graph: bool) -> list[tuple[Node, Node]]:
    """(leaf, gradient node) for every leaf requiring grad that `root` depends on."""
    from irc.transforms.autodiff import build_vjp

    inner, wrt, others, order = backward_graph(root)
    for n in inner:
        if n.freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after they "
                "have already been freed). Specify retain_graph=True if you need to backward through the graph a "
                f"second time (the graph was recorded at {n.loc[0]}:{n.loc[1]})"
            )
    args = [*wrt, *others]
    seed = "input" if gradient is not None else "ones"
    key = (graph_key([root], _outside, args, order)[0], len(wrt), seed)
    grad_fn = _vjp_cache.pop(key, None)
    if grad_fn is None:  # a new graph structure: build its gradient function (an eager loop reuses it)
        module, _ = build_module([root], "loss", args=args, stop=_outside)
        grad_fn = Replay(build_vjp(next(iter(module.ops)), list(range(len(wrt))), seed=seed, return_primals=True))
    _vjp_cache[key] = grad_fn  # most recently used last
    while len(_vjp_cache) > _VJP_CACHE_SIZE:
        del _vjp_cache[next(iter(_vjp_cache))]
    inputs = [*args, *([gradient] if gradient is not None else [])]
    with no_grad():
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
    return list(zip(wrt, grads))


def accumulate(old: Node | None, new: Node) -> Node:
    """old + new without recording history (`.grad` accumulates across backward calls)."""
    if old is None:
        return new
    from irc.frontend.graph import apply
    from irc.ir import hl

    with no_grad():
        return apply(hl.AddOp, [old, new])


def realize_many(nodes: Sequence[Node]) -> list[np.ndarray]:
    """Realize several nodes as ONE compiled program (e.g. all parameter updates of a step)."""
    from irc.frontend import realize

    return realize.realize_all(nodes)


__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "backward", "data_node"]
