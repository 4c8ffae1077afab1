"""`irc.Tensor`: a lazy tensor with PyTorch spelling.

Every operation records an `hl` node (see `graph.py`); nothing is computed
until a value is needed (`.numpy()`, `.item()`, printing, `np.asarray`).
Then the pending graph is compiled through the whole pipeline (cached by
graph structure) and run.  Inside `irc.jit` the same methods build the
static graph of the traced function.

    >>> x = irc.tensor([[1.0, -2.0], [3.0, 4.0]])
    >>> (x.relu() * 2).sum(dim=1).numpy()
    array([ 2., 14.], dtype=float32)
"""

from __future__ import annotations

import itertools
import math
import warnings
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from irc.errors import FrontendError
from irc.frontend import autograd, graph
from irc.frontend.device import as_device
from irc.frontend.dtypes import float32
from irc.frontend.graph import Node, apply, user_location
from irc.frontend.shape_ops import ShapeOps
from irc.frontend.sorting import Sorting
from irc.ir import hl
from irc.runtime.devices import DEVICES, move, to_host
from irc.runtime.dtypes import SUPPORTED_NAMES, supported_dtype

_DTYPE_ALIASES = {
    "float32": "f32", "float": "f32", "f32": "f32",
    "float64": "f64", "double": "f64", "f64": "f64",
    "float16": "f16", "half": "f16", "f16": "f16",
    "bfloat16": "bf16", "bf16": "bf16",
    "int32": "i32", "int": "i32", "i32": "i32",
    "int64": "i64", "long": "i64", "i64": "i64",
    "bool": "i1", "i1": "i1",
}  # fmt: skip

#: PyTorch's `Tensor.type()` names of irc's dtypes
_TYPE_NAMES = {
    "f32": "FloatTensor", "f64": "DoubleTensor", "f16": "HalfTensor", "bf16": "BFloat16Tensor",
    "i32": "IntTensor", "i64": "LongTensor", "i1": "BoolTensor",
}  # fmt: skip
#: what torch.return_types holds for max(dim) / min(dim): `x.max(1).values`
_MaxResult = namedtuple("max", ["values", "indices"])
_MinResult = namedtuple("min", ["values", "indices"])
#: PyTorch's C names of dtypes in its error messages ("expected ... same dtype, but got: float != double")
_C_NAMES = {
    "f32": "float", "f64": "double", "f16": "c10::Half", "bf16": "c10::BFloat16",
    "i32": "int", "i64": "long int", "i1": "bool",
}  # fmt: skip
#: PyTorch's ScalarType names of dtypes in its error messages ("expected scalar type Float but found Double")
_SCALAR_NAMES = {
    "f32": "Float", "f64": "Double", "f16": "Half", "bf16": "BFloat16", "i32": "Int", "i64": "Long", "i1": "Bool",
}  # fmt: skip


