"""PyTorch's `torch.autograd` functions: `grad` and `backward` (on `irc.frontend.autograd.run_backward`), and on
top of them `gradcheck`/`gradgradcheck` (finite differences
against backward()), `functional` (`jacobian`, `hessian`, `vjp`, `jvp`, `hvp`, `vhp`) and the legacy
`Variable`.

Jacobians and Hessians are built a row at a time (one backward pass per output element, as torch's
`vectorize=False`): meant for small functions, tests and teaching, like torch's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from irc.errors import FrontendError
from irc.frontend.autograd import enable_grad, run_backward
from irc.frontend.graph import data_node, user_location
from irc.frontend.tensor import Tensor, _grad_roots, _leaf_hooks, _tensor_list, as_tensor
from irc.frontend.tensor import autograd_backward as backward
from irc.ir import hl


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """The gradients of `outputs` (seeded with `grad_outputs`) with respect to `inputs`, as a tuple, as
    `torch.autograd.grad`: nothing is accumulated into `.grad`; `create_graph=True` gives gradients with a
    history of their own (a gradient penalty, higher derivatives)."""
    if is_grads_batched:
        raise FrontendError("irc.autograd.grad(is_grads_batched=True) is not supported", user_location()[:2])
    roots, seeds = _grad_roots(_tensor_list(outputs, "outputs"), grad_outputs)
    inputs = _tensor_list(inputs, "inputs")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    _, found = run_backward(roots, seeds, retain_graph, create_graph, [t._node for t in inputs], Tensor)
    results = []
    for t in inputs:
        g = found.get(id(t._node))
        if g is None:
            if materialize_grads:
                results.append(
                    Tensor(data_node(np.zeros(t.shape, hl.numpy_dtype(t._node.type.element_type))), t.device)
                )
                continue
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. Set "
                    "allow_unused=True if this is the desired behavior."
                )
            results.append(None)
            continue
        results.append(Tensor(_leaf_hooks(t, g, create_graph), t.device))
    return tuple(results)


class GradcheckError(RuntimeError):
    """gradcheck's error: the analytical and the numerical Jacobian differ."""


class _VariableMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """Legacy `Variable(tensor, requires_grad=...)`: the tensor itself (every tensor is a Variable since
    PyTorch 0.4)."""

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        t = as_tensor(data)
        if requires_grad and not t.requires_grad:
            t = t.detach().requires_grad_(True)
        return t


def _tuple(x) -> tuple[tuple, bool]:
    """(x as a tuple, whether it was one)."""
    if isinstance(x, (tuple, list)):
        return tuple(x), True
    return (x,), False


def _prepare(inputs, create_graph: bool) -> tuple[tuple[Tensor, ...], bool]:
    """torch.autograd.functional's inputs: leaves requiring grad (the inputs themselves with create_graph, so
    that the results stay connected to them)."""
    items, is_tuple = _tuple(inputs)
    out = []
    for k, x in enumerate(items):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"The inputs given to jacobian/hessian/vjp/jvp must be Tensors, got {type(x).__name__} at {k}"
            )
        out.append(x if create_graph and x.requires_grad else x.detach().requires_grad_(True))
    return tuple(out), is_tuple


def _zeros_like(t: Tensor) -> Tensor:
    from irc.frontend.graph import data_node

    return Tensor(data_node(np.zeros(t.shape, hl.numpy_dtype(t._node.type.element_type))), t.device)


def _grads(outputs, inputs, seeds, create_graph: bool) -> list[Tensor]:
    """d(sum of outputs . seeds)/d(inputs), zeros where an input is not used (torch's non-strict mode)."""
    live = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
    if not live:
        return [_zeros_like(x) for x in inputs]
    gs = grad(
        [o for o, _ in live], list(inputs), [s for _, s in live], retain_graph=True, create_graph=create_graph,
        allow_unused=True,
    )  # fmt: skip
    return [g if g is not None else _zeros_like(x) for g, x in zip(gs, inputs)]


