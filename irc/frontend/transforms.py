"""Function transformations with JAX semantics: `grad`, `value_and_grad`, `vjp`, `jvp`.

Each one traces the function on placeholders of its arguments' shapes, turns
the hl function into its derivative (`irc.transforms.autodiff`), and replays
the derivative's ops as graph nodes on the actual arguments.  The result is
ordinary lazy tensors, so the transformations work eagerly, inside
`irc.jit` (which then compiles the gradient graph) and nested
(`irc.grad(irc.grad(f))`, Hessian-vector products as `jvp` of `grad`).

    >>> def loss(w, x):
    ...     return (x @ w).tanh().sum()
    >>> dw = irc.grad(loss)(w, x)                          # d loss / d w
    >>> value, (dw, dx) = irc.value_and_grad(loss, argnums=(0, 1))(w, x)
    >>> y, pullback = irc.vjp(loss, w, x); dw, dx = pullback(irc.ones(()))
    >>> y, ty = irc.jvp(loss, (w, x), (tw, tx))            # directional derivative
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects import func

from irc.errors import FrontendError
from irc.frontend import graph
from irc.frontend.graph import Node, Placeholder, replay
from irc.frontend.tensor import Tensor, tensor
from irc.frontend.tracing import flatten_outputs, tracing_scope
from irc.interpreters.reference import find_entry
from irc.ir import hl
from irc.transforms.autodiff import build_jvp, build_vjp


def _as_tensor(x) -> Tensor:
    """Tensors as they are, numpy arrays with their dtype, anything else like `irc.tensor`."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        return Tensor(graph.data_node(np.asarray(x)))
    return tensor(x)


def _name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _trace(f: Callable, args: Sequence[Tensor]) -> tuple[func.FuncOp, bool, list[Node]]:
    """f traced on placeholders like `args`: (the hl function, whether f returned one tensor, captured nodes).

    Values f captures from outside (tensors, another trace's placeholders) are
    not folded in: they become extra trailing arguments, replayed with the
    captured nodes themselves, so that derivatives flow through them in an
    enclosing `grad`, `irc.jit` trace or `backward()`.
    """
    placeholders = [Placeholder(None, (), {}, a._node.type, ("<input>", 0, 0), index=i) for i, a in enumerate(args)]
    with tracing_scope() as scope:
        result = f(*(Tensor(p) for p in placeholders))
    scope.restore()
    if scope.mutated:
        raise FrontendError(
            f"{_name(f)} updates tensors in place (or their .grad); only pure functions can be differentiated",
            graph.user_location()[:2],
        )
    outputs, single = flatten_outputs(result, _name(f))
    out_nodes = [t._node for t in outputs]

    def outside(n: Node) -> bool:
        return graph.is_leaf(n) or n.serial < scope.start

    ours = {id(p) for p in placeholders}
    captured = [
        n
        for n in graph.topological_order(out_nodes, outside)
        if outside(n) and id(n) not in ours and (n.serial < scope.start or n.value is None)
    ]
    module, _ = graph.build_module(out_nodes, _name(f), args=[*placeholders, *captured], constants=True, stop=outside)
    return find_entry(module), single, captured


def _check_float(f: Callable, args: Sequence[Tensor], indices: Sequence[int], what: str) -> None:
    for i in indices:
        if not args[i].is_floating_point():
            raise FrontendError(
                f"{what} of {_name(f)}: argument {i} has dtype {args[i].dtype} (shape {args[i].shape}); "
                "only floating-point arguments can be differentiated",
                graph.user_location()[:2],
            )