def dtype_short(dtype) -> str:
    """'f32' etc. for any dtype spelling (numpy dtype, 'float32', np.float32, ...)."""
    if isinstance(dtype, str) and dtype in _DTYPE_ALIASES:
        return _DTYPE_ALIASES[dtype]
    try:
        numpy_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{dtype!r} is not a dtype (irc's dtypes: {SUPPORTED_NAMES})") from None
    return hl.dtype_name(hl.element_type_of(supported_dtype(numpy_dtype, "irc")))


def _is_float(short: str) -> bool:
    return short.startswith(("f", "bf"))


_PROMOTION_ORDER = {"i1": 0, "i32": 1, "i64": 2, "f16": 3, "bf16": 3, "f32": 4, "f64": 5}
_16_BIT = ("f16", "bf16")


def _promote(a: str, b: str) -> str:
    """PyTorch-style promotion of two tensor dtypes (a float wins over any int, else the wider;
    float16 with bfloat16 is float32)."""
    if a == b:
        return a
    if _is_float(a) != _is_float(b):
        return a if _is_float(a) else b
    if a in _16_BIT and b in _16_BIT:
        return "f32"
    return max(a, b, key=_PROMOTION_ORDER.__getitem__)


class Tensor(ShapeOps, Sorting):
    """A lazily evaluated tensor (see the module docstring).

    Called by users, it is PyTorch's legacy constructor: `irc.Tensor([1, 2])` copies data to
    float32, `irc.Tensor(2, 3)` is a float32 tensor of that shape (zeros), `irc.Tensor(t)` is `t`'s data.
    """

    __array_priority__ = 1000  # numpy defers `ndarray op Tensor` to us
    #: False for a view whose elements torch would not keep contiguous (a transpose, a column, an expand)
    _contiguous = True

    def __init__(self, node=None, *sizes, device: str = "cpu"):
        if not isinstance(node, Node):
            node, device = _legacy_node(node, sizes, device)
        elif sizes:
            (device,) = sizes
        self._node = node
        self.device = as_device(device)
        self._grad: Tensor | None = None
        if node.owner is None:
            node.owner = weakref.ref(self)

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (a leaf's, after backward(); a non-leaf's after `retain_grad()`); None until
        then."""
        if graph.Tracing.mutated is not None:
            graph.Tracing.guard_grad(self)
        if self._grad is None and not self.is_leaf and not self.retains_grad and graph.Tracing.depth == 0:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:  # PyTorch's checks
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}"
                )
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: {list(value.shape)}, expected {list(self.shape)}"
                )
            if value._node.dtype != self._node.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: {value.dtype}, expected {self.dtype}")
        graph.Tracing.record_mutation(self)
        self._grad = value

    # ----------------------------------------------------------- autograd
    @property
    def requires_grad(self) -> bool:
        return self._node.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Make this leaf tensor record gradients (in place); returns self."""
        if not self.is_leaf:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables; use .detach() to get a leaf from a non-leaf"
            )
        if requires_grad and not _is_float(self._node.dtype):
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, this one is {self.dtype}")
        shared = isinstance(self, _View) and self._node is self._base._node  # a view of all of it (`x[:]`)
        if requires_grad and (shared or self._node.op is not None and self._node.value is None):
            if graph.Tracing.depth:  # inside irc.jit: a leaf whose value the traced program computes
                with autograd.no_grad():
                    self._node = apply(hl.ReshapeOp, [self._node], shape=list(self.shape))
            else:
                self._node = graph.data_node(self._value())
        self._node.requires_grad = self._node.leaf = bool(requires_grad)
        self._node.owner = weakref.ref(self)
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (or not requiring grad), as in PyTorch."""
        return self._node.leaf or not self._node.requires_grad

    @property
    def grad_fn(self):
        """The op that produced this tensor (None for leaves), for introspection."""
        if self.is_leaf:
            return None
        return GradFn(self._node)

    def detach(self) -> Tensor:
        """The same elements, cut from the gradient history: as in torch they are shared, so an in-place op on
        the result changes this tensor (`p.detach().mul_(0.9)`, an EMA of parameters) and the result follows
        this tensor's later in-place updates (a `.data`-like view, `_DataView`)."""
        return _Detached(self)

    def detach_(self) -> Tensor:
        """Cut this tensor from its gradient history, in place (it becomes a leaf), as torch's."""
        if isinstance(self, _View):
            raise FrontendError(
                "Can't detach views in-place. Use detach() instead.",
                user_location()[:2],
            )
        self._set_node(_detached(self._node))
        return self

    def _reshape_in_place(self, forward: Callable, inverse: Callable) -> Tensor:
        """`t_`, `transpose_`, `squeeze_`, `unsqueeze_`, ...: this tensor now holds `forward(self)`, its elements
        in a new shape (`inverse` undoes it); gradients flow through it as through the out-of-place op. A view
        stays a view of its tensor, in the new shape. Views of this tensor keep viewing the same elements, as
        torch's views of its storage do: they read and write it through `inverse` (`b = a.view(6); a.t_()`
        leaves b as it was)."""
        if isinstance(self, _Detached):
            self._unlink()  # a detached tensor in a new shape: one of its own (torch's shares, in the new shape)
        elif isinstance(self, _DataView):
            raise FrontendError("changing the shape of a .data view in place is not supported", user_location()[:2])
        for view in tuple(self.__dict__.get("_views", ())):
            _follow_reshape(view, forward, inverse)
        if isinstance(self, _View):
            read, write = self._read, self._write
            self._read = lambda b: forward(read(b))
            self._write = lambda b, v: write(b, inverse(v))
            Tensor._set_node(self, forward(self)._node)
            return self
        self._refuse_leaf_in_place()
        return self._assign_node(forward(self)._node)  # `_assign` without its same-shape check

    def _swap_in_place(self, dim0: int, dim1: int) -> Tensor:
        perm = list(range(self.ndim))
        if perm:
            d0, d1 = self._dim(dim0), self._dim(dim1)
            perm[d0], perm[d1] = perm[d1], perm[d0]
        swap = lambda t: t._permute(perm) if perm != list(range(t.ndim)) else t  # noqa: E731
        out = self._reshape_in_place(swap, swap)
        if isinstance(self, _View):
            moved = [d for d in perm if self.shape[d] != 1]
            self._contiguous = self._contiguous and moved == sorted(moved)
        return out

    def t_(self) -> Tensor:
        if self.ndim > 2:
            raise FrontendError(
                f"t_() expects a tensor of rank <= 2, got shape {list(self.shape)}", user_location()[:2]
            )
        return self._swap_in_place(0, -1) if self.ndim == 2 else self

    def transpose_(self, dim0: int, dim1: int) -> Tensor:
        return self._swap_in_place(dim0, dim1)

    swapaxes_ = swapdims_ = transpose_

    def _resize_in_place(self, shape: tuple[int, ...]) -> Tensor:
        old = self.shape
        return self._reshape_in_place(lambda t: t._reshape(shape), lambda t: t._reshape(old))

    def squeeze_(self, dim=None) -> Tensor:
        return self._resize_in_place(self.squeeze(dim).shape)

    def unsqueeze_(self, dim: int) -> Tensor:
        return self._resize_in_place(self.unsqueeze(dim).shape)

    def bernoulli_(self, p=0.5) -> Tensor:
        """Fill with draws of 1 (probability `p`, a number or a tensor that broadcasts) and 0, as torch's."""
        draws = rand_like(self, dtype="float32") < (p if not isinstance(p, Tensor) else p.to("float32"))
        return self._assign(draws.broadcast_to(self.shape)._cast(self._node.dtype))

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (or only into `inputs`'), as in PyTorch;
        `create_graph=True` records the gradients' own history (higher derivatives)."""
        autograd_backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook: Callable) -> autograd.RemovableHandle:
        """Call `hook(grad)` with this tensor's gradient whenever backward() computes it; a tensor it returns
        replaces the gradient (for a leaf: before it is accumulated into `.grad`). Returns a handle whose
        `remove()` takes the hook off."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.is_leaf:
            hooks = self.__dict__.setdefault("_hooks", [])
        else:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
            autograd._barriers_used = True
        hooks.append(hook)
        return autograd.RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Have backward() fill this non-leaf tensor's `.grad` too (a leaf's is filled anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf or self.retains_grad:
            return
        self.register_hook(autograd.RetainGrad(self))

    @property
    def retains_grad(self) -> bool:
        """Whether `retain_grad()` was called on this non-leaf tensor."""
        hooks = self._node.hooks
        return bool(hooks) and any(isinstance(h, autograd.RetainGrad) and h.tensor() is self for h in hooks)

    def _refuse_leaf_in_place(self) -> None:
        """PyTorch's error for an in-place op on a leaf that requires grad (allowed under `no_grad`)."""
        if self._node.leaf and self._node.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation; wrap it in irc.no_grad()"
            )

    def _assign(self, result: Tensor) -> Tensor:
        """In-place update: this tensor now holds `result` (a parameter stays a leaf)."""
        self._refuse_leaf_in_place()
        if result.shape != self.shape:
            raise FrontendError(
                f"in-place result has shape {list(result.shape)}, expected {list(self.shape)}", user_location()[:2]
            )
        return self._assign_node(result._cast(self._node.dtype)._node)

    def _assign_node(self, node: graph.Node) -> Tensor:
        """`_assign` of a node of this tensor's shape and dtype, unchecked (a replayed optimizer update)."""
        if self._node.leaf and self._node.requires_grad:
            node.requires_grad = node.leaf = True
        node.owner = weakref.ref(self)
        graph.Tracing.record_mutation(self)
        self._set_node(node)
        return self

    def _set_node(self, node: graph.Node) -> None:
        """This tensor's value is now `node`'s: every change of a tensor's value goes through here, so that
        its views (`_View`) read it again."""
        self._node = node
        self._refresh_views()

    def _refresh_views(self) -> None:
        """Have this tensor's views (`_View`, `.data`) read its value again."""
        views = self.__dict__.get("_views")
        if views:
            for view in tuple(views):
                view._refresh()

    def _assign_result(self, result: Tensor) -> Tensor:
        """`_assign` of an in-place op's result (`add_`, `x += ...`, `clamp_`): PyTorch refuses a result of a
        higher kind than this tensor's dtype (float into an integer tensor, a number into a bool one) where a
        cast would silently truncate; `copy_`, `fill_` and `x[i] = v` cast."""
        kind = lambda dt: 0 if dt == "i1" else 2 if hl.is_float(hl.DTYPES[dt]) else 1  # noqa: E731
        if kind(result._node.dtype) > kind(self._node.dtype):
            raise FrontendError(
                f"result type {_SCALAR_NAMES[result._node.dtype]} can't be cast to the desired output type "
                f"{_SCALAR_NAMES[self._node.dtype]}",
                user_location()[:2],
            )
        return self._assign(result)

    def add_(self, other, alpha: float = 1.0):
        return self._assign_result(self + (other if alpha == 1 else other * alpha))

    def sub_(self, other, alpha: float = 1.0):
        return self._assign_result(self - (other if alpha == 1 else other * alpha))

    def mul_(self, other):
        return self._assign_result(self * other)

    def div_(self, other):
        return self._assign_result(self / other)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        """`value` everywhere. A tensor with gradient history keeps it, with a zero gradient, as in torch
        (`y = x * 2; y.zero_(); y.sum().backward()` gives x a zero gradient)."""
        filled = full_like(self, value)
        if self.requires_grad and autograd.is_grad_enabled():
            filled = where(zeros_like(self, dtype="bool"), self, filled)  # selects `value`; 0 flows to self
        return self._assign(filled)

    def copy_(self, src):
        # a node of its own: `_assign` marks it as this tensor's, which must not change `src`
        return self._assign(self._new(_copied(as_tensor(src).broadcast_to(self.shape)._node)))

    def uniform_(self, a: float = 0.0, b: float = 1.0):
        """Fill with U(a, b) (inside irc.jit: new numbers on every call)."""
        return self._assign(_sample(self.shape, self._node.dtype, self.device, False, b - a, a))

    def normal_(self, mean: float = 0.0, std: float = 1.0):
        """Fill with N(mean, std**2) (inside irc.jit: new numbers on every call)."""
        return self._assign(_sample(self.shape, self._node.dtype, self.device, True, std, mean))

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    @property
    def data(self) -> Tensor:
        """This tensor's value without gradient history, sharing its storage as in PyTorch.

        In-place ops on it (`p.data.add_(u)`, `p.data -= u`, `p.data.zero_()`) update this
        tensor, also inside `irc.jit`, and it sees this tensor's later in-place updates;
        assigning (`p.data = t`) replaces the value.
        """
        return _DataView(self)

    @data.setter
    def data(self, value) -> None:
        value = as_tensor(value)
        if (value.shape, value.dtype) != (self.shape, self.dtype):
            raise FrontendError(
                f"assigning .data of shape {list(value.shape)} and dtype {value.dtype} to a tensor of shape "
                f"{list(self.shape)} and dtype {self.dtype} is not supported (irc changes values in place, "
                "not shapes or dtypes)",
                user_location()[:2],
            )
        _DataView(self).copy_(value)

    # ------------------------------------------------------------- basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self._node.shape

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[self._dim(dim)]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return hl.NUMPY_DTYPES[self._node.dtype]

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        """The sub-tensors along dim 0 (`for row in x`), as in PyTorch."""
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its number (`f"{loss:.3f}"`); others only without a spec, as in PyTorch."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def numpy(self) -> np.ndarray:
        """The value as a numpy array (computes it if needed; copies it from a GPU device)."""
        return to_host(self._value())

    def _value(self):
        """The value where it lives: a numpy array on "cpu", a DeviceArray on "cuda"/"opencl"."""
        from irc.frontend.realize import realize

        return realize(self._node, self.device)

    def item(self):
        return self._one_element("item()").item()

    def _one_element(self, what: str) -> np.ndarray:
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to {what} (shape {list(self.shape)})"
            )
        return self.numpy().reshape(())

    def tolist(self):
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        value = self.numpy()
        return value if dtype is None else value.astype(dtype)

    def __repr__(self) -> str:
        if isinstance(self._node, graph.Placeholder):
            return f"Tensor(traced, shape={self.shape}, dtype={self.dtype})"
        value = self.numpy()
        if self._node.dtype == "bf16":  # printed as float32: numpy prints bfloat16's whole numbers as integers
            value = value.astype(np.float32)
        body = np.array2string(value, separator=", ", prefix="tensor(")
        extra = f", size={self.shape}" if value.size == 0 and self.shape != (0,) else ""  # torch's
        return f"tensor({body}{extra}, dtype={self.dtype})" if self.dtype != float32 else f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape {list(self.shape)})"
            )
        return bool(self.item())

    def __float__(self) -> float:
        return float(self._one_element("a Python float").item())

    def __int__(self) -> int:
        return int(self._one_element("a Python int").item())

    def __index__(self) -> int:
        """An integer (or bool) tensor of one element is an index: `classes[pred.argmax()]`, as in torch."""
        if self.numel() != 1 or self._node.dtype not in ("i32", "i64", "i1"):
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    __hash__ = object.__hash__

    def to(
        self, *args, dtype=None, device=None, non_blocking: bool = False, copy: bool = False, memory_format=None
    ) -> Tensor:
        """As in PyTorch: `to(dtype)` converts the dtype; `to(device)` ("cuda", "cuda:0", `irc.device`)
        copies to that device; `to(device, dtype)`, `to(other)` (other's device and dtype) and the
        keywords do both.

        A copy to another device is a new leaf (gradients do not flow back across devices); it
        requires grad when this tensor does. `memory_format` is accepted and changes nothing (irc
        tensors have no strides).
        """
        device, dtype = to_arguments(args, device, dtype)
        out = self if dtype is None else self._cast(dtype_short(dtype))
        return out if device is None else out._to_device(_check_device(device))

    def _to_device(self, device: str) -> Tensor:
        if device == self.device:
            return self
        out = Tensor(graph.data_node(move(self._value(), device)), device)
        return out.requires_grad_() if self.requires_grad else out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def _move_(self, device: str) -> Tensor:
        """Move this tensor's data to `device` in place (what `Module.to` does to parameters)."""
        device = _check_device(device)
        if device != self.device:
            self._set_data(move(self._value(), device))
            self.device = device
            if self._grad is not None:
                self._grad = self._grad.to(device)
        return self

    def _convert_(self, dtype) -> Tensor:
        """Convert this tensor's data to `dtype` in place (what `Module.to(dtype)`, `Module.half()` do to
        float parameters); its gradient too."""
        short = dtype_short(dtype)
        if short != self._node.dtype:
            self._set_data(self._cast(short)._value())
            if self._grad is not None:
                self._grad = self._grad._cast(short)
        return self

    def _set_data(self, value) -> None:
        """Make the realized array `value` this tensor's data, keeping its autograd role (leaf, requires_grad)."""
        old = self._node
        node = graph.data_node(value)
        node.requires_grad, node.leaf, node.owner = old.requires_grad, old.leaf, old.owner
        self._set_node(node)

    def _cast(self, short: str) -> Tensor:
        if short == self._node.dtype:
            return self
        return self._new(apply(hl.CastOp, [self._node], hl.tensor_type(self.shape, hl.DTYPES[short])))

    def float(self, memory_format=None) -> Tensor:
        return self._cast("f32")

    def double(self, memory_format=None) -> Tensor:
        return self._cast("f64")

    def int(self, memory_format=None) -> Tensor:
        return self._cast("i32")

    def long(self, memory_format=None) -> Tensor:
        return self._cast("i64")

    def bool(self, memory_format=None) -> Tensor:
        return self._cast("i1")

    def type_as(self, other: Tensor) -> Tensor:
        return self._cast(other._node.dtype)

    def type(self, dtype=None, non_blocking: bool = False):
        """`x.type()` is PyTorch's type name, 'torch.FloatTensor' (so code that compares it keeps
        working); `x.type(irc.float64)`, `x.type("torch.DoubleTensor")` convert the dtype."""
        if dtype is None:
            return ("torch." if self.device == "cpu" else f"torch.{self.device}.") + _TYPE_NAMES[self._node.dtype]
        if isinstance(dtype, str) and dtype not in _DTYPE_ALIASES:
            prefix, _, name = dtype.rpartition(".")
            shorts = [short for short, type_name in _TYPE_NAMES.items() if type_name == name]
            if prefix not in ("torch", "irc") or not shorts:
                raise ValueError(f"invalid type: {dtype!r}")
            return self._cast(shorts[0])
        return self._cast(dtype_short(dtype))

    def is_floating_point(self) -> bool:
        return _is_float(self._node.dtype)

    def half(self, memory_format=None) -> Tensor:
        return self._cast("f16")

    def bfloat16(self, memory_format=None) -> Tensor:
        return self._cast("bf16")

    def clone(self, memory_format=None) -> Tensor:
        """A new tensor with this value (and its gradient history), as torch."""
        return self._new(_copied(self._node))

    def contiguous(self, memory_format=None) -> Tensor:
        """`self`, or a copy where torch's would be one: a view that is not contiguous (`x.t()`, `x[:, 1]`), so
        that writing to the result leaves the viewed tensor alone, as in torch."""
        return self if self._contiguous else self._new(_copied(self._node))

    def is_contiguous(self, memory_format=None) -> bool:
        """False for views torch keeps strided (transposes, permutes, columns, steps, expands, diagonals)."""
        return self._contiguous

    # ------------------------------------------------------ new tensors like this one
    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        """A tensor of `size` filled with `fill_value`, of this tensor's dtype and device unless given."""
        dtype = self.dtype if dtype is None else dtype
        return full(size, fill_value, dtype, self.device if device is None else device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_shape_arg(size), 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_shape_arg(size), 1, dtype, device, requires_grad)

    new_empty = new_zeros  # (irc has no uninitialized memory: zeros)

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        """`irc.tensor(data)` (copied), of this tensor's dtype and device unless given."""
        dtype = self.dtype if dtype is None else dtype
        return tensor(data, dtype, self.device if device is None else device, requires_grad)

    def _new(self, node: Node) -> Tensor:
        return Tensor(node, self.device)

    def _scalar_tensor(self, value, dtype: str) -> Tensor:
        """A 0-d tensor of `value` and dtype `dtype`, next to `self`."""
        return self._new(apply(hl.FullOp, [], hl.tensor_type((), hl.DTYPES[dtype]), value=_scalar(value, dtype)))

    # --------------------------------------------------------- arithmetic
    def _operand(self, other) -> Tensor:
        """Turn a Python scalar / array into a tensor next to `self` (a scalar gets `_scalar_dtype`)."""
        if isinstance(other, Tensor):
            return _same_device(self, other)
        if isinstance(other, (bool, int, float)):
            dtype = _scalar_dtype(other, self._node.dtype)
            if type(other) is int and not -(2**63) <= other < 2**63:
                raise FrontendError(
                    f"value cannot be converted to type int64 without overflow: {other}", user_location()[:2]
                )
            if type(other) is int and dtype == "i32":  # torch wraps a Python int into an int32 operation
                other = (other + 2**31) % 2**32 - 2**31
            return self._scalar_tensor(other, dtype)
        return tensor(other, device=self.device)

    def _binary(self, op: type[hl.HLOp], other, reverse: bool = False) -> Tensor:
        o = self._operand(other)
        a, b = (o, self) if reverse else (self, o)
        if op is hl.SubOp and (isinstance(other, bool) or "i1" in (a._node.dtype, b._node.dtype)):
            raise FrontendError(
                "subtraction, the `-` operator, with a bool tensor is not supported; use `^` or `~` instead",
                user_location()[:2],
            )
        dt = _promote(a._node.dtype, b._node.dtype)
        if op is hl.PowOp and not reverse and type(other) is int and other < 0 and not _is_float(dt):
            raise FrontendError("Integers to negative integer powers are not allowed.", user_location()[:2])
        if dt == "i1":
            if op is hl.PowOp and not reverse and isinstance(other, bool):
                return self if other else full_like(self, True)  # x ** 1, x ** 0: PyTorch's special cases
            if op in _NOT_FOR_BOOL:
                raise FrontendError(_NOT_FOR_BOOL[op], user_location()[:2])
            op = _BOOL_ARITHMETIC.get(op, op)
        if op is hl.DivOp and not _is_float(dt):
            dt = "f32"  # true division, as in PyTorch
        if dt in _16_BIT and op in (hl.MulOp, hl.DivOp) and isinstance(other, (bool, int, float)):
            return self._scaled_16bit(op, other, reverse)
        if op is hl.FloorDivideOp and not _is_float(dt):
            _check_nonzero_divisor(self if reverse else other)
        a, b = a._cast(dt), b._cast(dt)
        return self._new(apply(op, [a._node, b._node]))

    def _scaled_16bit(self, op: type[hl.HLOp], value: float, reverse: bool) -> Tensor:
        """`*` and `/` of a 16-bit float tensor by a Python number, as PyTorch's CPU kernels: the number
        stays float32 (it is not rounded to the tensor's dtype first), the result is rounded once;
        `value / x` is `value * (1 / x)` (torch's `__rtruediv__`)."""
        x = self
        if reverse and op is hl.DivOp:
            x, op = self._new(apply(hl.DivOp, [self._scalar_tensor(1.0, self._node.dtype)._node, self._node])), hl.MulOp
        wide = x._cast("f32")
        return wide._new(apply(op, [wide._node, wide._scalar_tensor(value, "f32")._node]))._cast(self._node.dtype)

    def _bitwise(self, op: type[hl.HLOp], other, reverse: bool = False) -> Tensor:
        o = self._operand(other)
        a, b = (o, self) if reverse else (self, o)
        if _is_float(a._node.dtype) or _is_float(b._node.dtype):
            raise FrontendError(
                f"{op.name[3:]} needs integer or bool tensors, got {a.dtype} and {b.dtype}", user_location()[:2]
            )
        dt = _promote(a._node.dtype, b._node.dtype)
        return self._new(apply(op, [a._cast(dt)._node, b._cast(dt)._node]))

    def __add__(self, o):
        return self._binary(hl.AddOp, o)

    def __radd__(self, o):
        return self._binary(hl.AddOp, o, True)

    def __sub__(self, o):
        return self._binary(hl.SubOp, o)

    def __rsub__(self, o):
        return self._binary(hl.SubOp, o, True)

    def __mul__(self, o):
        return self._binary(hl.MulOp, o)

    def __rmul__(self, o):
        return self._binary(hl.MulOp, o, True)

    def __truediv__(self, o):
        return self._binary(hl.DivOp, o)

    def __rtruediv__(self, o):
        return self._binary(hl.DivOp, o, True)

    def __pow__(self, o):
        if isinstance(o, float) and o in (0.5, -0.5):  # torch's kernel: sqrt(-0.0) is -0.0, pow's +0.0
            return self.sqrt() if o > 0 else self.rsqrt()
        return self._binary(hl.PowOp, o)

    def __rpow__(self, o):
        return self._binary(hl.PowOp, o, True)

    def __floordiv__(self, o):
        return self._binary(hl.FloorDivideOp, o)

    def __rfloordiv__(self, o):
        return self._binary(hl.FloorDivideOp, o, True)

    def floor_divide(self, o):
        """`self // o`, rounded toward -inf as in PyTorch; integer division by zero raises ZeroDivisionError."""
        return self // o

    def __and__(self, o):
        return self._bitwise(hl.BitwiseAndOp, o)

    def __rand__(self, o):
        return self._bitwise(hl.BitwiseAndOp, o, True)

    def __or__(self, o):
        return self._bitwise(hl.BitwiseOrOp, o)

    def __ror__(self, o):
        return self._bitwise(hl.BitwiseOrOp, o, True)

    def __xor__(self, o):
        return self._bitwise(hl.BitwiseXorOp, o)

    def __rxor__(self, o):
        return self._bitwise(hl.BitwiseXorOp, o, True)

    def __invert__(self):
        if _is_float(self._node.dtype):
            raise FrontendError(
                f"~ (bitwise_not) needs an integer or bool tensor, got {self.dtype}", user_location()[:2]
            )
        return self._new(apply(hl.BitwiseNotOp, [self._node]))

    def bitwise_and(self, o):
        return self & o

    def bitwise_or(self, o):
        return self | o

    def bitwise_xor(self, o):
        return self ^ o

    def bitwise_not(self):
        return ~self

    def __matmul__(self, o):
        return matmul(self, o)

    def __rmatmul__(self, o):
        return matmul(self._operand(o), self)

    def __neg__(self):
        return self._unary(hl.NegOp)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def _compare(self, predicate: str, other) -> Tensor:
        o = self._operand(other)
        dt = _promote(self._node.dtype, o._node.dtype)
        return self._new(apply(hl.CompareOp, [self._cast(dt)._node, o._cast(dt)._node], predicate=predicate))

    def __eq__(self, o):  # type: ignore[override]
        return self._compare("eq", o)

    def __ne__(self, o):  # type: ignore[override]
        return self._compare("ne", o)

    def __lt__(self, o):
        return self._compare("lt", o)

    def __le__(self, o):
        return self._compare("le", o)

    def __gt__(self, o):
        return self._compare("gt", o)

    def __ge__(self, o):
        return self._compare("ge", o)

    def add(self, o, *, alpha=1):
        """self + alpha * o, as `torch.add` (a float alpha needs a float operand)."""
        return self + self._scaled(o, alpha)

    def sub(self, o, *, alpha=1):
        """self - alpha * o, as `torch.sub`."""
        return self - self._scaled(o, alpha)

    def _scaled(self, o, alpha):
        if alpha == 1 and not isinstance(alpha, float):
            return o
        floats = (
            _is_float(self._node.dtype) or isinstance(o, float) or (isinstance(o, Tensor) and o.is_floating_point())
        )
        if isinstance(alpha, float) and not floats:
            raise FrontendError(
                "For integral input tensors, argument alpha must not be a floating point number.", user_location()[:2]
            )
        return o * alpha

    def mul(self, o):
        return self * o

    def div(self, o, *, rounding_mode: str | None = None):
        """`self / o`, or rounded: `rounding_mode="floor"` (toward -inf, `//`) or `"trunc"` (toward 0); the
        rounded forms keep an integer dtype, as in torch."""
        if rounding_mode is None:
            return self / o
        if rounding_mode == "floor":
            return self // o
        if rounding_mode != "trunc":
            raise FrontendError(
                f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'",
                user_location()[:2],
            )
        if self.is_floating_point() or (isinstance(o, Tensor) and o.is_floating_point()) or isinstance(o, float):
            return (self / o).trunc()
        floor = self // o
        exact = floor * o == self
        return where(exact | (floor >= 0), floor, floor + 1)

    def pow(self, o):
        return self**o

    def matmul(self, o):
        return matmul(self, o)

    def mm(self, mat2: Tensor) -> Tensor:
        """The product of two matrices of one dtype, as `torch.mm` (`matmul` also broadcasts and promotes)."""
        if not isinstance(mat2, Tensor):
            raise TypeError(f"mm(): argument 'mat2' (position 2) must be Tensor, not {type(mat2).__name__}")
        for name, t in (("self", self), ("mat2", mat2)):
            if t.ndim != 2:
                raise FrontendError(f"{name} must be a matrix", user_location()[:2])
        if self.shape[1] != mat2.shape[0]:
            raise FrontendError(
                "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})".format(*self.shape, *mat2.shape),
                user_location()[:2],
            )
        return matmul(self, mat2)  # one dtype: matmul raises torch's m1/m2 message otherwise

    def dot(self, tensor: Tensor) -> Tensor:
        """The dot product of two 1-D tensors of one dtype and length, as `torch.dot` (its checks and messages)."""
        if not isinstance(tensor, Tensor):
            raise TypeError(f"dot(): argument 'tensor' (position 2) must be Tensor, not {type(tensor).__name__}")
        if self.ndim != 1 or tensor.ndim != 1:
            raise FrontendError(
                f"1D tensors expected, but got {self.ndim}D and {tensor.ndim}D tensors", user_location()[:2]
            )
        if self.shape[0] != tensor.shape[0]:
            n, m = self.shape[0], tensor.shape[0]
            raise FrontendError(
                f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same number of elements, "
                f"but got {n} and {m} elements respectively",
                user_location()[:2],
            )
        return matmul(self, tensor)  # one dtype: matmul raises torch's dot message otherwise

    vdot = dot  # the same for real tensors, irc's only kind

    def maximum(self, o):
        return self._binary(hl.MaximumOp, o)

    def minimum(self, o):
        return self._binary(hl.MinimumOp, o)

    def eq(self, o):
        return self == o

    def ne(self, o):
        return self != o

    def lt(self, o):
        return self < o

    def le(self, o):
        return self <= o

    def gt(self, o):
        return self > o

    def ge(self, o):
        return self >= o

    def clamp(self, min=None, max=None) -> Tensor:
        """x limited to [min, max] (numbers or tensors that broadcast; max wins where min > max; NaN stays
        NaN, a NaN bound makes NaN). The gradient flows to x where min <= x <= max, bounds included, and to a
        tensor bound where it is taken, as torch's (maximum/minimum would split it at a tie)."""
        if min is None and max is None:
            raise FrontendError("torch.clamp: At least one of 'min' or 'max' must not be None", user_location()[:2])
        out = self
        for bound, beyond in ((min, Tensor.__lt__), (max, Tensor.__gt__)):
            if bound is None:
                continue
            b = out._operand(bound)
            cond = beyond(out, b)
            if isinstance(bound, Tensor) and bound.is_floating_point():
                cond = cond | b.isnan()
            elif isinstance(bound, float) and math.isnan(bound):
                cond = full_like(out, True, dtype="bool")
            out = where(cond, b, out)
        return out

    clip = clamp

    def masked_fill(self, mask: Tensor, value) -> Tensor:
        """`value` (a number or a 0-d tensor, converted to this dtype) where the bool `mask` is true, else `self`."""
        mask = _same_device(self, as_tensor(mask))
        if mask._node.dtype != "i1":
            raise FrontendError(
                f"masked_fill_ only supports boolean masks, but got mask with dtype {_C_NAMES[mask._node.dtype]}",
                user_location()[:2],
            )
        if isinstance(value, Tensor):
            if value.ndim:
                raise FrontendError(
                    "masked_fill_ only supports a 0-dimensional value tensor, "
                    f"but got tensor with {value.ndim} dimension(s).",
                    user_location()[:2],
                )
            fill = _same_device(self, value)._cast(self._node.dtype)
        elif isinstance(value, (bool, int, float, np.number, np.bool_)):
            fill = self._scalar_tensor(value, self._node.dtype)
        else:
            raise TypeError(f"masked_fill(): value must be a number or a 0-d tensor, not {type(value).__name__}")
        return self._new(apply(hl.SelectOp, [mask._node, fill._node, self._node]))

    def _triangle(self, name: str, diagonal: int, lower: bool) -> Tensor:
        """`self` where column - row <= diagonal (lower) or >= diagonal (upper) in the last two dims, else 0."""
        if self.ndim < 2:
            raise FrontendError(f"{name}: input tensor must have at least 2 dimensions", user_location()[:2])
        if not isinstance(diagonal, (int, np.integer)):
            raise TypeError(f"{name}(): argument 'diagonal' (position 1) must be int, not {type(diagonal).__name__}")
        index_type = hl.tensor_type(self.shape[-2:], hl.DTYPES["i64"])
        rows, cols = (self._new(apply(hl.IotaOp, [], index_type, dim=d)) for d in (0, 1))
        if diagonal:
            rows = rows + int(diagonal)
        keep = cols <= rows if lower else cols >= rows
        return self._new(apply(hl.SelectOp, [keep._node, self._node, self._scalar_tensor(0, self._node.dtype)._node]))

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two dims (`diagonal` > 0 keeps that many more diagonals), as torch."""
        return self._triangle("tril", diagonal, lower=True)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two dims (`diagonal` > 0 drops that many more diagonals), as torch."""
        return self._triangle("triu", diagonal, lower=False)

    # ------------------------------------------------------------ unary
    def _unary(self, op: type[hl.HLOp]) -> Tensor:
        x = self
        if op in _NOT_FOR_BOOL and self._node.dtype == "i1":
            raise FrontendError(_NOT_FOR_BOOL[op], user_location()[:2])
        if op.FLOAT_ONLY and not _is_float(self._node.dtype):
            x = self._cast("f32")
        return self._new(apply(op, [x._node]))

    def neg(self):
        return self._unary(hl.NegOp)

    def abs(self):
        return self._unary(hl.AbsOp)

    def exp(self):
        return self._unary(hl.ExpOp)

    def log(self):
        return self._unary(hl.LogOp)

    def sqrt(self):
        return self._unary(hl.SqrtOp)

    def rsqrt(self):
        return self._unary(hl.RsqrtOp)

    def tanh(self):
        return self._unary(hl.TanhOp)

    def sigmoid(self):
        return self._unary(hl.SigmoidOp)

    def relu(self):
        return self._unary(hl.ReluOp)

    def sin(self):
        return self._unary(hl.SinOp)

    def cos(self):
        return self._unary(hl.CosOp)

    def erf(self):
        return self._unary(hl.ErfOp)

    # ------------------------------------------- special functions (irc/ir/special_functions.py)
    def lgamma(self):
        """log |gamma(x)|: inf at 0, -1, -2, ..., as torch's."""
        return self._unary(hl.LgammaOp)

    def digamma(self):
        """psi(x) = d/dx lgamma(x): -inf at +0, nan at the negative integers, as torch's."""
        return self.polygamma(0)

    def polygamma(self, n: int):
        """psi^(n)(x), the n-th derivative of digamma (`irc.polygamma(n, x)`, torch's argument order)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}")
        if n < 0:
            raise FrontendError("polygamma(n, x) does not support negative n.", user_location()[:2])
        x = self if _is_float(self._node.dtype) else self._cast("f32")
        return self._new(apply(hl.PolygammaOp, [x._node], n=int(n)))

    def mvlgamma(self, p: int):
        """The multivariate log-gamma function of dimension p: sum over j < p of lgamma(x - j / 2), plus
        p (p - 1) / 4 log(pi), as torch's (which, as of 2.13, no longer checks x > (p - 1) / 2)."""
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"mvlgamma(): argument 'p' (position 1) must be int, not {type(p).__name__}")
        if p < 1:
            raise FrontendError("p has to be greater than or equal to 1", user_location()[:2])
        x = self if _is_float(self._node.dtype) else self._cast("f32")
        offsets = tensor(-0.5 * np.arange(p), dtype=x.dtype, device=x.device)
        return (x.unsqueeze(-1) + offsets).lgamma().sum(-1) + p * (p - 1) / 4 * math.log(math.pi)

    def erfinv(self):
        """The inverse error function: +-inf at +-1, nan beyond, as torch's."""
        return self._unary(hl.ErfinvOp)

    def i0(self):
        """The modified Bessel function of the first kind of order 0, exp(|x|) * i0e(x) (inf past
        x = 713 in float64, 89 in float32; nan at +-inf, as torch's)."""
        return self._scaled_bessel(hl.I0eOp)

    def _scaled_bessel(self, op: type[hl.HLOp]) -> Tensor:
        """exp(|x|) * op(x) for the exponentially scaled Bessel function `op`; in float32 for 16-bit floats and
        integers (exp(12) is beyond float16), as torch's."""
        x = self if self._node.dtype in ("f32", "f64") else self._cast("f32")
        y = x.abs().exp() * x._unary(op)
        return y._cast(self._node.dtype) if _is_float(self._node.dtype) else y

    def lgamma_(self):
        return self._assign_result(self.lgamma())

    def digamma_(self):
        return self._assign_result(self.digamma())

    def polygamma_(self, n: int):
        return self._assign_result(self.polygamma(n))

    def mvlgamma_(self, p: int):
        return self._assign_result(self.mvlgamma(p))

    def erfinv_(self):
        return self._assign_result(self.erfinv())

    def i0_(self):
        return self._assign_result(self.i0())

    def square(self):
        return self * self

    # -------------------------------------------------------- reductions
    def _dims(self, dim) -> list[int]:
        if isinstance(dim, int):
            return [dim]
        if dim is None or len(dim) == 0:  # PyTorch: an empty dim list reduces over all dims
            return list(range(self.ndim))
        return list(dim)

    def _reduce(self, op: type[hl.HLOp], dim, keepdim: bool, dtype=None) -> Tensor:
        """A reduction; `dtype=` converts the input first (and an integer one is kept, as torch's), else
        integer sums and products are int64, as torch's."""
        x = self if dtype is None else self.to(dtype)
        if op is hl.MeanOp and not _is_float(x._node.dtype):
            raise FrontendError(
                f"mean(): could not infer output dtype. Input dtype must be either a floating point or complex "
                f"dtype. Got: {_SCALAR_NAMES[x._node.dtype]}",
                user_location()[:2],
            )
        if dtype is None and op in (hl.SumOp, hl.ProdOp) and x._node.dtype in ("i1", "i32"):
            x = x._cast("i64")  # PyTorch sums integers in int64
        return self._new(apply(op, [x._node], dims=self._dims(dim), keepdim=bool(keepdim)))

    def sum(self, dim=None, keepdim: bool = False, *, dtype=None):
        return self._reduce(hl.SumOp, dim, keepdim, dtype)

    def mean(self, dim=None, keepdim: bool = False, *, dtype=None):
        return self._reduce(hl.MeanOp, dim, keepdim, dtype)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None):
        return self._reduce(hl.ProdOp, dim, keepdim, dtype)

    def amax(self, dim=None, keepdim: bool = False):
        return self._reduce(hl.MaxOp, dim, keepdim)

    def amin(self, dim=None, keepdim: bool = False):
        return self._reduce(hl.MinOp, dim, keepdim)

    def max(self, dim=None, keepdim: bool = False):
        """`max()` is the overall max; `max(dim)` is (values, indices); `max(other)` is `maximum`, like PyTorch."""
        if dim is None:
            return self.amax()
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        return _MaxResult(*self._extreme_at(Tensor.amax, Tensor.argmax, dim, keepdim))

    def min(self, dim=None, keepdim: bool = False):
        if dim is None:
            return self.amin()
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        return _MinResult(*self._extreme_at(Tensor.amin, Tensor.argmin, dim, keepdim))

    def _extreme_at(self, reduce: Callable, arg: Callable, dim: int, keepdim: bool) -> tuple[Tensor, Tensor]:
        """(values, indices) of `max(dim)` / `min(dim)`. With gradients recorded the values are gathered at the
        indices, so that the gradient goes to the returned index only, as torch's (the reduction's would be
        split among tied elements, as torch's amax/amin split it)."""
        if not (self.requires_grad and autograd.is_grad_enabled() and self.ndim):
            return reduce(self, dim, keepdim), arg(self, dim, keepdim)
        index = arg(self, dim, True)
        values = self.gather(dim, index)
        if not keepdim:
            values, index = values.squeeze(dim), index.squeeze(dim)
        return values, index

    def _arg_reduce(self, op, dim, keepdim):
        if dim is None and self.numel() == 0:  # (the flattened tensor's error would not show this shape)
            name = op.name.removeprefix("hl.")
            raise FrontendError(
                f"{name}: the {name} of an empty tensor of shape {list(self.shape)} is undefined", user_location()[:2]
            )
        x = self if dim is not None else self.reshape(-1)
        return self._new(apply(op, [x._node], dim=0 if dim is None else dim, keepdim=bool(keepdim and dim is not None)))

    def argmax(self, dim=None, keepdim: bool = False):
        return self._arg_reduce(hl.ArgmaxOp, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False):
        return self._arg_reduce(hl.ArgminOp, dim, keepdim)

    def softmax(self, dim: int = -1, dtype=None):
        """Softmax along `dim`; `dtype=` converts the input first, as in torch."""
        x = self if dtype is None else self.to(dtype)
        return x._new(apply(hl.SoftmaxOp, [x._node], dim=dim))

    def log_softmax(self, dim: int = -1, dtype=None):
        x = self if dtype is None else self.to(dtype)
        return x._new(apply(hl.LogSoftmaxOp, [x._node], dim=dim))

    # ------------------------------------------------------------- shape
    def reshape(self, *shape) -> Tensor:
        """The same elements in `shape` (one -1 inferred): a view of this tensor (`_View`), or a copy where torch
        copies, of a view that is not contiguous (`x.t().reshape(-1)`)."""
        out = self._reshape(*shape)
        if out is not self and not self._contiguous:
            return out
        return self._reshape_view(out)

    def view(self, *shape) -> Tensor:
        """The same elements in `shape`: a view of this tensor, also of a view that is not contiguous (torch would
        refuse some of those: irc has no strides to check)."""
        return self._reshape_view(self._reshape(*shape))

    def _alias(self) -> Tensor:
        """All of this tensor as a view (`x[:]`, `x.permute(0, 1)`): a new tensor, as torch's, so an in-place
        shape op on it (`x[:].t_()`) leaves this tensor's shape alone."""
        return self._reshape_view(self)

    def _reshape_view(self, out: Tensor, contiguous: bool = True) -> Tensor:
        to = out.shape
        return _View(
            self, out._node, lambda b: b._reshape(to), lambda b, v: v._reshape(b.shape), contiguous and self._contiguous
        )

    def _view_of(self, out: Tensor, read: Callable, write: Callable) -> Tensor:
        """`out` (`read(self)`) as a view of this tensor that writes back through `write` (`_View`)."""
        return _View(self, out._node, read, write)

    def _reshape(self, *shape) -> Tensor:
        shape = _shape_arg(shape)
        if shape.count(-1) > 1:
            raise FrontendError(f"reshape: only one -1 allowed, got {list(shape)}", user_location()[:2])
        if -1 in shape:
            known = math.prod(s for s in shape if s != -1)
            if known == 0 or self.numel() % known:
                raise FrontendError(f"reshape: cannot reshape {list(self.shape)} to {list(shape)}", user_location()[:2])
            shape = tuple(self.numel() // known if s == -1 else s for s in shape)
        if tuple(shape) == self.shape:
            return self
        return self._new(apply(hl.ReshapeOp, [self._node], shape=list(shape)))

    def reshape_as(self, other: Tensor) -> Tensor:
        """`self.reshape(other.shape)`, as torch's `reshape_as`."""
        return self.reshape(other.shape)

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def multinomial(self, num_samples: int, replacement: bool = False, generator=None) -> Tensor:
        """`irc.multinomial(self, ...)`: category indices drawn with this tensor's weights."""
        return multinomial(self, num_samples, replacement, generator)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        s, e = self._dim(start_dim), self._dim(end_dim)
        if s > e:
            raise FrontendError("flatten() has invalid args: start_dim cannot come after end_dim", user_location()[:2])
        if self.ndim == 0:
            return self.reshape(1)
        if s == e:
            return self  # as torch's: the tensor itself, not a view
        return self.reshape(*self.shape[:s], -1, *self.shape[e + 1 :])

    def unsqueeze(self, dim: int) -> Tensor:
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise FrontendError(
                f"Dimension out of range (expected to be in range of [{-self.ndim - 1}, {self.ndim}], but got {dim})",
                user_location()[:2],
            )
        dim = dim % (self.ndim + 1)
        return self.view(*self.shape[:dim], 1, *self.shape[dim:])  # a view, contiguous or not, as torch's

    def squeeze(self, dim=None) -> Tensor:
        """Drop size-1 dims: all of them, or those of `dim` (an int or a tuple, as torch)."""
        if dim is None:
            return self.view(*(s for s in self.shape if s != 1))
        dims = {self._dim(d) for d in ((dim,) if isinstance(dim, int) else dim)}
        return self.view(*(s for d, s in enumerate(self.shape) if not (d in dims and s == 1)))

    def permute(self, *dims) -> Tensor:
        """The dims reordered: a view of this tensor (`_View`)."""
        dims = [self._dim(d) for d in _shape_arg(dims)]
        if sorted(dims) != list(range(self.ndim)):
            raise FrontendError(
                f"permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
                f"desired ordering of dimensions i.e. input.dim() = {self.ndim} is not equal to len(dims) = {len(dims)}"
                if len(dims) != self.ndim
                else f"permute(): duplicate dims are not allowed: {list(_shape_arg(dims))}",
                user_location()[:2],
            )
        if dims == list(range(self.ndim)):
            return self._alias()
        inverse = [dims.index(d) for d in range(len(dims))]
        node = self._permute(dims)._node
        moved = [d for d in dims if self.shape[d] != 1]
        return _View(self, node, lambda b: b._permute(dims), lambda b, v: v._permute(inverse), moved == sorted(moved))

    def _permute(self, dims: list[int]) -> Tensor:
        return self._new(apply(hl.TransposeOp, [self._node], perm=dims))

    def flip(self, *dims, **kwargs) -> Tensor:
        """Reverse the order of elements along `dims` (`x.flip(0, 1)`, `x.flip((0, 1))`, `x.flip(dims=[0])`)."""
        if kwargs.keys() - {"dims"} or (kwargs and dims):
            raise TypeError(f"flip() got unexpected arguments {sorted(kwargs)}")
        dims = list(_shape_arg(dims if not kwargs else (kwargs["dims"],)))
        if not dims:
            return self.clone()  # a copy, as torch's
        return self._new(apply(hl.FlipOp, [self._node], dims=dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        rank = max(self.ndim, 1)  # a 0-d tensor takes dims 0 and -1, as in torch
        if not (-rank <= dim0 < rank and -rank <= dim1 < rank):
            raise FrontendError(
                f"transpose: dims {dim0}, {dim1} out of range for shape {list(self.shape)}", user_location()[:2]
            )
        perm = list(range(self.ndim))
        if perm:
            perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
        return self.permute(perm)

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise FrontendError(f"t() expects a tensor of rank <= 2, got shape {list(self.shape)}", user_location()[:2])
        return self._alias() if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self) -> Tensor:
        return self.permute(list(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:
        """The last two dims swapped (a batch of matrices, transposed), as torch's `Tensor.mT`."""
        if self.ndim < 2:
            raise FrontendError(f"mT needs a tensor of rank >= 2, got shape {list(self.shape)}", user_location()[:2])
        return self.transpose(-2, -1)

    #: the conjugate transpose of each matrix: `mT` (irc's tensors are real)
    mH = mT

    def expand(self, *shape) -> Tensor:
        shape = list(_shape_arg(shape))
        off = len(shape) - self.ndim
        where = user_location()[:2]
        if off < 0:
            raise FrontendError(
                f"expand: the number of sizes provided ({len(shape)}) must be greater or equal to the number of "
                f"dimensions in the tensor ({self.ndim})",
                where,
            )
        for i, s in enumerate(shape[:off]):
            if s == -1:
                raise FrontendError(
                    f"expand: the expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}",
                    where,
                )
        shape = [self.shape[i - off] if s == -1 else s for i, s in enumerate(shape)]
        return self.broadcast_to(shape)

    def broadcast_to(self, *shape) -> Tensor:
        """This tensor repeated to `shape` (a sequence or the sizes): a view (`_View`) that, as torch's,
        refuses in-place writes where elements repeat (several of its elements would be one of this
        tensor's), except `fill_`/`zero_`."""
        shape = tuple(_shape_arg(shape))
        if shape == self.shape:
            return self._alias()
        repeats = math.prod(shape) != self.numel()

        def write(base: Tensor, value: Tensor) -> Tensor:
            if repeats:
                raise FrontendError(
                    "unsupported operation: more than one element of the written-to tensor refers to a single "
                    "memory location. Please clone() the tensor before performing the operation.",
                    user_location()[:2],
                )
            return value._reshape(base.shape)

        node = self._broadcast(shape)._node
        view = _View(self, node, lambda b: b._broadcast(shape), write, not repeats)
        view._covers_base = True  # every element of this tensor is in it: fill_ fills this tensor
        return view

    def _broadcast(self, shape: tuple[int, ...]) -> Tensor:
        return self._new(apply(hl.BroadcastToOp, [self._node], shape=list(shape)))

    def expand_as(self, other: Tensor) -> Tensor:
        return self.broadcast_to(other.shape)

    def _dim(self, dim: int) -> int:
        """`dim` in [0, ndim) (a 0-d tensor takes 0 and -1), or PyTorch's error."""
        rank = max(self.ndim, 1)
        if not -rank <= dim < rank:
            raise FrontendError(
                f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})",
                user_location()[:2],
            )
        return dim % rank

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """Elements `start` to `start + length` of `dim` (a negative start counts from the end), as torch."""
        d = self._dim(dim)
        n = self.shape[d]
        start = start + n if start < 0 else start
        if not 0 <= start <= n or length < 0 or start + length > n:
            raise FrontendError(
                f"start ({start}) + length ({length}) exceeds dimension size ({n}).", user_location()[:2]
            )
        if (start, length) == (0, n):
            return self._alias()
        index = (slice(None),) * d + (slice(start, start + length),)
        node = self._narrow(d, start, length)._node
        starts, stops = [0] * self.ndim, list(self.shape)
        starts[d], stops[d] = start, start + length
        contiguous = _block_contiguous(self.shape, starts, stops, [1] * self.ndim)
        return _View(
            self, node, lambda b: b._narrow(d, start, length), lambda b, v: b._with_basic(index, v), contiguous
        )

    def _narrow(self, d: int, start: int, length: int) -> Tensor:
        starts, stops = [0] * self.ndim, list(self.shape)
        starts[d], stops[d] = start, start + length
        return self._new(apply(hl.SliceOp, [self._node], start=starts, stop=stops, step=[1] * self.ndim))

    def split(self, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces of `split_size` along `dim` (the last may be smaller), or of the sizes in a list, as torch."""
        if self.ndim == 0:
            raise FrontendError("split expects at least a 1-dimensional tensor", user_location()[:2])
        d = self._dim(dim)
        n = self.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size < 0:
                raise FrontendError(
                    f"split expects split_size be non-negative, but got split_size={size}", user_location()[:2]
                )
            if size == 0 and n:
                raise FrontendError(
                    f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}",
                    user_location()[:2],
                )
            sizes = [min(size, n - i) for i in range(0, n, size)] if size else []
            sizes = sizes or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if min(sizes, default=0) < 0 or sum(sizes) != n:
                need = "have only non-negative entries" if min(sizes, default=0) < 0 else f"to sum exactly to {n}"
                raise FrontendError(
                    f"split_with_sizes expects split_sizes {need} (input tensor's size at dimension {d}), "
                    f"but got split_sizes={sizes}",
                    user_location()[:2],
                )
        starts = itertools.accumulate(sizes, initial=0)
        return tuple(self.narrow(d, start, size) for start, size in zip(starts, sizes))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """`chunks` pieces along `dim` of size ceil(n / chunks) (fewer when they run out), as torch."""
        if self.ndim == 0:
            raise FrontendError("chunk expects at least a 1-dimensional tensor", user_location()[:2])
        if chunks <= 0:
            raise FrontendError(f"chunk expects `chunks` to be greater than 0, got: {chunks}", user_location()[:2])
        d = self._dim(dim)
        n = self.shape[d]
        return self.split(-(-n // chunks) if n else [0] * chunks, d)

    def tensor_split(self, indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
        """`n` pieces along `dim` (the first `size % n` one element longer), or pieces between the indices of a
        list or 1-D tensor (clamped to the size: later ones may be empty), as torch's; views."""
        if self.ndim == 0:
            raise FrontendError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims",
                                user_location()[:2])  # fmt: skip
        d = self._dim(dim)
        n = self.shape[d]
        if isinstance(indices_or_sections, Tensor):
            indices_or_sections = indices_or_sections.tolist()
        if isinstance(indices_or_sections, (int, np.integer)):
            sections = int(indices_or_sections)
            if sections <= 0:
                raise FrontendError(f"number of sections must be larger than 0, got {sections}", user_location()[:2])
            sizes = [n // sections + (i < n % sections) for i in range(sections)]
            bounds = list(itertools.accumulate(sizes, initial=0))
        else:
            bounds = [0, *(min(max(int(i) + (n if i < 0 else 0), 0), n) for i in indices_or_sections), n]
        return tuple(self.narrow(d, a, max(b, a) - a) for a, b in zip(bounds, bounds[1:]))

    def _split_along(self, name: str, dim: int, min_rank: int, indices_or_sections) -> tuple[Tensor, ...]:
        """`hsplit`, `vsplit`, `dsplit`: `tensor_split` along `dim`, an int only where it divides the size."""
        if self.ndim < min_rank:
            raise FrontendError(
                f"torch.{name} requires a tensor with at least {min_rank} dimension, but got a tensor with "
                f"{self.ndim} dimensions!",
                user_location()[:2],
            )
        if isinstance(indices_or_sections, (int, np.integer)) and (
            indices_or_sections == 0 or self.shape[dim] % indices_or_sections
        ):
            raise FrontendError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                f"{self.shape[dim]} is not divisible by the split_size {indices_or_sections}!",
                user_location()[:2],
            )
        return self.tensor_split(indices_or_sections, dim)

    def hsplit(self, indices_or_sections) -> tuple[Tensor, ...]:
        return self._split_along("hsplit", 1 if self.ndim > 1 else 0, 1, indices_or_sections)

    def vsplit(self, indices_or_sections) -> tuple[Tensor, ...]:
        return self._split_along("vsplit", 0, 2, indices_or_sections)

    def dsplit(self, indices_or_sections) -> tuple[Tensor, ...]:
        return self._split_along("dsplit", 2, 3, indices_or_sections)

    def select(self, dim: int, index: int) -> Tensor:
        """The slice at `index` along `dim`, that dim removed: a view, as torch's."""
        d = self._dim(dim)
        if not -self.shape[d] <= index < self.shape[d]:
            raise FrontendError(
                f"select(): index {index} out of range for tensor of size {list(self.shape)} at dimension {d}",
                user_location()[:2],
            )
        return self[(slice(None),) * d + (index,)]

    def ravel(self) -> Tensor:
        """The elements as one dim: a view (irc's tensors are always contiguous)."""
        return self.reshape(-1)

    def narrow_copy(self, dim: int, start: int, length: int) -> Tensor:
        """`narrow`, copied: a tensor of its own, as torch's."""
        return self.narrow(dim, start, length).clone()

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along `dim`, with `dim` removed, as torch."""
        if self.ndim == 0:
            raise FrontendError("Dimension specified as 0 but tensor has no dimensions", user_location()[:2])
        d = self._dim(dim)
        return tuple(piece.squeeze(d) for piece in self.split(1, d)) if self.shape[d] else ()

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """torch.gather: ``out[i][j] = self[i][index[i][j]]`` for dim = 1; `index` (int64) has this rank,
        sizes at most this tensor's outside `dim`, and gives the result's shape.

        >>> irc.tensor([[1., 2.], [3., 4.]]).gather(1, irc.tensor([[0, 0], [1, 0]]))   # [[1, 1], [4, 3]]
        """
        index = _same_device(self, as_tensor(index))
        if index._node.dtype not in ("i32", "i64"):
            raise FrontendError("gather(): Expected dtype int32/int64 for index", user_location()[:2])
        if index._node.dtype == "i32":
            index = index.long()
        if self.ndim == 0 and index.ndim <= 1:  # torch takes a 0-d tensor as one of shape (1,)
            return self.reshape(1).gather(0, index.reshape(-1)).reshape(index.shape)
        d = self._dim(dim)
        if index.ndim != self.ndim:
            raise FrontendError(
                "Index tensor must have the same number of dimensions as input tensor", user_location()[:2]
            )
        larger = [k for k, (m, n) in enumerate(zip(index.shape, self.shape)) if k != d and m > n]
        if larger:
            raise FrontendError(
                f"Size does not match at dimension {larger[0]} expected index {list(index.shape)} to be no larger "
                f"than self {list(self.shape)} apart from dimension {d}",
                user_location()[:2],
            )
        x = self
        if index.shape != self.shape:  # smaller outside `dim`: gather from the part the index covers
            x = self[tuple(slice(None) if k == d else slice(0, m) for k, m in enumerate(index.shape))]
        return self._new(apply(hl.GatherOp, [x._node, index._node], dim=d))

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        """The entries at `index` (a 1-D int tensor) along `dim`, as torch.index_select.

        >>> irc.arange(6).reshape(3, 2).index_select(0, irc.tensor([2, 0]))   # [[4, 5], [0, 1]]
        """
        index = _same_device(self, as_tensor(index))
        if index._node.dtype not in ("i32", "i64"):
            raise FrontendError("index_select(): Expected dtype int32/int64 for index", user_location()[:2])
        if index.ndim > 1:
            raise FrontendError("index_select(): Index is supposed to be a vector", user_location()[:2])
        if self.ndim == 0:  # a 0-d tensor: its one entry, 0-d (torch checks the index is in range)
            return self.reshape(1).index_select(0, index).reshape(())
        d = self._dim(dim)
        row = index.reshape(*[index.numel() if k == d else 1 for k in range(self.ndim)])  # broadcast by the gather
        return self._new(apply(hl.GatherOp, [self._node, row._node], dim=d))

    # ------------------------------------------- scatter, index_add, index_put (hl.scatter underneath)
    def _scatter_op(self, d: int, index: Tensor, src: Tensor, reduce: str) -> Tensor:
        """hl.scatter of `src` (this dtype) into this tensor; `index` broadcasts to src's shape."""
        src = src._cast(self._node.dtype)
        return self._new(apply(hl.ScatterOp, [self._node, index._node, src._node], dim=d, reduce=reduce))

    def _scatter_hits(self, d: int, index: Tensor) -> Tensor:
        """A bool tensor of this shape: True where an entry of `index` points along `d`."""
        src_shape = [index.shape[d] if k == d else n for k, n in enumerate(self.shape)]
        counts = full(self.shape, 0, dtype=np.int32, device=self.device)
        return counts._scatter_op(d, index, full(src_shape, 1, dtype=np.int32, device=self.device), "sum") > 0

    def _scatter_matched(self, d: int, index: Tensor, src, reduce: str, include_self: bool = True) -> Tensor:
        """scatter whose `index` broadcasts to `src`'s shape and `src` has this shape outside `d`.

        reduce: 'sum', 'prod', 'amax', 'amin', 'mean', or 'set' (overwrite; `src` may be a number). Duplicate
        indices under 'set' keep the largest of their values (torch keeps an unspecified one of them)."""
        dt = self._node.dtype
        if dt == "i1":  # computed on int32: sum of bools is `or`, as is their max
            src = src.int() if isinstance(src, Tensor) else src
            return self.int()._scatter_matched(d, index, src, reduce, include_self).bool()
        if reduce == "set":
            hit = self._scatter_hits(d, index)
            if not isinstance(src, Tensor):
                return self.masked_fill(hit, src)
            lowest = -np.inf if _is_float(dt) else np.iinfo(hl.NUMPY_DTYPES[dt]).min
            return where(hit, full_like(self, lowest)._scatter_op(d, index, src, "amax"), self)
        if reduce == "mean":
            counts = zeros_like(self)._scatter_op(d, index, ones_like(src), "sum")
            base = self if include_self else self.masked_fill(counts > 0, 0)
            total = base._scatter_op(d, index, src, "sum")
            n = counts + 1 if include_self else counts.masked_fill(counts == 0, 1)
            return total / n if _is_float(dt) else total // n
        x = self
        if not include_self:
            identity = {"sum": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
            if not _is_float(dt) and reduce in ("amax", "amin"):
                info = np.iinfo(hl.NUMPY_DTYPES[dt])
                identity = info.min if reduce == "amax" else info.max
            x = self.masked_fill(self._scatter_hits(d, index), identity)
        return x._scatter_op(d, index, src, reduce)

    def _scatter_checked(self, name: str, dim: int, index, src) -> tuple[int, Tensor]:
        """torch's checks of scatter's operands (`src` a tensor or a number); returns the dim and the index."""
        index = _same_device(self, as_tensor(index))
        if index._node.dtype not in ("i32", "i64"):
            raise FrontendError(f"{name}(): Expected dtype int64 for index", user_location()[:2])
        d = self._dim(dim)
        if index.ndim != self.ndim and max(index.ndim, self.ndim) > 1:
            raise FrontendError(
                "Index tensor must have the same number of dimensions as self tensor", user_location()[:2]
            )
        if isinstance(src, Tensor):
            _same_device(self, src)
            if src.ndim != index.ndim and max(index.ndim, src.ndim) > 1:
                raise FrontendError(
                    "Index tensor must have the same number of dimensions as src tensor", user_location()[:2]
                )
            if src._node.dtype != self._node.dtype:
                raise FrontendError(f"{name}(): Expected self.dtype to be equal to src.dtype", user_location()[:2])
        ishape, sshape = index.shape or (1,), (src.shape or (1,)) if isinstance(src, Tensor) else None
        shape = self.shape or (1,)
        too_big = any(m > n for k, (m, n) in enumerate(zip(ishape, shape)) if k != d)
        if too_big or (sshape is not None and any(m > n for m, n in zip(ishape, sshape))):
            src_part = f" and to be no larger size than src {list(src.shape)}" if sshape is not None else ""
            raise FrontendError(
                f"Expected index {list(index.shape)} to be no larger than self {list(self.shape)} apart from "
                f"dimension {d}{src_part}",
                user_location()[:2],
            )
        return d, index

    def _scatter(self, name: str, dim: int, index, src, reduce: str, include_self: bool = True) -> Tensor:
        """torch.scatter's shapes: only the part of `src` (and of this tensor outside `dim`) that `index` covers."""
        d, index = self._scatter_checked(name, dim, index, src)
        if self.ndim == 0 or index.ndim == 0:
            src = src.reshape(1) if isinstance(src, Tensor) else src
            out = self.reshape(-1)._scatter(name, 0, index.reshape(1), src, reduce, include_self)
            return out.reshape(self.shape)
        if index.numel() == 0:
            return self
        if isinstance(src, Tensor) and src.shape != index.shape:
            src = src[tuple(slice(0, m) for m in index.shape)]
        if any(m != n for k, (m, n) in enumerate(zip(index.shape, self.shape)) if k != d):
            covered = tuple(slice(None) if k == d else slice(0, m) for k, m in enumerate(index.shape))
            part = self[covered]._scatter_matched(d, index, src, reduce, include_self)
            return self._with_basic(covered, part)
        return self._scatter_matched(d, index, src, reduce, include_self)

    def scatter(self, dim: int, index: Tensor, src=None, reduce: str | None = None, *, value=None) -> Tensor:
        """torch.scatter: ``out[i][index[i][j]] = src[i][j]`` for dim = 1 (src a tensor or a number, also
        `value=`); `reduce='add'` adds instead, `'multiply'` multiplies.  With duplicate indices irc keeps the largest value
        (torch keeps an unspecified one).

        >>> irc.zeros(2, 3).scatter(1, irc.tensor([[2], [0]]), 1.0)   # [[0, 0, 1], [1, 0, 0]]
        """
        src = value if src is None else src
        if reduce not in (None, "add", "multiply"):
            raise FrontendError("reduce argument must be either add or multiply.", user_location()[:2])
        if reduce is not None and not isinstance(src, Tensor):
            src = full(as_tensor(index).shape, src, dtype=hl.NUMPY_DTYPES[self._node.dtype], device=self.device)
        return self._scatter("scatter", dim, index, src, {None: "set", "add": "sum", "multiply": "prod"}[reduce])

    def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        """torch.scatter_add: ``out[i][index[i][j]] += src[i][j]`` for dim = 1; duplicates add up."""
        return self._scatter("scatter_add", dim, index, as_tensor(src), "sum")

    def scatter_reduce(self, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
        """torch.scatter_reduce with reduce 'sum', 'prod', 'mean', 'amax' or 'amin':
        each target combines `src`'s entries pointing at it, and its own value unless `include_self=False`."""
        if reduce not in ("sum", "prod", "mean", "amax", "amin"):
            raise FrontendError(
                f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}", user_location()[:2]
            )
        return self._scatter("scatter_reduce", dim, index, as_tensor(src), reduce, include_self)

    def _index_checked(self, name: str, dim: int, index, source, long_only: str | None = None) -> tuple[int, Tensor]:
        """torch's checks of index_add/index_copy's operands; returns the dim and `index` as a broadcasting
        row along it (size-1 dims elsewhere)."""
        index = _same_device(self, as_tensor(index))
        dt = index._node.dtype
        if long_only is not None and dt != "i64":
            raise FrontendError(long_only.format(got=_scalar_type_name(dt)), user_location()[:2])
        if dt not in ("i32", "i64"):
            raise FrontendError(
                f"{name}(): Expected dtype int32/int64 for index but got: {_scalar_type_name(dt)}", user_location()[:2]
            )
        if index.ndim > 1:
            raise FrontendError(
                f"{name}(): Index is supposed to be a vector, but got dim: {index.ndim} with type: "
                f"{_scalar_type_name(dt)} and size: {list(index.shape)}",
                user_location()[:2],
            )
        d = self._dim(dim)
        if source is None:
            return d, index.reshape(*[-1 if k == d else 1 for k in range(max(self.ndim, 1))])
        source = _same_device(self, as_tensor(source))
        shape, sshape = self.shape or (1,), source.shape or (1,)
        if index.numel() != sshape[d]:
            raise FrontendError(
                f"{name}(): Number of indices ({index.numel()}) should be equal to source.size(dim): "
                f"({sshape[d]}), for dim: {d}",
                user_location()[:2],
            )
        if len(sshape) != len(shape) or any(m != n for k, (m, n) in enumerate(zip(sshape, shape)) if k != d):
            raise FrontendError(
                "source tensor shape must match self tensor shape, excluding the specified dimension. "
                f"Got self.shape = {list(self.shape)} source.shape = {list(source.shape)}",
                user_location()[:2],
            )
        if source._node.dtype != self._node.dtype:
            raise FrontendError(
                f"{name}(): self ({_scalar_type_name(self._node.dtype)}) and source "
                f"({_scalar_type_name(source._node.dtype)}) must have the same scalar type",
                user_location()[:2],
            )
        return d, index.reshape(*[-1 if k == d else 1 for k in range(len(shape))])

    def _index_update(self, name: str, dim: int, index, source, reduce: str, long_only: str | None = None, alpha=1):
        d, row = self._index_checked(name, dim, index, source, long_only)
        source = as_tensor(source) if alpha == 1 else as_tensor(source) * alpha
        x, source = (self.reshape(1), source.reshape(1)) if self.ndim == 0 else (self, source)
        return x._scatter_matched(d, row, source, reduce).reshape(self.shape)

    def index_add(self, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
        """torch.index_add: ``out[index[j]] += alpha * source[j]`` along `dim` (index a vector); duplicates add up.

        >>> irc.zeros(3, 2).index_add(0, irc.tensor([2, 0, 2]), irc.ones(3, 2))   # rows 2, 0, 2 += 1
        """
        return self._index_update("index_add_", dim, index, source, "sum", alpha=alpha)

    def index_copy(self, dim: int, index: Tensor, source: Tensor) -> Tensor:
        """torch.index_copy: ``out[index[j]] = source[j]`` along `dim` (index an int64 vector); of duplicate
        indices irc keeps the largest value (torch an unspecified one)."""
        message = "index_copy_(): Expected a long tensor for index, but got {got}"
        return self._index_update("index_copy_", dim, index, source, "set", message)

    def index_fill(self, dim: int, index: Tensor, value) -> Tensor:
        """torch.index_fill: `value` (a number or a 0-d tensor) at `index` (an int64 vector, negative entries
        count from the end) along `dim`."""
        if isinstance(value, Tensor) and value.ndim:
            raise FrontendError(
                f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s).",
                user_location()[:2],
            )
        message = "index_fill_(): Expected dtype int64 for index."
        d, row = self._index_checked("index_fill_", dim, index, None, message)
        n = self.shape[d] if self.ndim else 1
        row = where(row < 0, row + n, row)
        x = self.reshape(1) if self.ndim == 0 else self
        return x.masked_fill(x._scatter_hits(d, row), value).reshape(self.shape)

    def scatter_(self, dim: int, index: Tensor, src=None, reduce: str | None = None, *, value=None):
        return self._assign(self.scatter(dim, index, src, reduce, value=value))

    def scatter_add_(self, dim: int, index: Tensor, src: Tensor):
        return self._assign(self.scatter_add(dim, index, src))

    def scatter_reduce_(self, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True):
        return self._assign(self.scatter_reduce(dim, index, src, reduce, include_self=include_self))

    def index_add_(self, dim: int, index: Tensor, source: Tensor, *, alpha=1):
        return self._assign(self.index_add(dim, index, source, alpha=alpha))

    def index_copy_(self, dim: int, index: Tensor, source: Tensor):
        return self._assign(self.index_copy(dim, index, source))

    def index_fill_(self, dim: int, index: Tensor, value):
        return self._assign(self.index_fill(dim, index, value))

    def index_put(self, indices, values, accumulate: bool = False) -> Tensor:
        """torch.index_put: ``out[indices] = values`` (a tuple of index tensors, one per leading dim);
        `accumulate=True` adds, duplicates included (without it irc keeps the largest of duplicates); a tensor of
        values has this tensor's dtype, as torch requires (`x[i] = v` converts v)."""
        items = tuple(indices)
        for k, i in enumerate(items):
            if not isinstance(i, Tensor):
                raise FrontendError(
                    f"expected Tensor as element {k} in argument 0, but got {type(i).__name__}", user_location()[:2]
                )
        if any(i._node.dtype == "i1" for i in items):
            raise FrontendError("index_put with a bool mask is supported as x[mask] = value only", user_location()[:2])
        if isinstance(values, Tensor) and values._node.dtype != self._node.dtype:
            raise FrontendError(
                f"Index put requires the source and destination dtypes match, got {_SCALAR_NAMES[self._node.dtype]} "
                f"for the destination and {_SCALAR_NAMES[values._node.dtype]} for the source.",
                user_location()[:2],
            )
        return self._index_put(items, values, accumulate)

    def index_put_(self, indices, values, accumulate: bool = False):
        return self._assign(self.index_put(indices, values, accumulate))

    def take(self, index) -> Tensor:
        """torch.take: the entries of the flattened tensor at `index` (negative ones count from the end)."""
        return self.reshape(-1)._take(0, index)

    def take_along_dim(self, indices: Tensor, dim: int | None = None) -> Tensor:
        """torch.take_along_dim: gather along `dim` after broadcasting this tensor and `indices` outside it
        (dim None: along the flattened tensor)."""
        indices = as_tensor(indices)
        if dim is None:
            return self.reshape(-1).gather(0, indices.reshape(-1))
        d = self._dim(dim)
        if indices.ndim != self.ndim:
            raise FrontendError(
                f"torch.take_along_dim(): input and indices should have the same number of dimensions, but got "
                f"{self.ndim} dimensions for input, and {indices.ndim} dimensions for indices",
                user_location()[:2],
            )
        # along a dim torch wraps negative indices (its flattened form, a gather, refuses them)
        indices = where(indices < 0, indices + self.shape[d], indices)
        outside = [1 if k == d else n for k, n in enumerate(self.shape)]
        shape = np.broadcast_shapes(tuple(outside), tuple(1 if k == d else n for k, n in enumerate(indices.shape)))
        x = self.broadcast_to([self.shape[d] if k == d else n for k, n in enumerate(shape)])
        return x.gather(d, indices.broadcast_to([indices.shape[d] if k == d else n for k, n in enumerate(shape)]))

    def masked_select(self, mask: Tensor) -> Tensor:
        """torch.masked_select: the entries where the bool `mask` (broadcast with this tensor) is true, as a
        vector. Its length depends on the mask's values: eager only, as `x[mask]`."""
        mask = _same_device(self, as_tensor(mask))
        if mask._node.dtype != "i1":
            raise FrontendError(f"masked_select: expected BoolTensor for mask, got {mask.dtype}", user_location()[:2])
        shape = np.broadcast_shapes(self.shape, mask.shape)
        return self.broadcast_to(shape).reshape(-1)._mask_read(mask.broadcast_to(shape).reshape(-1), "masked_select")

    def masked_scatter(self, mask: Tensor, source: Tensor) -> Tensor:
        """torch.masked_scatter: the entries of `source`, in order, where the bool `mask` (broadcasting to this
        shape) is true. The positions depend on the mask's values: eager only, as `x[mask] = values`."""
        mask = _same_device(self, as_tensor(mask))
        if mask._node.dtype != "i1":
            raise FrontendError(
                f"masked_scatter_ only supports boolean masks, but got mask with dtype {_C_NAMES[mask._node.dtype]}",
                user_location()[:2],
            )
        if graph.Tracing.depth > 0:
            raise FrontendError(
                "masked_scatter depends on the mask's values: not supported inside irc.jit or irc.grad (use irc.where)",
                user_location()[:2],
            )
        shape = np.broadcast_shapes(self.shape, mask.shape)  # out of place, both broadcast (as torch)
        x = self.broadcast_to(shape)
        positions = np.flatnonzero(mask.broadcast_to(shape).numpy())
        source = as_tensor(source).reshape(-1)
        if source.numel() < len(positions):
            raise FrontendError(
                "masked_scatter: expected source to have at least as many elements as ones in mask",
                user_location()[:2],
            )
        flat = x.reshape(-1)._index_put((tensor(positions, device=self.device),), source[: len(positions)], False)
        return flat.reshape(shape)

    def masked_scatter_(self, mask: Tensor, source: Tensor):
        return self._assign(self.masked_scatter(mask, source))

    def roll(self, shifts, dims=None) -> Tensor:
        """torch.roll: entries shifted by `shifts` along `dims` (wrapping around); no dims: the flattened tensor."""
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        if dims is None:
            if len(shifts) != 1:
                raise FrontendError(
                    f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0", user_location()[:2]
                )
            return self.reshape(-1).roll(shifts, 0).reshape(self.shape)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(shifts) != len(dims):
            raise FrontendError(
                f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}", user_location()[:2]
            )
        out = self
        for s, dim in zip(shifts, dims):
            d = self._dim(dim)
            n = self.shape[d] if self.ndim else 1
            s = s % n if n else 0
            if s:
                out = cat([out.narrow(d, n - s, s), out.narrow(d, 0, n - s)], d)
        return out

    def fliplr(self) -> Tensor:
        """torch.fliplr: reversed along dim 1."""
        if self.ndim < 2:
            raise FrontendError("Input must be >= 2-d.", user_location()[:2])
        return self.flip(1)

    def flipud(self) -> Tensor:
        """torch.flipud: reversed along dim 0."""
        if self.ndim < 1:
            raise FrontendError("Input must be >= 1-d.", user_location()[:2])
        return self.flip(0)

    # ------------------------------------------------------ several tensor indices: x[i, j], x[i, :, j] = v
    def _index_tensor(self, dim: int, index) -> Tensor:
        """An int tensor or nested list of ints indexing `dim`, as an int64 tensor with negative entries wrapped
        (a list is checked against the size now; a tensor's values are checked where it is read)."""
        n = self.shape[dim]
        if isinstance(index, Tensor):
            index = _same_device(self, index)
            if index._node.dtype not in ("i32", "i64"):
                raise FrontendError(
                    f"tensors used as indices must be long, int or bool tensors, got {index.dtype}", user_location()[:2]
                )
            if index._node.value is not None and index.numel():  # a realized index is checked here (a lazy one
                array = to_host(index._node.value)  # cannot be: compiled code does not raise, docs/torch-api.md)
                if not (-n <= array.min() and array.max() < n):
                    bad = array[(array < -n) | (array >= n)].flat[0]
                    raise FrontendError(
                        f"index {bad} is out of bounds for dimension {dim} with size {n}", user_location()[:2]
                    )
            return where(index < 0, index + n, index)
        array = np.asarray(index)
        if array.size and array.dtype.kind not in "iu":
            raise FrontendError(
                f"tensors used as indices must be long, int or bool tensors, got {array.dtype}", user_location()[:2]
            )
        array = array.astype(np.int64)
        if array.size and not (-n <= array.min() and array.max() < n):
            bad = array[(array < -n) | (array >= n)].flat[0]
            raise FrontendError(f"index {bad} is out of bounds for dimension {dim} with size {n}", user_location()[:2])
        return tensor(array % max(n, 1), device=self.device)

    def _advanced_parts(self, items: tuple) -> tuple[tuple, Tensor, list[int], Tensor, tuple[int, ...]]:
        """Split an index holding tensor indices: the basic index (tensors as whole dims), its result `part`,
        the dims of `part` the tensors index, their flat row-major position in those dims (broadcast
        together), and the broadcast shape."""
        if any(i is Ellipsis for i in items):
            k = next(k for k, i in enumerate(items) if i is Ellipsis)  # not .index: a tensor's == is elementwise
            fill = self.ndim - sum(i is not None and i is not Ellipsis for i in items)
            items = items[:k] + (slice(None),) * fill + items[k + 1 :]
        is_index = [isinstance(i, (Tensor, list, np.ndarray)) for i in items]
        for i, t in zip(items, is_index):
            if t and ((i._node.dtype == "i1") if isinstance(i, Tensor) else np.asarray(i).dtype == np.bool_):
                raise FrontendError("a bool mask index is supported alone only (x[mask])", user_location()[:2])
        basic = tuple(slice(None) if t else i for i, t in zip(items, is_index))
        part = self[basic]
        dims, d = [], 0
        for i, t in zip(items, is_index):
            if t:
                dims.append(d)
            if not isinstance(i, (int, np.integer)):
                d += 1
        indices = [part._index_tensor(dim, i) for dim, i in zip(dims, (i for i, t in zip(items, is_index) if t))]
        try:
            shape = np.broadcast_shapes(*(t.shape for t in indices))
        except ValueError:
            shapes = ", ".join(str(list(t.shape)) for t in indices)
            raise FrontendError(
                f"shape mismatch: indexing tensors could not be broadcast together with shapes {shapes}",
                user_location()[:2],
            ) from None
        flat, stride = None, 1
        for dim, t in reversed(list(zip(dims, indices))):
            term = t if stride == 1 else t * stride
            flat = term if flat is None else flat + term
            stride *= part.shape[dim]
        return basic, part, dims, flat.broadcast_to(shape), tuple(shape)

    @staticmethod
    def _adjacent(dims: list[int]) -> bool:
        """torch's (numpy's) rule: indexed dims next to each other keep their place in the result; else they go first."""
        return dims == list(range(dims[0], dims[0] + len(dims)))

    def _rows_first(self, dims: list[int]) -> Tensor:
        """This tensor with `dims` moved to the front and merged into one."""
        rest = [k for k in range(self.ndim) if k not in dims]
        return self.permute(dims + rest).reshape(-1, *[self.shape[k] for k in rest])

    def _gather_advanced(self, items: tuple) -> Tensor:
        """`self[items]` for an index with several tensor indices: one index_select of the merged dims."""
        _, part, dims, flat, shape = self._advanced_parts(items)
        rest = [part.shape[k] for k in range(part.ndim) if k not in dims]
        picked = part._rows_first(dims).index_select(0, flat.reshape(-1)).reshape(*shape, *rest)
        if self._adjacent(dims) and dims[0]:  # the broadcast dims go where the indexed dims were
            b, pre = len(shape), dims[0]
            picked = picked.permute([*range(b, b + pre), *range(b), *range(b + pre, picked.ndim)])
        return picked

    def _index_put(self, items: tuple, value, accumulate: bool) -> Tensor:
        """`self` with `self[items] = value` (or `+=` with `accumulate`) for an index with tensor indices:
        one hl.scatter into the merged indexed dims."""
        basic, part, dims, flat, shape = self._advanced_parts(items)
        rest = [part.shape[k] for k in range(part.ndim) if k not in dims]
        adjacent, b = self._adjacent(dims), len(shape)
        pre = dims[0] if adjacent else 0
        target = [*rest[:pre], *shape, *rest[pre:]]
        rows = part._rows_first(dims)
        index = flat.reshape(-1, *[1] * len(rest))
        if accumulate or not isinstance(value, (bool, int, float, np.number, np.bool_)):  # else a number to fill in
            value = value if isinstance(value, Tensor) else tensor(np.asarray(value), device=self.device)
            value = _same_device(self, value)._cast(self._node.dtype)
            if len(value.shape) > len(target) or any(
                n not in (1, want) for n, want in zip(reversed(value.shape), reversed(target))
            ):
                raise FrontendError(
                    f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to indexing "
                    f"result of shape {target}",
                    user_location()[:2],
                )
            value = value.broadcast_to(target)
            if pre:
                value = value.permute([*range(pre, pre + b), *range(pre), *range(pre + b, len(target))])
            value = value.reshape(-1, *rest)
        if flat.numel() == 0:
            return self
        rows = rows._scatter_matched(0, index, value, "sum" if accumulate else "set")
        order = dims + [k for k in range(part.ndim) if k not in dims]
        new = rows.reshape(*[part.shape[k] for k in order]).permute(list(np.argsort(order)))
        if all(isinstance(i, slice) and i == slice(None) for i in basic):
            return new
        return self._with_basic(basic, new)

    def _take(self, dim: int, index) -> Tensor:
        """`self` indexed along `dim` by an int tensor or a nested list of ints (negative ones count from the end):
        that dim is replaced by the index's shape."""
        index = self._index_tensor(dim, index)
        picked = self.index_select(dim, index.reshape(-1))
        return picked.reshape(*self.shape[:dim], *index.shape, *self.shape[dim + 1 :])

    def _mask_read(self, mask: Tensor, what: str = "x[mask] with a bool tensor mask") -> Tensor:
        """`self[mask]` for a bool mask: its shape depends on the mask's values, so eager only."""
        if graph.Tracing.depth > 0:
            raise FrontendError(
                f"{what} has a data-dependent shape: not supported inside irc.jit or irc.grad "
                "(use irc.where or masked_fill)",
                user_location()[:2],
            )
        if tuple(mask.shape) != tuple(self.shape[: mask.ndim]):
            raise FrontendError(
                f"The shape of the mask {list(mask.shape)} does not match the shape of the indexed tensor "
                f"{list(self.shape)}",
                user_location()[:2],
            )
        flat = np.flatnonzero(mask.numpy())
        rows = self.reshape(math.prod(mask.shape), *self.shape[mask.ndim :])
        return rows.index_select(0, tensor(flat, device=self.device))

    def __getitem__(self, index) -> Tensor:
        """`x[index]`: a view of x for a basic index (ints, slices, None, ...), as in PyTorch; a copy for an
        advanced one (int tensors or lists, a bool mask)."""
        items = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, bool) for i in items):
            return self._bool_scalar_index(items)
        advanced = [k for k, i in enumerate(items) if isinstance(i, (Tensor, list, np.ndarray))]
        if advanced:
            return self._advanced_index(items, advanced)
        out = self._basic_read(index)
        if out is self:
            return self._alias()
        start, stop, step, _ = self._basic_index(index)
        contiguous = _block_contiguous(self.shape, start, stop, step)
        return _View(self, out._node, lambda b: b._basic_read(index), lambda b, v: b._with_basic(index, v), contiguous)

    def _bool_scalar_index(self, items: tuple) -> Tensor:
        """`x[True]`, `x[..., False]`: a Python bool is a new dim of size 1 (True) or 0 (False), as torch's (not
        the index 1 or 0 that bool is as an int)."""
        out = self[tuple(None if isinstance(i, bool) else i for i in items)]
        consumed = sum(not (i is None or i is Ellipsis or isinstance(i, bool)) for i in items)
        position = 0
        for i in items:
            if isinstance(i, bool):
                if not i:
                    out = out.narrow(position, 0, 0)
                position += 1
            elif i is None or isinstance(i, slice):
                position += 1
            elif i is Ellipsis:
                position += self.ndim - consumed
        return out

    def _basic_read(self, index) -> Tensor:
        start, stop, step, out_shape = self._basic_index(index)
        x = self
        if (start, stop, step) != ([0] * self.ndim, list(self.shape), [1] * self.ndim):
            x = self._new(apply(hl.SliceOp, [self._node], start=start, stop=stop, step=step))
        return x._reshape(*out_shape)

    def _advanced_index(self, items: tuple, advanced: list[int]) -> Tensor:
        """An index with one int tensor or list (`x[idx]`, `x[:, [-1], :]`) or a bool mask alone (`x[mask]`)."""
        k = advanced[0]
        index = items[k]
        is_mask = index._node.dtype == "i1" if isinstance(index, Tensor) else np.asarray(index).dtype == np.bool_
        if is_mask:
            if len(items) != 1:
                raise FrontendError("a bool mask index is supported alone only (x[mask])", user_location()[:2])
            return self._mask_read(as_tensor(index))
        if len(advanced) > 1:
            return self._gather_advanced(items)
        before = items[:k]
        fill = self.ndim - sum(i is not None and i is not Ellipsis for i in items)
        dim = sum(i is None or isinstance(i, slice) for i in before) + (
            fill if any(i is Ellipsis for i in before) else 0
        )
        basic = self[(*before, slice(None), *items[k + 1 :])]
        return basic._take(dim, index)

    def __setitem__(self, index, value) -> None:
        """`x[index] = value` as in PyTorch, for basic indices (ints, slices, None, ...) and a bool mask.

        Functional underneath: x's node becomes a select between x and `value` spread to x's
        shape by pad, so gradients flow to both (x must not be a leaf that requires grad).
        Views of x (`_View`) see the change, as in PyTorch.
        """
        items = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, bool) for i in items):  # x[True] = v writes all of x, x[False] = v nothing (torch's)
            if any(i is False for i in items):
                return
            index = items = tuple(None if isinstance(i, bool) else i for i in items)
        if isinstance(index, (list, np.ndarray)) and np.asarray(index).dtype == np.bool_:
            index = tensor(np.asarray(index), device=self.device)
        if isinstance(index, Tensor) and index._node.dtype == "i1":
            self._assign(self._masked_set(index, value))
        elif any(isinstance(i, (Tensor, list, np.ndarray)) for i in items):
            self._assign(self._index_put(items, value, False))
        else:
            self._assign(self._with_basic(index, value))

    def _with_basic(self, index, value) -> Tensor:
        """`self` with `self[index] = value` for a basic index: a select between self and `value` spread."""
        start, stop, step, out_shape = self._basic_index(index)
        counts = [len(range(a, b, s)) for a, b, s in zip(start, stop, step)]
        if isinstance(value, Tensor):
            value = _same_device(self, value)._cast(self._node.dtype)
        elif isinstance(value, (bool, int, float, np.number, np.bool_)):
            value = self._scalar_tensor(value, self._node.dtype)
        else:
            value = tensor(value, device=self.device)._cast(self._node.dtype)
        _check_expandable(value.shape, out_shape)
        if 0 in counts:
            return self
        placed = _spread(value.broadcast_to(out_shape).reshape(counts), start, step, self.shape)
        where_set = _spread(full(counts, True, device=self.device), start, step, self.shape)
        return self._new(apply(hl.SelectOp, [where_set._node, placed._node, self._node]))

    def _masked_set(self, mask: Tensor, value) -> Tensor:
        """`self` with `value` (a number or a one-element tensor) where the bool `mask` is true."""
        if mask._node.dtype != "i1":
            raise FrontendError(
                f"indexing with a {mask.dtype} tensor is not supported (only bool masks: x[mask] = value)",
                user_location()[:2],
            )
        for d, (m, n) in enumerate(zip(mask.shape, self.shape)):
            if m != n:
                raise FrontendError(
                    f"The shape of the mask {list(mask.shape)} at index {d} does not match the shape of the "
                    f"indexed tensor {list(self.shape)} at index {d}",
                    user_location()[:2],
                )
        if mask.ndim > self.ndim:
            raise FrontendError(f"too many indices for a tensor of shape {list(self.shape)}", user_location()[:2])
        if isinstance(value, Tensor) and value.ndim:
            if value.numel() != 1:
                if graph.Tracing.depth > 0:
                    raise FrontendError(
                        f"x[mask] = value inside irc.jit or irc.grad needs a number or a one-element tensor, got "
                        f"shape {list(value.shape)} (the number of true elements is only known at run time); "
                        "use irc.where",
                        user_location()[:2],
                    )
                positions = np.nonzero(mask.numpy())  # eager: the mask's values pick the places
                return self._index_put(tuple(tensor(p, device=self.device) for p in positions), value, False)
            value = value.reshape(())
        return self.masked_fill(mask.reshape(*mask.shape, *[1] * (self.ndim - mask.ndim)), value)

    def _basic_index(self, index) -> tuple[list[int], list[int], list[int], list[int]]:
        """start, stop and step per dim of a basic index (ints, slices, None, ...), and the result's shape."""
        if not isinstance(index, tuple):
            index = (index,)
        if any(i is Ellipsis for i in index):
            k = index.index(Ellipsis)
            fill = self.ndim - (len(index) - 1 - sum(i is None for i in index))
            index = index[:k] + (slice(None),) * fill + index[k + 1 :]
        if sum(i is not None for i in index) > self.ndim:
            raise FrontendError(f"too many indices for a tensor of shape {list(self.shape)}", user_location()[:2])
        start, stop, step, out_shape, d = [], [], [], [], 0
        for i in index:
            if i is None:
                out_shape.append(1)
                continue
            n = self.shape[d]
            if isinstance(i, slice):
                a, b, s = i.indices(n)
                if s < 0:  # torch has no negative steps (use flip)
                    raise FrontendError("step must be greater than zero", user_location()[:2])
                b = max(a, b)
                start.append(a), stop.append(b), step.append(s)
                out_shape.append(len(range(a, b, s)))
            elif isinstance(i, (int, np.integer)):
                if not -n <= i < n:
                    raise FrontendError(f"index {i} out of range for dim {d} of size {n}", user_location()[:2])
                start.append(int(i) % n), stop.append(int(i) % n + 1), step.append(1)
            else:
                raise FrontendError(f"unsupported index {i!r} (use ints, slices, None and ...)", user_location()[:2])
            d += 1
        for n in self.shape[d:]:
            start.append(0), stop.append(n), step.append(1)
            out_shape.append(n)
        return start, stop, step, out_shape