def _one_hot(t: Tensor, j: int) -> Tensor:
    from irc.frontend.graph import data_node

    seed = np.zeros(t.shape, hl.numpy_dtype(t._node.type.element_type))
    seed.reshape(-1)[j] = 1
    return Tensor(data_node(seed), t.device)


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):  # fmt: skip
    """The Jacobian of `func` at `inputs`, as `torch.autograd.functional.jacobian`: for one input and one output a
    tensor of shape output.shape + input.shape; tuples of them for tuples of inputs and outputs."""
    xs, in_tuple = _prepare(inputs, create_graph)
    with enable_grad():
        outputs, out_tuple = _tuple(func(*xs))
        blocks = []
        for o in outputs:
            rows = [_grads([o], xs, [_one_hot(o, j)], create_graph) for j in range(o.numel())]
            per_input = []
            for i, x in enumerate(xs):
                if rows:
                    per_input.append(_stack([r[i] for r in rows]).reshape(*o.shape, *x.shape))
                else:
                    per_input.append(_zeros_like(x).expand(*o.shape, *x.shape).clone())
            blocks.append(tuple(per_input) if in_tuple else per_input[0])
    if not create_graph:
        blocks = [tuple(b.detach() for b in blk) if in_tuple else blk.detach() for blk in blocks]
    return tuple(blocks) if out_tuple else blocks[0]


def _stack(tensors: list[Tensor]) -> Tensor:
    from irc.frontend.tensor import stack

    return stack(tensors)


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):  # fmt: skip
    """The Hessian of the scalar function `func` at `inputs`, as `torch.autograd.functional.hessian`."""
    xs, in_tuple = _prepare(inputs, True)

    def gradient(*args):
        out = func(*args)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor with a single element")
        gs = _grads([out], args, [None], True)
        return tuple(gs) if in_tuple else gs[0]

    return jacobian(gradient, xs if in_tuple else xs[0], create_graph=create_graph)


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T J), as `torch.autograd.functional.vjp`."""
    xs, in_tuple = _prepare(inputs, create_graph)
    with enable_grad():
        outputs, out_tuple = _tuple(func(*xs))
        seeds = _seeds(outputs, v)
        gs = _grads(outputs, xs, seeds, create_graph)
    outs = outputs if create_graph else tuple(o.detach() for o in outputs)
    gs = gs if create_graph else [g.detach() for g in gs]
    return (outs if out_tuple else outs[0]), (tuple(gs) if in_tuple else gs[0])


def _seeds(outputs, v) -> list:
    if v is None:
        for o in outputs:
            if o.numel() != 1:
                raise RuntimeError(
                    "The vector v can only be None if the user-provided function returns a single Tensor with a "
                    "single element."
                )
        return [None] * len(outputs)
    vs, _ = _tuple(v)
    if len(vs) != len(outputs):
        raise RuntimeError(f"v has {len(vs)} entries, the function returned {len(outputs)} outputs")
    for k, (o, s) in enumerate(zip(outputs, vs)):
        if tuple(as_tensor(s).shape) != tuple(o.shape):
            raise RuntimeError(
                f"Mismatch in shape: v[{k}] has shape {list(as_tensor(s).shape)} and the output has {list(o.shape)}"
            )
    return list(vs)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J v), as `torch.autograd.functional.jvp`: the vector-Jacobian product of a vector u,
    which is linear in u, differentiated with respect to u (the "double backward" trick torch uses too)."""
    xs, in_tuple = _prepare(inputs, True)
    with enable_grad():
        outputs, out_tuple = _tuple(func(*xs))
        vs = _tangents(xs, v)
        us = [_zeros_like(o).requires_grad_(True) for o in outputs]
        gs = _grads(outputs, xs, us, True)  # u^T J, linear in u
        jv = _grads(gs, us, vs, create_graph)  # d(u^T J v)/du = J v
    outs = outputs if create_graph else tuple(o.detach() for o in outputs)
    jv = jv if create_graph else [t.detach() for t in jv]
    return (outs if out_tuple else outs[0]), (tuple(jv) if out_tuple else jv[0])


def _tangents(xs, v) -> list:
    if v is None:
        if len(xs) != 1 or xs[0].numel() != 1:
            raise RuntimeError(
                "The vector v can only be None if the input to the user-provided function is a single Tensor with a "
                "single element."
            )
        return [None]
    vs, _ = _tuple(v)
    if len(vs) != len(xs) or any(tuple(as_tensor(s).shape) != tuple(x.shape) for s, x in zip(vs, xs)):
        raise RuntimeError("v must have one tensor of each input's shape")
    return list(vs)


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T H), as `torch.autograd.functional.vhp`."""
    xs, in_tuple = _prepare(inputs, True)
    with enable_grad():
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to vhp/hvp should return a single Tensor with a single element")
        vs = _tangents(xs, v)
        gs = _grads([out], xs, [None], True)
        hv = _grads(gs, xs, vs, create_graph)
    out = out if create_graph else out.detach()
    hv = hv if create_graph else [t.detach() for t in hv]
    return out, (tuple(hv) if in_tuple else hv[0])


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H v), as `torch.autograd.functional.hvp` (H is symmetric: the same as `vhp`)."""
    return vhp(func, inputs, v, create_graph, strict)


