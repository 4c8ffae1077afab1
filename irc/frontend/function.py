"""Custom autograd functions (`irc.autograd.Function`), as PyTorch's.

    >>> class Exp(irc.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         y = x.exp()
    ...         ctx.save_for_backward(y)
    ...         return y
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (y,) = ctx.saved_tensors
    ...         return grad * y
    >>> Exp.apply(x).sum().backward()

`forward` runs without recording gradient history (its ops are an ordinary part of the graph, so the
value is computed, compiled or interpreted, like any other). Each differentiable output becomes a node
whose gradient backward() does not derive from those ops: the graph is cut there
(`irc.frontend.autograd.run_backward`), the Function's `backward` is called with the gradients of all
its outputs once they are complete, and the gradients it returns flow on from its inputs. Inside
`irc.jit` both run while tracing, so their ops are part of the static graph.
"""

from __future__ import annotations

import weakref

import numpy as np

from irc.errors import FrontendError
from irc.frontend import autograd, graph
from irc.frontend.graph import Node, user_location
from irc.frontend.tensor import Tensor
from irc.ir import hl


class FunctionCtx:
    """The `ctx` a custom Function's `forward` and `backward` share: `save_for_backward`, `saved_tensors`,
    `needs_input_grad`, `mark_non_differentiable`, `set_materialize_grads`, and any attribute `forward`
    sets."""

    def __init__(self, function: type, args: tuple):
        self._function = function
        self.name = f"{function.__name__}Backward"
        self._args = args
        self.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        #: the nodes of the tensor arguments that require grad (gradients flow on from these)
        self.input_nodes: tuple[Node, ...] = tuple(a._node for a, n in zip(args, self.needs_input_grad) if n)
        self._saved: tuple = ()
        self._non_differentiable: set[int] = set()
        self._materialize = True
        self._outputs: list = []  # (weak reference to the output's node, shape, dtype, device) per output
        self._grads: dict[int, Node] = {}

    # ------------------------------------------------------------------ PyTorch's ctx API
    def save_for_backward(self, *tensors) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors or None, got {type(t).__name__}")
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        return self._saved

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """False: `backward` gets None (not zeros) for outputs no gradient reached."""
        self._materialize = bool(value)

    def mark_dirty(self, *tensors) -> None:
        raise FrontendError(
            f"{self._function.__name__}: ctx.mark_dirty (a custom Function that modifies its inputs in place) is not "
            "supported; return a new tensor instead",
            user_location()[:2],
        )

    # ------------------------------------------------------------------ used by backward()
    def output_nodes(self) -> list[Node]:
        return [n for n in (entry[0]() for entry in self._outputs if entry is not None) if n is not None]

    def _add_grad(self, index: int, g: Node, create_graph: bool) -> bool:
        """Record output `index`'s gradient; True the first time any output gets one."""
        first = not self._grads
        self._grads[index] = autograd._sum(self._grads.get(index), g, create_graph)
        return first

    def _call_backward(self, create_graph: bool) -> list[Node | None]:
        """Call the Function's `backward` with its outputs' gradients: the gradients of `input_nodes`."""
        grads = []
        for k, entry in enumerate(self._outputs):
            g = self._grads.get(k)
            if entry is None:
                grads.append(None)
                continue
            _, shape, dtype, device = entry
            if g is not None:
                grads.append(Tensor(g, device))
            elif self._materialize:
                grads.append(Tensor(graph.data_node(np.zeros(shape, dtype)), device))
            else:
                grads.append(None)
        self._grads = {}
        with autograd.set_grad_enabled(create_graph):
            result = self._function.backward(self, *grads)
        result = result if isinstance(result, tuple) else (result,)
        n_args = len(self._args)
        if len(result) < n_args or any(r is not None for r in result[n_args:]):
            raise RuntimeError(
                f"function {self.name} returned an incorrect number of gradients (expected {n_args}, got {len(result)})"
            )
        out: list[Node | None] = []
        for k, (arg, needs, g) in enumerate(zip(self._args, self.needs_input_grad, result)):
            if not needs:
                continue
            if g is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise RuntimeError(f"function {self.name} returned a gradient of type {type(g).__name__} at index {k}")
            if g.shape != arg.shape:
                try:
                    g = g.sum_to_size(*arg.shape)
                except Exception:  # noqa: BLE001 - torch's message below
                    g = None
                if g is None or g.shape != arg.shape:
                    raise RuntimeError(
                        f"Function {self.name} returned an invalid gradient at index {k} - got "
                        f"{list(result[k].shape)} but expected shape compatible with {list(arg.shape)}"
                    ) from None
            out.append(g._cast(arg._node.dtype)._node)
        return out


class _FunctionMeta(type):
    def __call__(cls, *args, **kwargs):
        if cls is not Function and "forward" in cls.__dict__:
            # torch's legacy style (`MyFn()(x)`) is an error there too
            raise RuntimeError(
                "Legacy autograd function with non-static forward method is deprecated. Please use new-style "
                f"autograd function with static forward method: {cls.__name__}.apply(...)"
            )
        return super().__call__(*args, **kwargs)


class Function(metaclass=_FunctionMeta):
    """Base class of custom differentiable operations: subclass it with static `forward(ctx, *args)` and
    `backward(ctx, *grad_outputs)` (or `forward(*args)` and `setup_context(ctx, inputs, output)`), and call
    `YourFunction.apply(*args)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function to use it with "
            "backward mode AD."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx(cls, args)
        with autograd.no_grad():
            if cls.setup_context is not Function.setup_context:  # the style where forward has no ctx
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if not (autograd.is_grad_enabled() and ctx.input_nodes):
            return output
        single = not isinstance(output, (tuple, list))
        outputs = [output] if single else list(output)
        location = user_location()
        for k, out in enumerate(outputs):
            if not isinstance(out, Tensor):
                ctx._outputs.append(None)  # its backward gets None
                continue
            if id(out) in ctx._non_differentiable or not hl.is_float(out._node.type.element_type):
                ctx._outputs.append(
                    (lambda: None, out.shape, hl.numpy_dtype(out._node.type.element_type), out.device)
                )  # zeros
                continue
            with autograd.no_grad():
                node = graph.apply(hl.ReshapeOp, [out._node], location=location, shape=list(out.shape))
            node.requires_grad = True
            node.function = (ctx, k)
            ctx._outputs.append((weakref.ref(node), out.shape, hl.numpy_dtype(node.type.element_type), out.device))
            outputs[k] = Tensor(node, out.device)
        autograd._barriers_used = True
        if single:
            return outputs[0]
        return type(output)(outputs) if isinstance(output, tuple) else outputs


class once_differentiable:  # noqa: N801 - torch's name
    """`@once_differentiable` on a Function's backward: accepted (irc runs it as it is)."""

    def __new__(cls, fn):
        return fn


__all__ = ["Function", "FunctionCtx", "once_differentiable"]