def _check_expandable(shape: tuple[int, ...], target: list[int]) -> None:
    """PyTorch's error when a value of `shape` cannot be expanded to `target` (`x[index] = value`)."""
    if len(shape) > len(target) and any(n != 1 for n in shape[: len(shape) - len(target)]):
        raise FrontendError(
            f"shape mismatch: value tensor of shape {list(shape)} cannot be broadcast to indexing result "
            f"of shape {target}",
            user_location()[:2],
        )
    shape = shape[max(0, len(shape) - len(target)) :]
    for d, (n, want) in enumerate(zip(reversed(shape), reversed(target))):
        if n not in (1, want):
            dim = len(target) - 1 - d
            raise FrontendError(
                f"The expanded size of the tensor ({want}) must match the existing size ({n}) at non-singleton "
                f"dimension {dim}.  Target sizes: {target}.  Tensor sizes: {list(shape)}",
                user_location()[:2],
            )


def _spread(t: Tensor, start: list[int], step: list[int], shape: tuple[int, ...]) -> Tensor:
    """`t`'s element i of dim d put at index start[d] + i * step[d] of a tensor of `shape`, zeros elsewhere."""
    for d, s in enumerate(step):
        k = t.shape[d]
        if s > 1 and k > 1:  # interleave s - 1 zeros after each element: (k, s) -> k * s, then drop the tail
            low, high = [0] * (t.ndim + 1), [0] * (t.ndim + 1)
            high[d + 1] = s - 1
            t = t.unsqueeze(d + 1)
            t = t._new(apply(hl.PadOp, [t._node], low=low, high=high, value=0.0))
            t = t.reshape(*t.shape[:d], k * s, *t.shape[d + 2 :]).narrow(d, 0, (k - 1) * s + 1)
    high = [n - a - m for n, a, m in zip(shape, start, t.shape)]
    return t._new(apply(hl.PadOp, [t._node], low=list(start), high=high, value=0.0))