# ------------------------------------------------------------------ gradcheck
def _numeric(t) -> np.ndarray:
    return np.asarray(t.numpy(), dtype=np.float64)


def gradcheck(func: Callable, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False, fast_mode: bool = False,
              **_ignored) -> bool:  # fmt: skip
    """Compare the gradients backward() computes for `func` at `inputs` (the tensors that require grad) with
    central finite differences, as `torch.autograd.gradcheck`: True, or a `GradcheckError` naming the output,
    the input and both Jacobians (False with `raise_exception=False`). Use float64 inputs: float32 rounding
    swamps a difference quotient with `eps` 1e-6."""
    xs, _ = _tuple(inputs)
    diff = [k for k, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    outputs, _ = _tuple(func(*xs))
    outputs = [o for o in outputs if isinstance(o, Tensor)]
    for k, out in enumerate(outputs):
        if not out.is_floating_point():
            continue
        analytical = [np.zeros((out.numel(), xs[i].numel())) for i in diff]
        if out.requires_grad:
            for j in range(out.numel()):
                gs = grad([out], [xs[i] for i in diff], [_one_hot(out, j)], retain_graph=True, allow_unused=True)
                for a, g in zip(analytical, gs):
                    if g is not None:
                        a[j] = _numeric(g).reshape(-1)
        for n, i in enumerate(diff):
            numerical = _finite_differences(func, xs, i, k, eps)
            if not np.allclose(analytical[n], numerical, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {k} with respect to input {i},\n"
                    f"numerical:{numerical}\nanalytical:{analytical[n]}\n"
                )
    return True


def _finite_differences(func: Callable, xs: tuple, i: int, k: int, eps: float) -> np.ndarray:
    """d output k / d input i by central differences: (output k numel, input i numel). The moved input
    requires grad as the input does (gradgradcheck's function differentiates it)."""
    from irc.frontend.tensor import tensor

    x = xs[i]
    base = _numeric(x).reshape(-1)
    dtype = hl.numpy_dtype(x._node.type.element_type)
    columns = []
    for j in range(base.size):
        values = []
        for step in (eps, -eps):
            moved = base.copy()
            moved[j] += step
            arg = tensor(moved.reshape(x.shape).astype(dtype), device=x.device, requires_grad=True)
            out = _tuple(func(*(arg if m == i else a for m, a in enumerate(xs))))[0]
            out = [o for o in out if isinstance(o, Tensor)][k]
            values.append(_numeric(out.detach()).reshape(-1))
        columns.append((values[0] - values[1]) / (2 * eps))
    if not columns:
        return np.zeros((0, 0))
    return np.stack(columns, axis=1)


def gradgradcheck(func: Callable, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  **_ignored) -> bool:  # fmt: skip
    """Check second derivatives as `torch.autograd.gradgradcheck`: gradcheck of the function that maps the inputs
    (and the output gradients, fixed random ones by default) to the inputs' gradients with `create_graph=True`."""
    from irc.frontend.tensor import tensor

    xs, _ = _tuple(inputs)
    outputs, _ = _tuple(func(*xs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [
            tensor(
                rng.standard_normal(o.shape).astype(hl.numpy_dtype(o._node.type.element_type)),
                device=o.device,
                requires_grad=True,
            )
            for o in outputs
            if isinstance(o, Tensor) and o.requires_grad
        ]
    else:
        grad_outputs, _ = _tuple(grad_outputs)
    n = len(xs)

    def first_derivatives(*args):
        outs = [o for o in _tuple(func(*args[:n]))[0] if isinstance(o, Tensor) and o.requires_grad]
        wrt = [a for a in args[:n] if isinstance(a, Tensor) and a.requires_grad]
        gs = grad(outs, wrt, list(args[n:]), create_graph=True, allow_unused=True)
        return tuple(g if g is not None else _zeros_like(w) for g, w in zip(gs, wrt))

    return gradcheck(
        first_derivatives, (*xs, *grad_outputs), eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception
    )


__all__ = [
    "GradcheckError", "Variable", "backward", "grad", "gradcheck", "gradgradcheck", "hessian", "hvp", "jacobian", "jvp", "vhp", "vjp",
]  # fmt: skip