def _argnums(f: Callable, argnums: int | Sequence[int], n_args: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n_args <= i < n_args:
            raise FrontendError(
                f"grad of {_name(f)}: argnums {argnums} is out of range for {n_args} argument(s)",
                graph.user_location()[:2],
            )
    return tuple(i % n_args for i in nums)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """A function returning `(f(*args), gradient)`; f must return one scalar float tensor.

    The gradient is one tensor for an int `argnums`, a tuple for a sequence.

        >>> value, dx = irc.value_and_grad(lambda x: (x * x).sum())(irc.tensor([1.0, 2.0]))
        >>> dx.numpy()
        array([2., 4.], dtype=float32)
    """

    @functools.wraps(f)
    def value_and_grad_f(*args):
        tensors = [_as_tensor(a) for a in args]
        nums = _argnums(f, argnums, len(tensors))
        _check_float(f, tensors, nums, "grad")
        fn, single, captured = _trace(f, tensors)
        outputs = fn.function_type.outputs.data
        if not single or hl.shape_of(outputs[0]) != () or not hl.is_float(outputs[0].element_type):
            out = outputs[0]
            got = f"{len(outputs)} tensors" if not single else f"tensor<{hl.fmt_type(out)}>"
            raise FrontendError(
                f"grad of {_name(f)}: the function must return one scalar float tensor, got {got}",
                graph.user_location()[:2],
            )
        value, *grads = replay(build_vjp(fn, nums, return_primals=True), [*(t._node for t in tensors), *captured])
        grads = tuple(Tensor(g) for g in grads)
        return Tensor(value), grads[0] if isinstance(argnums, int) else grads

    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The gradient function of a scalar-valued `f` (JAX's `grad`).

    >>> df = irc.grad(lambda x: x.sin().sum())
    >>> ddf = irc.grad(lambda x: df(x).sum())     # second derivative
    """
    value_and_grad_f = value_and_grad(f, argnums)

    @functools.wraps(f)
    def grad_f(*args):
        return value_and_grad_f(*args)[1]

    return grad_f


def _matching(f: Callable, what: str, given: Sequence, like: Sequence[Tensor], names: str) -> list[Tensor]:
    """`given` as tensors of the shapes and dtypes of `like` (tangents, cotangents)."""
    if len(given) != len(like):
        raise FrontendError(
            f"{what} of {_name(f)}: expected {len(like)} {names}, got {len(given)}", graph.user_location()[:2]
        )
    out = []
    for i, (g, t) in enumerate(zip(given, like)):
        g = _as_tensor(g)
        if g.shape != t.shape:
            raise FrontendError(
                f"{what} of {_name(f)}: {names} {i} has shape {list(g.shape)}, expected {list(t.shape)}",
                graph.user_location()[:2],
            )
        out.append(g.to(t.dtype))
    return out


def vjp(f: Callable, *primals) -> tuple:
    """`(f(*primals), vjp_fn)`: `vjp_fn(cotangent)` returns one gradient per primal.

    The cotangent has the structure of f's output (a tensor, or a tuple of them).

        >>> y, vjp_fn = irc.vjp(lambda x: x.exp(), x)
        >>> (dx,) = vjp_fn(irc.ones_like(y))
    """
    tensors = [_as_tensor(p) for p in primals]
    _check_float(f, tensors, range(len(tensors)), "vjp")
    fn, single, captured = _trace(f, tensors)
    nodes = [*(t._node for t in tensors), *captured]
    outputs = [Tensor(n) for n in replay(fn, nodes)]
    backward = build_vjp(fn, range(len(tensors)), seed="input")

    def vjp_fn(cotangent):
        cts = _matching(f, "vjp", [cotangent] if single else list(cotangent), outputs, "cotangents")
        return tuple(Tensor(g) for g in replay(backward, nodes + [c._node for c in cts]))

    return (outputs[0] if single else tuple(outputs)), vjp_fn


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple:
    """`(f(*primals), tangent of the output)`: the directional derivative of f along `tangents`.

    >>> y, ty = irc.jvp(lambda x: x * x, (irc.tensor([3.0]),), (irc.tensor([1.0]),))
    >>> ty.numpy()
    array([6.], dtype=float32)
    """
    tensors = [_as_tensor(p) for p in primals]
    _check_float(f, tensors, range(len(tensors)), "jvp")
    ts = _matching(f, "jvp", list(tangents), tensors, "tangents")
    fn, single, captured = _trace(f, tensors)
    inputs = [*(t._node for t in tensors), *captured, *(t._node for t in ts)]
    results = [Tensor(n) for n in replay(build_jvp(fn, range(len(tensors))), inputs)]
    outputs, out_tangents = results[: len(results) // 2], results[len(results) // 2 :]
    return (outputs[0], out_tangents[0]) if single else (tuple(outputs), tuple(out_tangents))