def _scalar_type_name(dtype: str) -> str:
    """PyTorch's scalar type name in its messages: Float, Double, Int, Long, Bool."""
    return _TYPE_NAMES[dtype].removesuffix("Tensor")


def to_arguments(args: Sequence, device=None, dtype=None) -> tuple:
    """(device, dtype) of `x.to(...)` / `module.to(...)`'s positional `args`, as PyTorch reads them: a
    device name or `irc.device`, a dtype, or a tensor (its device and dtype); None where not given."""
    for arg in args:
        if isinstance(arg, bool):  # torch's positional non_blocking and copy: irc copies are fresh arrays
            continue
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, str) and arg.partition(":")[0] in DEVICES:
            device = arg
        else:
            dtype = arg
    return device, dtype


def _scalar(value, dtype: str):
    if dtype == "i1":
        return int(bool(value))  # any nonzero number is true, as in PyTorch
    return float(value) if _is_float(dtype) else int(value)


def _scalar_dtype(value: bool | int | float, tensor_dtype: str) -> str:
    """PyTorch's promotion of a Python scalar with a tensor: the tensor's dtype, unless the scalar is of a
    higher category (bool < int < float); then that category's default dtype (int64, float32)."""
    if isinstance(value, float) and not _is_float(tensor_dtype):
        return "f32"
    if isinstance(value, int) and not isinstance(value, bool) and tensor_dtype == "i1":
        return "i64"
    return tensor_dtype


#: bool (i1) arithmetic as in PyTorch: + is logical or, * is logical and
_BOOL_ARITHMETIC = {hl.AddOp: hl.BitwiseOrOp, hl.MulOp: hl.BitwiseAndOp}
#: ops PyTorch refuses on bool tensors (sub: see `_binary`) -> the error
_NOT_FOR_BOOL = {
    hl.NegOp: "negation, the `-` operator, on a bool tensor is not supported; use `~` to invert a mask",
    hl.AbsOp: "abs is not supported for bool tensors",
    hl.ReluOp: "relu is not supported for bool tensors",
    hl.PowOp: "pow of two bool tensors is not supported",
    hl.FloorDivideOp: "floor_divide (`//`) of two bool tensors is not supported",
}


def _check_nonzero_divisor(divisor) -> None:
    """Integer `//` by zero raises, as in PyTorch and Python. Eager divisors are checked here; inside
    irc.jit the divisor is not known, and the compiled code gives x // 0 == x."""
    if isinstance(divisor, Tensor):
        if graph.Tracing.depth > 0:
            return
        divisor = to_host(divisor._value())
    if (np.asarray(divisor) == 0).any():
        file, line, _ = user_location()
        raise ZeroDivisionError(f"{file}:{line}: floor_divide (`//`): integer division by zero")


def _shape_arg(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _check_device(device) -> str:
    """The device kind ("cpu", "cuda", "opencl") of a device string ("cuda:0") or `irc.device`."""
    if not isinstance(device, str):
        raise FrontendError(f"unknown device {device!r}; irc knows {', '.join(DEVICES)}", user_location()[:2])
    return as_device(device)


def _same_device(first: Tensor, *others: Tensor) -> Tensor:
    """`others[-1]` (or `first`), after checking that all the tensors are on one device.

    Not inside `irc.jit`: the traced program runs on its target's device as a whole, and every
    tensor it reads is there at each call (docs/gpu.md: "irc.jit and devices").
    """
    if graph.Tracing.depth > 0:
        return others[-1] if others else first
    for t in others:
        if t.device != first.device:
            raise FrontendError(
                f"expected all tensors to be on the same device, got {first.device!r} and {t.device!r} "
                "(use .to(device))",
                user_location()[:2],
            )
    return others[-1] if others else first


# ---------------------------------------------------------------- creation


def tensor(data, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """A tensor from a list, scalar or numpy array (copied), as `torch.tensor`: a numpy array or
    scalar keeps its dtype (float64 stays float64); Python floats become float32, ints int64.

        >>> irc.tensor(np.zeros(2, np.float16))
        TypeError: irc.tensor: dtype float16 is not supported (supported: float32, float64, int32, int64, bool)
    """
    array = as_array(data, dtype, "irc.tensor", copy=True)
    device = _check_device(device)
    if graph.Tracing.depth == 0:  # inside irc.jit it is a constant of the program: no device needed to trace
        array = move(array, device)
    return Tensor(graph.data_node(array), device).requires_grad_(requires_grad)


def _legacy_node(data, sizes: tuple, device) -> tuple[Node, str]:
    """The node and device of `irc.Tensor(data)` / `irc.Tensor(*sizes)` (PyTorch's legacy constructor)."""
    device = _check_device(device)
    if isinstance(data, Tensor) and not sizes:
        return _detached(data._node), data.device
    if data is None and not sizes:
        data = ()
    if isinstance(data, (int, np.integer)) and not isinstance(data, bool):
        shape = (data, *sizes)
        if not all(isinstance(n, (int, np.integer)) for n in shape):
            raise TypeError(f"irc.Tensor(*sizes): sizes must be ints, got {list(shape)}")
        if min(shape) < 0:
            raise FrontendError(
                f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}", user_location()[:2]
            )
        return zeros(shape, device=device)._node, device
    if sizes or not _is_sequence(data):
        got = ", ".join(type(a).__name__ for a in (data, *sizes))
        raise TypeError(f"irc.Tensor(): expected a sequence of numbers or sizes, got ({got})")
    return graph.data_node(move(as_array(data, "float32", "irc.Tensor", copy=True), device)), device


def as_array(data, dtype=None, where: str = "irc.tensor", copy: bool = False) -> np.ndarray:
    """`data` (a numpy array or scalar, a nested list, a Tensor) as the array `irc.tensor` holds.

    numpy data keeps its dtype and is refused (naming `where`) if irc does not support it;
    Python floats become float32 and ints int64. A ragged nested list is PyTorch's ValueError.
    """
    if isinstance(data, Tensor):
        data = data.numpy()
    if dtype is not None:
        dtype = hl.NUMPY_DTYPES[dtype_short(dtype)]
    try:
        array = np.array(data, dtype=dtype, copy=copy or None)
    except ValueError:
        check_nested_shape(data, where)
        raise
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64)
    supported_dtype(array.dtype, where)
    return array


def _is_sequence(x) -> bool:
    return isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.ndim > 0)


def check_nested_shape(data, where: str = "irc.tensor") -> None:
    """Raise PyTorch's ValueError for a ragged nested list: "expected sequence of length 2 at dim 1 (got 3)"."""
    shape, first = [], data
    while _is_sequence(first):
        shape.append(len(first))
        if not len(first):
            break
        first = first[0]

    def check(x, dim: int) -> None:
        if dim == len(shape):
            if _is_sequence(x):
                raise ValueError(f"{where}: expected a number at dim {dim} (got a sequence of length {len(x)})")
            return
        if not _is_sequence(x):
            raise ValueError(f"{where}: expected sequence of length {shape[dim]} at dim {dim} (got {type(x).__name__})")
        if len(x) != shape[dim]:
            raise ValueError(f"{where}: expected sequence of length {shape[dim]} at dim {dim} (got {len(x)})")
        for item in x:
            check(item, dim + 1)

    check(data, 0)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that keeps the array's dtype (no copy)."""
    return Tensor(graph.data_node(np.asarray(array, dtype=supported_dtype(array.dtype, "irc.from_numpy"))), "cpu")


def full(shape, fill_value, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    short = dtype_short(dtype) if dtype is not None else ("f32" if isinstance(fill_value, float) else "i64")
    if isinstance(fill_value, bool) and dtype is None:
        short = "i1"
    t = hl.tensor_type(_shape_arg(shape if isinstance(shape, tuple | list) else (shape,)), hl.DTYPES[short])
    out = Tensor(apply(hl.FullOp, [], t, value=_scalar(fill_value, short)), _check_device(device))
    return out.requires_grad_() if requires_grad else out


def _sizes(shape: tuple, size, name: str) -> tuple[int, ...]:
    """The shape of a factory call: its positional sizes, or `size=` (torch takes either, not both)."""
    if size is None:
        return _shape_arg(shape)
    if shape:
        raise FrontendError(f"{name}() got sizes both as arguments and as size=", user_location()[:2])
    return _shape_arg((size,)) if isinstance(size, tuple | list) else (size,)


def zeros(*shape, size=None, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return full(_sizes(shape, size, "zeros"), 0.0, dtype or "float32", device, requires_grad)


def ones(*shape, size=None, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return full(_sizes(shape, size, "ones"), 1.0, dtype or "float32", device, requires_grad)


def empty(*shape, size=None, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """`zeros` (irc has no uninitialized memory)."""
    return zeros(*_sizes(shape, size, "empty"), dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of x's shape filled with `fill_value`, of x's dtype and device unless given."""
    return as_tensor(x).new_full(as_tensor(x).shape, fill_value, dtype, device, requires_grad)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full_like(x, 0, dtype, device, requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full_like(x, 1, dtype, device, requires_grad)


empty_like = zeros_like


def arange(start, end=None, step=1, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """torch.arange: `start, start + step, ...` before `end`, iota scaled and shifted in the graph. Bounds may
    be numbers or one-element tensors. int64 when they are all integers, else float32, unless `dtype` says;
    an integer dtype truncates the bounds and the step first, as torch's (`arange(2.5, dtype=int64)` is
    [0, 1]); the length is ceil((end - start) / step)."""
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    is_int = all(isinstance(v, int) for v in (start, end, step))
    short = dtype_short(dtype) if dtype is not None else ("i64" if is_int else "f32")
    where = user_location()[:2]
    integral = short != "i1" and not hl.is_float(hl.DTYPES[short])
    bounds = (start, end, step)
    if integral:
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise FrontendError("arange: step must be nonzero", where)
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise FrontendError(f"arange: unsupported range: {start} -> {end} (step {step})", where)
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise FrontendError("arange: upper bound and lower bound inconsistent with step sign", where)
    if short == "i64" or all(isinstance(v, int) for v in bounds):
        n = -((start - end) // step)  # ceil((end - start) / step), exactly
    else:  # torch's other dtypes: the length from the bounds as given, in double
        n = max(0, math.ceil((bounds[1] - bounds[0]) / bounds[2]))
    # float32/16 values as torch computes them: in double, then rounded once
    wide = "f64" if short in ("f32", "f16", "bf16") else short
    idx = Tensor(apply(hl.IotaOp, [], hl.tensor_type((n,), hl.DTYPES[wide]), dim=0), _check_device(device))
    if step != 1:
        idx = idx * step
    if start != 0:
        idx = idx + start
    if wide != short:
        idx = idx._cast(short)
    if requires_grad:
        idx = idx.detach().requires_grad_(True)
    return idx


_rng = np.random.default_rng(0)
_rng_counter = [0, 0]  # [seed, calls]: keys for hl.random_uniform (Dropout)


def manual_seed(seed: int) -> None:
    """Seed irc's random number generators (rand, randn, init, dropout keys)."""
    global _rng
    _rng = np.random.default_rng(seed)
    _rng_counter[:] = [int(seed), 0]


def default_rng() -> np.random.Generator:
    """irc's generator (what `manual_seed` seeds), for numpy draws that follow it (`irc.utils.data`)."""
    return _rng


def randperm(n: int, generator=None, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """A random permutation of `range(n)` (int64), as `torch.randperm`; drawn from irc's generator
    (seeded by `manual_seed`), or from `generator`, a `numpy.random.Generator` (irc has no
    `torch.Generator`).

        >>> irc.manual_seed(0); irc.randperm(4).tolist()
        [2, 0, 1, 3]
    """
    rng = _rng if generator is None else generator
    return tensor(rng.permutation(n), dtype=dtype or "int64", device=device, requires_grad=requires_grad)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, generator=None) -> Tensor:
    """Category indices (int64) drawn with the (unnormalized) weights of `input`'s last dim, as
    `torch.multinomial`: a 1-D input gives `num_samples` indices, each row of a 2-D one its own.
    Without replacement, torch's method: the `num_samples` largest of `weight / Exponential(1)`, so
    zero-weight categories come last. Eager only (it reads the weights), from irc's generator (seeded
    by `manual_seed`) or `generator`, a `numpy.random.Generator`; the numbers differ from torch's.
    """
    if graph.Tracing.depth:
        raise FrontendError(
            "multinomial reads its weights, so it runs eagerly only (not inside irc.jit)", user_location()[:2]
        )
    if not _is_float(input._node.dtype):
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = input.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    weights = input.detach().numpy().astype(np.float64).reshape(-1, n)
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (weights.sum(axis=1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _rng if generator is None else generator
    if replacement:
        rows = [rng.choice(n, size=num_samples, p=w / w.sum()) for w in weights]
    else:
        rows = [np.argsort(-(w / rng.exponential(size=n)), kind="stable")[:num_samples] for w in weights]
    out = np.stack(rows).reshape(input.shape[:-1] + (num_samples,))
    return tensor(out, dtype="int64", device=input.device)


def next_rng_key() -> int:
    """A fresh key for `hl.random_uniform`: deterministic after `manual_seed`."""
    _rng_counter[1] += 1
    return (_rng_counter[0] * 0x5851F42D + _rng_counter[1] * 0x9E3779B9) & 0x7FFFFFFFFFFFFFFF


@contextmanager
def keys_unchanged() -> Iterator[None]:
    """Keys drawn inside (by a trace, whose keys are placeholders) are drawn again afterwards."""
    calls = _rng_counter[1]
    try:
        yield
    finally:
        _rng_counter[1] = calls


def _fresh_key() -> np.ndarray:
    return np.array(next_rng_key(), dtype=np.int64)


def rng_key() -> Node:
    """A leaf holding a fresh key; `irc.jit` feeds a new one on every call."""
    node = graph.data_node(_fresh_key())
    node.feed = _fresh_key
    return node


def _sample(shape: tuple[int, ...], dtype: str, device: str, normal: bool, scale=1.0, shift=0.0) -> Tensor:
    """`shift + scale * x` for x ~ U[0, 1) or N(0, 1), of float dtype `dtype`.

    Eager, x is drawn now from irc's generator. Inside a trace (`irc.jit`) it is
    computed in the program from `hl.random_uniform` on keys fed afresh on every
    call (normal samples by the Box-Muller transform), so each call draws new numbers.
    """
    if not _is_float(dtype):
        raise FrontendError(
            f"random sampling is only implemented for float dtypes, got {hl.NUMPY_DTYPES[dtype]}", user_location()[:2]
        )
    _check_device(device)
    if graph.Tracing.depth == 0:
        x = _rng.standard_normal(shape) if normal else _rng.random(shape)
        return tensor(x * scale + shift, dtype=dtype, device=device)
    result_type = hl.tensor_type(shape, hl.DTYPES[dtype])
    u = Tensor(apply(hl.RandomUniformOp, [rng_key()], result_type), device)
    if normal:
        angle = Tensor(apply(hl.RandomUniformOp, [rng_key()], result_type), device) * (2 * math.pi)
        u = ((1.0 - u).log() * -2.0).sqrt() * angle.cos()  # 1 - u is in (0, 1]
    if scale != 1.0:
        u = u * scale
    return u + shift if shift != 0.0 else u


def _random(shape, dtype, device: str, requires_grad: bool, normal: bool) -> Tensor:
    out = _sample(_shape_arg(shape), dtype_short(dtype or "float32"), device, normal)
    if requires_grad and graph.Tracing.depth:
        raise FrontendError(
            "a random tensor with requires_grad=True created inside irc.jit is not supported "
            "(it would be a new leaf on every call)",
            user_location()[:2],
        )
    return out.requires_grad_(requires_grad)


def rand(*shape, size=None, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """Samples of U[0, 1) (inside irc.jit: new numbers on every call)."""
    return _random(_sizes(shape, size, "rand"), dtype, device, requires_grad, normal=False)


def randn(*shape, size=None, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """Samples of N(0, 1) (inside irc.jit: new numbers on every call)."""
    return _random(_sizes(shape, size, "randn"), dtype, device, requires_grad, normal=True)


def rand_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = x.dtype if dtype is None else dtype, x.device if device is None else device
    return rand(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = x.dtype if dtype is None else dtype, x.device if device is None else device
    return randn(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


# ---------------------------------------------------------- free functions


def as_tensor(x, dtype=None, device=None) -> Tensor:
    """`x` itself if it is a tensor (converted only where `dtype`/`device` say), else `irc.tensor(x, ...)`."""
    if isinstance(x, Tensor):
        if dtype is not None:
            x = x.to(dtype)
        return x if device is None else x.to(device)
    return tensor(x, dtype=dtype, device=device or "cpu")


def is_tensor(obj) -> bool:
    """True for an irc Tensor (or Parameter), as `torch.is_tensor`."""
    return isinstance(obj, Tensor)


def matmul(a, b) -> Tensor:
    """torch matmul semantics, vectors included; both operands of one dtype, as torch requires (a
    promoted product would hide a forgotten `.double()` or `.float()`)."""
    a, b = as_tensor(a), as_tensor(b)
    _same_device(a, b)
    if a._node.dtype != b._node.dtype:
        raise FrontendError(f"{_matmul_dtype_message(a, b)} (cast one with .to(dtype))", user_location()[:2])
    if a.ndim == 0 or b.ndim == 0:
        raise FrontendError("matmul: both operands need at least one dimension", user_location()[:2])
    squeeze_a, squeeze_b = a.ndim == 1, b.ndim == 1
    if squeeze_a:
        a = a.reshape(1, -1)
    if squeeze_b:
        b = b.reshape(-1, 1)
    out = a._new(apply(hl.MatmulOp, [a._node, b._node]))
    if squeeze_a:
        out = out.squeeze(-2)
    if squeeze_b:
        out = out.squeeze(-1)
    return out


def _matmul_dtype_message(a: Tensor, b: Tensor) -> str:
    """PyTorch's message for a matmul of two dtypes: that of the kernel its matmul picks for these ranks."""
    da, db = a._node.dtype, b._node.dtype
    if a.ndim == 1 and b.ndim == 1:
        return f"dot : expected both vectors to have same dtype, but found {_SCALAR_NAMES[da]} and {_SCALAR_NAMES[db]}"
    if a.ndim >= 2 and b.ndim == 1:
        sa, sb = _SCALAR_NAMES[da], _SCALAR_NAMES[db]
        return f"addmv input tensors must have the same dtype, but got {sb}, {sa}, and {sb}"
    if b.ndim == 2:
        return f"expected m1 and m2 to have the same dtype, but got: {_C_NAMES[da]} != {_C_NAMES[db]}"
    return f"expected scalar type {_SCALAR_NAMES[da]} but found {_SCALAR_NAMES[db]}"


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3:
        raise FrontendError(f"bmm expects 3-D tensors, got {list(a.shape)} and {list(b.shape)}", user_location()[:2])
    return matmul(a, b)


# ------------------------------------------------------------------ backward() (torch.autograd.backward)
def _tensor_list(x, what: str) -> list:
    items = [x] if isinstance(x, Tensor) else list(x) if isinstance(x, (tuple, list)) else None
    if items is None or not all(isinstance(t, Tensor) for t in items):
        raise TypeError(f"{what} must be a tensor or a sequence of tensors, got {type(x).__name__}")
    return items


def _grad_roots(tensors: list, grad_tensors) -> tuple[list[Node], list[Node | None]]:
    """The root nodes and seeds of backward()/grad(), checked as PyTorch checks them."""
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    else:
        grad_tensors = [grad_tensors] if isinstance(grad_tensors, Tensor) else list(grad_tensors)
        if len(grad_tensors) != len(tensors):
            raise RuntimeError(f"got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    roots, seeds = [], []
    for k, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t.requires_grad:
            hint = ""
            if graph.Tracing.depth > 0:
                hint = (
                    " (inside irc.jit the function's arguments are values without requires_grad: differentiate "
                    "tensors the function captures, such as a model's parameters, not its arguments)"
                )
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn" + hint)
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (this tensor has shape "
                    f"{list(t.shape)}); pass gradient= of the same shape"
                )
            seeds.append(None)
        else:
            seed = as_tensor(g)._cast(t._node.dtype)
            if seed.shape != t.shape:
                raise RuntimeError(f"gradient has shape {list(seed.shape)}, expected {list(t.shape)}")
            seeds.append(seed._node)
        roots.append(t._node)
    return roots, seeds


def _deliver_grad(tensor, g: Node, create_graph: bool) -> None:
    """Accumulate the gradient `g` into `tensor.grad`, after the tensor's own (leaf) hooks."""
    g = _leaf_hooks(tensor, g, create_graph)
    if graph.Tracing.mutated is not None:  # irc.jit: the trace adds to the .grad the tensor has at the call
        graph.Tracing.guard_grad(tensor)
    if tensor._grad is None:
        tensor.grad = Tensor(g, tensor.device)
    elif graph.Tracing.mutated is None:  # added in place, as PyTorch's: `g = x.grad` sees later backward passes
        tensor._grad._set_node(autograd._sum(tensor._grad._node, g, create_graph))
    else:  # irc.jit writes the result back into the .grad tensor the call finds (`_write_back`)
        tensor.grad = Tensor(autograd._sum(tensor._grad._node, g, create_graph), tensor.device)


def autograd_backward(
    tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None
):
    """Accumulate the gradients of `tensors` (seeded with `grad_tensors`) into the `.grad` of the leaves they
    depend on, or of `inputs` only, as `torch.autograd.backward` (and `Tensor.backward`)."""
    if grad_variables is not None:
        grad_tensors = grad_variables
    roots, seeds = _grad_roots(_tensor_list(tensors, "tensors"), grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        for leaf, g in autograd.run_backward(roots, seeds, retain_graph, create_graph, tensor_type=Tensor)[0]:
            owner = leaf.owner() if leaf.owner is not None else None
            if owner is not None:
                _deliver_grad(owner, g, create_graph)
        return
    inputs = _tensor_list(inputs, "inputs")
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    _, found = autograd.run_backward(roots, seeds, retain_graph, create_graph, [t._node for t in inputs], Tensor)
    for t in inputs:
        if id(t._node) in found:
            _deliver_grad(t, found[id(t._node)], create_graph)


def _leaf_hooks(tensor, g: graph.Node, create_graph: bool) -> graph.Node:
    """`g` after the hooks `register_hook` put on the leaf `tensor`."""
    hooks = tensor.__dict__.get("_hooks")
    if hooks:
        g = autograd.apply_hooks(list(hooks), g, tensor._node, create_graph, Tensor, tensor.device)
    return g


def where(cond, a=None, b=None) -> Tensor:
    """`a` where `cond`, else `b` (broadcast, promoted); `where(cond)` alone is `nonzero(cond, as_tuple=True)`."""
    if a is None and b is None:
        return as_tensor(cond).nonzero(as_tuple=True)
    return _where3(cond, a, b)


def _where3(cond, a, b) -> Tensor:
    cond = as_tensor(cond)
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else cond
    a, b = ref._operand(a), ref._operand(b)
    _same_device(cond, a, b)
    dt = _promote(a._node.dtype, b._node.dtype)
    return cond._new(apply(hl.SelectOp, [cond.bool()._node, a._cast(dt)._node, b._cast(dt)._node]))


def maximum(a, b) -> Tensor:
    return as_tensor(a).maximum(b)


def minimum(a, b) -> Tensor:
    return as_tensor(a).minimum(b)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise FrontendError("cat() needs at least one tensor", user_location()[:2])
    _same_device(*tensors)
    for k, t in enumerate(tensors):
        if t.ndim == 0:
            raise FrontendError(
                f"zero-dimensional tensor (at position {k}) cannot be concatenated", user_location()[:2]
            )
    dt = tensors[0]._node.dtype
    for t in tensors[1:]:
        dt = _promote(dt, t._node.dtype)
    # torch skips 1-D empty tensors among tensors of higher rank (its legacy rule)
    kept = [t for t in tensors if t.shape != (0,)] or tensors[:1]
    if len(kept) < len(tensors) and all(t.ndim > 1 for t in kept):
        tensors = kept
    dim = max(tensors, key=lambda t: t.ndim)._dim(dim)
    if len(tensors) == 1:  # a new tensor, not the argument (writing to it must not change that one)
        out = tensors[0]._cast(dt)
        return out if out is not tensors[0] else out._new(_copied(out._node))
    return tensors[0]._new(apply(hl.ConcatOp, [t._cast(dt)._node for t in tensors], dim=dim))


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    return cat([as_tensor(t).unsqueeze(dim) for t in tensors], dim)


def _detached(node: Node) -> Node:
    """A node with `node`'s value and no gradient history."""
    if node.value is None:  # stop_gradient: also cut for irc.grad / vjp / jvp, which differentiate the trace
        with autograd.no_grad():
            return apply(hl.StopGradientOp, [node])
    copy = graph.data_node(node.value)
    # the same value as the same age and owner: inside irc.jit a parameter's detached value is
    # read from the parameter on every call, not folded in as a constant of the trace
    copy.serial, copy.owner = node.serial, node.owner
    return copy


def _copied(node: Node) -> Node:
    """A new node with `node`'s value (and gradient history, when it is recorded)."""
    if node.value is not None and graph.Tracing.depth == 0 and not (autograd.is_grad_enabled() and node.requires_grad):
        return graph.data_node(node.value)
    return apply(hl.ReshapeOp, [node], shape=list(node.shape))


class _DataView(Tensor):
    """`t.data`: t's value without gradient history, sharing t's storage as in PyTorch.

    It has no node of its own: it reads t's current one (detached), and in-place
    ops on it assign to t, so they reach a parameter in eager mode and inside
    `irc.jit` alike (the trace records t as updated).
    """

    @property
    def _contiguous(self) -> bool:
        return self._base._contiguous

    # its tensor's elements as it sees them, and the tensor with them replaced: itself, until the tensor changes
    # shape in place (`_follow_reshape`)
    _read = staticmethod(lambda base: base)
    _write = staticmethod(lambda base, value: value)

    def __init__(self, base: Tensor):
        self._base = base
        self._source: Node | None = None
        self._view: Node | None = None
        super().__init__(self._node, base.device)
        _watch(base, self)

    def _refresh(self) -> None:
        """Its tensor's value changed: its own node follows on the next read; views of it read again now."""
        self._refresh_views()

    @property
    def _node(self) -> Node:
        source = self._base._node
        if source is not self._source:
            self._source, self._view = source, _detached(self._read(self._base)._node)
        return self._view

    @_node.setter
    def _node(self, node: Node) -> None:
        if node is not self._node:
            raise FrontendError(
                "this operation cannot rebind a .data view; assign to the tensor's .data instead", user_location()[:2]
            )

    @property
    def device(self) -> str:
        return self._base.device

    @device.setter
    def device(self, device: str) -> None:
        if device != self._base.device:
            raise FrontendError("a .data view cannot move to another device; move its tensor", user_location()[:2])

    def _assign(self, result: Tensor) -> Tensor:
        base = self._base
        if not base.is_leaf:
            raise FrontendError(
                "writing through .data of a tensor with gradient history is not supported "
                "(irc would lose its history); write to a leaf tensor, or to .detach() for a copy",
                user_location()[:2],
            )
        with autograd.no_grad():
            base._assign(self._write(base, result.detach() if result.requires_grad else result))
        return self


class _Detached(_DataView):
    """`t.detach()`: t's elements without gradient history, shared with t as in PyTorch. An in-place op on it
    changes t where t has no history of its own (a leaf: `p.detach().mul_(0.9)` updates the parameter, as an
    EMA of weights does); it reads t again after t's in-place updates. Where t has history (`model(x).detach()`),
    the update itself has (`d.add_(w)`, w requiring grad) or the result is rebound (`x.detach().requires_grad_()`,
    a new leaf), it becomes a tensor of its own with the new value: t keeps its value and its history (PyTorch
    would change t's storage too, and its backward would then fail where t was saved)."""

    def __init__(self, base: Tensor):
        self._own: Node | None = None
        super().__init__(base)

    @property
    def _node(self) -> Node:
        return self._own if self._own is not None else _DataView._node.fget(self)

    @_node.setter
    def _node(self, node: Node) -> None:
        if node is not self._node:
            self._own = node  # from now on a tensor of its own

    def _unlink(self) -> None:
        """From now on a tensor of its own, holding the value it has now."""
        if self._own is None:
            self._own = self._node

    def _refresh(self) -> None:
        if self._own is None:
            super()._refresh()

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad:
            self._unlink()  # a new leaf (`x.detach().requires_grad_()`), which no update of x may change
        return super().requires_grad_(requires_grad)

    def _assign(self, result: Tensor) -> Tensor:
        base = self._base
        if self._own is None and base.is_leaf and not (result.requires_grad and autograd.is_grad_enabled()):
            return super()._assign(result)
        return Tensor._assign(self, result)  # a tensor of its own from now on (the node setter)


class _View(Tensor):
    """A tensor that shares `base`'s elements, as PyTorch's views do: what basic indexing, `reshape`/`view`,
    `permute`/`transpose`, `narrow` and what is built on them (`squeeze`, `unsqueeze`, `flatten`, `t`, `T`,
    `split`, `chunk`, `unbind`, ...) return.

    irc's tensors are values, not storage. A view holds `read(base)` (a node of base's current node), is
    told when base's value changes (`Tensor._set_node`: base keeps its views in a weak set) and reads it
    again, so it shows base's in-place updates; an in-place op on it (`x[0].zero_()`,
    `w.view(-1).add_(u)`, `row[:2] = v`) writes through: base becomes `write(base, new value)`, a
    functional update (a select or a reshape of the new value), so gradients flow as in PyTorch and a
    leaf that requires grad refuses it, as there.
    """

    def __init__(self, base: Tensor, node: Node, read: Callable, write: Callable, contiguous: bool = False):
        super().__init__(node, base.device)
        self._base, self._read, self._write = base, read, write
        #: whether torch's view would be contiguous (`reshape` of a view that is not copies, as torch's)
        self._contiguous = contiguous and base._contiguous
        _watch(base, self)

    def _refresh(self) -> None:
        """Read base again (its value changed)."""
        Tensor._set_node(self, self._read(self._base)._node)

    #: every element of base is one of this view's (an expand): filling it fills base, even where it repeats
    _covers_base = False

    def _assign_node(self, node: Node) -> Tensor:
        base = self._base
        base._assign(self._write(base, Tensor(node, self.device)))  # which refreshes this view
        return self

    def fill_(self, value):
        if self._covers_base:  # torch fills an expanded tensor's storage, repeated elements or not
            self._base.fill_(value)
            return self
        return super().fill_(value)


# error messages and `type(x).__name__` name the tensor type users know
_View.__name__ = _View.__qualname__ = _DataView.__name__ = _DataView.__qualname__ = "Tensor"
_Detached.__name__ = _Detached.__qualname__ = "Tensor"


def _follow_reshape(view: _View | _DataView, forward: Callable, inverse: Callable) -> None:
    """`view`'s tensor changed shape in place (it holds `forward(old)`, `inverse` undoes that): `view` keeps
    reading and writing the same elements, as torch's views of the storage do."""
    read, write = view._read, view._write
    view._read = lambda b: read(inverse(b))
    view._write = lambda b, v: forward(write(inverse(b), v))


def _block_contiguous(shape, start, stop, step) -> bool:
    """Whether the elements `start:stop:step` per dim of a row-major array of `shape` are one contiguous run
    (what makes torch's view of them contiguous): full trailing dims, then one dim taken with step 1, then
    dims of which one element is taken."""
    counts = [len(range(a, b, c)) for a, b, c in zip(start, stop, step)]
    if 0 in counts:
        return True
    d = len(shape) - 1
    while d >= 0 and counts[d] == shape[d] and (step[d] == 1 or counts[d] == 1):
        d -= 1
    if d >= 0 and counts[d] > 1 and step[d] != 1:
        return False
    return all(c == 1 for c in counts[:d])


def _watch(base: Tensor, view: Tensor) -> None:
    """Have `view` refreshed whenever `base`'s value changes."""
    views = base.__dict__.get("_views")
    if views is None:
        views = base._views = weakref.WeakSet()
    views.add(view)


class GradFn:
    """What `Tensor.grad_fn` shows: the hl op that produced a non-leaf tensor."""

    def __init__(self, node: Node):
        self.name = node.op.name.removeprefix("hl.").capitalize() + "Backward"
        self.next_functions = tuple(GradFn(i) if not i.leaf and i.requires_grad else None for i in node.inputs)

    def __repr__(self) -> str:
        return f"<{self.name}>"


# everyday math (issue 12): rounding, inverse trig, remainders, predicates, logical ops, more reductions
import sys  # noqa: E402

from irc.frontend import mathops as _mathops  # noqa: E402 - mathops defines methods on Tensor

_mathops.install(sys.modules[__name__])
