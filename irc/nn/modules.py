"""`irc.nn`: modules with PyTorch's spelling, defaults and semantics.

A `Module` registers what is assigned to it: `Parameter`s, sub-modules and
buffers (`register_buffer`).  Forward passes record lazy `hl` graphs like any
other Tensor code, so a training step (forward, backward, optimizer update)
compiles to one program.

    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> model(irc.randn(3, 4)).shape
    (3, 2)
"""

from __future__ import annotations

import math
import operator
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

from irc.frontend import graph, torch_format
from irc.frontend.autograd import no_grad
from irc.frontend.dtypes import bfloat16, float16, float32, float64
from irc.frontend.graph import Tracing
from irc.frontend.realize import realize_all
from irc.frontend.tensor import Tensor, as_tensor, dtype_short, tensor, to_arguments, zeros_like
from irc.ir import hl
from irc.nn import functional as F
from irc.nn import init
from irc.runtime.dtypes import is_float_dtype


class Parameter(Tensor):
    """A leaf Tensor that a Module registers as trainable (requires grad by default).

    >>> p = nn.Parameter(irc.zeros(3))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    def __init__(self, data=None, requires_grad: bool = True):
        source = data if isinstance(data, Tensor) else tensor(np.zeros(0, np.float32) if data is None else data)
        super().__init__(graph.data_node(source._value()), source.device)
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


torch_format.parameter_class = Parameter  # irc.load gives a saved nn.Parameter as one


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"


class Module:
    """Base class of all modules: subclass it, assign layers in `__init__`, write `forward`."""

    training: bool
    #: the version of this module's state_dict layout, saved in the state dict's `_metadata` (torch's)
    _version: int = 1

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------- registration
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() call")
        if isinstance(value, Parameter):
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} (nn.Parameter or None expected)"
                )
            self._parameters[name] = None
        elif name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} (nn.Module or None expected)"
                )
            self._modules[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if not self._forget(name):
            object.__delattr__(self, name)

    def _forget(self, name: str, keep: OrderedDict | None = None) -> bool:
        """Drop `name` from the tables (but from `keep`: a replaced entry keeps its place, as in torch)."""
        found = False
        for table in (self._parameters, self._buffers, self._modules):
            if name in table and table is not keep:
                del table[name]
                found = True
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)
        return found

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot register {type(param).__name__} as parameter {name!r} (nn.Parameter or None expected)"
            )
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, buffer: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is state but not a parameter (e.g. BatchNorm's running mean)."""
        if buffer is not None and not isinstance(buffer, Tensor):
            raise TypeError(f"cannot register {type(buffer).__name__} as buffer {name!r} (Tensor or None expected)")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = buffer
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    # --------------------------------------------------------- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, table: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is not None and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call `fn` on every sub-module (children first), then on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = zeros_like(p.grad)  # a fresh zero gradient, without history

    def to(self, *args, device=None, dtype=None, non_blocking: bool = False) -> Module:
        """Move parameters and buffers (and their gradients) to `device` in place; a float `dtype`
        (`to(irc.half)`, `to("cuda", irc.bfloat16)`, `to(tensor)`) converts the floating-point ones, as
        PyTorch (integer buffers keep their dtype)."""
        device, dtype = to_arguments(args, device, dtype)
        if dtype is not None and not is_float_dtype(hl.NUMPY_DTYPES[dtype_short(dtype)]):
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        for t in [*self.parameters(), *self.buffers()]:
            if device is not None:
                t._move_(device)
            if dtype is not None and t.is_floating_point():
                t._convert_(dtype)
        return self

    def half(self) -> Module:
        """Convert the floating-point parameters and buffers to float16 (in place)."""
        return self.to(dtype=float16)

    def bfloat16(self) -> Module:
        """Convert the floating-point parameters and buffers to bfloat16 (in place)."""
        return self.to(dtype=bfloat16)

    def float(self) -> Module:
        """Convert the floating-point parameters and buffers to float32 (in place)."""
        return self.to(dtype=float32)

    def double(self) -> Module:
        """Convert the floating-point parameters and buffers to float64 (in place)."""
        return self.to(dtype=float64)

    # ------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method; define one in the subclass")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -------------------------------------------------------------- state
    def _state_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Every module under its dotted name, a module registered twice under each of its names, as torch's
        state_dict walks them (named_modules lists each module once)."""
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_modules(f"{prefix}.{name}" if prefix else name)

    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (detached unless keep_vars), under every name a
        shared module or parameter has, as torch's; `_metadata` holds each module's `{"version": ...}`.

        >>> lin = nn.Linear(2, 2)
        >>> list(nn.Sequential(lin, nn.Tanh(), lin).state_dict())
        ['0.weight', '0.bias', '2.weight', '2.bias']
        """
        out: OrderedDict[str, Tensor] = OrderedDict()
        out._metadata = OrderedDict()
        for module_prefix, module in self._state_modules(prefix.removesuffix(".")):
            out._metadata[module_prefix] = {"version": module._version}
            for name, value in module._state_entries():
                out[f"{module_prefix}.{name}" if module_prefix else name] = value if keep_vars else value.detach()
        return out

    def _state_entries(self) -> Iterator[tuple[str, Tensor]]:
        """This module's own parameters and persistent buffers (not its children's)."""
        for name, p in self._parameters.items():
            if p is not None:
                yield name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                yield name, b

    def _optional_state(self, version: int | None) -> tuple[str, ...]:
        """Entries a state dict of layout `version` (None: unknown) may lack, which then keep their value
        (BatchNorm's `num_batches_tracked`, which torch added in version 2)."""
        return ()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> _IncompatibleKeys:
        """Copy values (Tensors, numpy arrays or anything np.asarray accepts) into parameters and buffers.

        With `strict`, missing and unexpected keys are errors; a shape mismatch
        always is.  All problems are reported together, each naming its key.
        A module's entries that its state-dict version predates are not missing when absent (torch's
        rule: versions come from the state dict's `_metadata`, none from a plain dict).
        """
        if assign:
            raise ValueError("load_state_dict: assign=True is not supported (irc copies values in place)")
        metadata = getattr(state_dict, "_metadata", None) or {}
        own: dict[str, Tensor] = {}
        optional: set[str] = set()
        for module_prefix, module in self._state_modules():
            dot = f"{module_prefix}." if module_prefix else ""
            own.update((dot + name, value) for name, value in module._state_entries())
            version = metadata.get(module_prefix, {}).get("version")
            optional.update(dot + name for name in module._optional_state(version))
        missing = [k for k in own if k not in state_dict and k not in optional]
        unexpected = [k for k in state_dict if k not in own]
        errors, updates = [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            array = _as_array(state_dict[key])
            if tuple(array.shape) != target.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {list(array.shape)} from checkpoint, "
                    f"the shape in current model is {list(target.shape)}."
                )
            else:
                updates.append((target, array))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for target, array in updates:
                target._assign(Tensor(graph.data_node(np.array(array, dtype=target.dtype)), target.device))
        return _IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------- printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        if not children and len(extra_lines) <= 1:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(extra_lines + children) + "\n)"


def _as_array(value) -> np.ndarray:
    """A state value as a numpy array: an irc Tensor, a tensor of another framework (a torch state_dict;
    not imported), a numpy array or anything np.asarray takes."""
    if isinstance(value, Tensor):
        return value.numpy()
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
    return np.asarray(value)


# ------------------------------------------------------------- containers


class _Container(Module):
    """What Sequential, ModuleList and ParameterList share: entries in order, indexed by position.

    Positions are the entries' names ("0", "1", ...); deleting or inserting
    renumbers them, as in PyTorch.
    """

    _TABLE = "_modules"

    def _table(self) -> OrderedDict:
        return self.__dict__[self._TABLE]

    def _store(self, name: str, value) -> None:
        if not isinstance(value, Module):
            raise TypeError(f"{type(value).__name__} is not a Module subclass")
        self._modules[name] = value  # an existing name keeps its place

    def _key(self, index: int) -> str:
        keys, index = list(self._table()), operator.index(index)
        if not -len(keys) <= index < len(keys):
            raise IndexError(f"index {index} is out of range")
        return keys[index]

    def _renumber(self, values: list) -> None:
        self._table().clear()
        for i, value in enumerate(values):
            self._store(str(i), value)

    def _sliced(self, items: list[tuple[str, object]]):
        return type(self)([value for _, value in items])

    def __len__(self) -> int:
        return len(self._table())

    def __iter__(self) -> Iterator:
        return iter(self._table().values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._sliced(list(self._table().items())[index])
        return self._table()[self._key(index)]

    def __setitem__(self, index: int, value) -> None:
        self._store(self._key(index), value)

    def __delitem__(self, index) -> None:
        values = list(self)
        del values[index]
        self._renumber(values)

    def append(self, value):
        self._store(str(len(self)), value)
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def __iadd__(self, values):
        return self.extend(values)

    def insert(self, index: int, value) -> None:
        values = list(self)
        values.insert(index, value)
        self._renumber(values)

    def pop(self, index: int = -1):
        value = self[index]
        del self[index]
        return value


class Sequential(_Container):
    """Modules applied in order: `Sequential(a, b, c)(x) == c(b(a(x)))`; also takes an OrderedDict."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def _sliced(self, items):
        return Sequential(OrderedDict(items))

    def forward(self, x):
        for m in self:
            x = m(x)
        return x


class ModuleList(_Container):
    """A list of modules whose parameters are registered: index, slice, iterate, append, extend, insert, del.

    >>> layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
    >>> layers.append(nn.ReLU()); len(layers)
    4
    """

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def __repr__(self) -> str:
        """Runs of equal modules in one line, `(0-2): 3 x Linear(...)`, as PyTorch prints them."""
        runs: list[list] = []  # [first, last, repr]
        for i, m in enumerate(self):
            text = repr(m)
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        if not runs:
            return "ModuleList()"
        lines = [
            (f"({a}): " if a == b else f"({a}-{b}): {b - a + 1} x ") + text.replace("\n", "\n  ") for a, b, text in runs
        ]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ParameterList(_Container):
    """A list of Parameters registered under "0", "1", ...; Tensors are made Parameters."""

    _TABLE = "_parameters"

    def __init__(self, values=None):
        super().__init__()
        self.extend(values or ())

    def _store(self, name: str, value) -> None:
        self._parameters[name] = _as_parameter(value)

    def extra_repr(self) -> str:
        return _parameter_lines(self._parameters)


class _Dict(Module):
    """What ModuleDict and ParameterDict share: a dict over one of the module's tables."""

    _TABLE = "_modules"

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.update(values)

    def _table(self) -> OrderedDict:
        return self.__dict__[self._TABLE]

    def __getitem__(self, key: str):
        return self._table()[key]

    def __setitem__(self, key: str, value) -> None:
        if not isinstance(key, str):
            raise TypeError(f"{type(self).__name__} keys must be strings, got {type(key).__name__}")
        self._store(key, value)

    def __delitem__(self, key: str) -> None:
        del self._table()[key]

    def __len__(self) -> int:
        return len(self._table())

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __contains__(self, key) -> bool:
        return key in self._table()

    def keys(self):
        return self._table().keys()

    def values(self):
        return self._table().values()

    def items(self):
        return self._table().items()

    def get(self, key: str, default=None):
        return self._table().get(key, default)

    def pop(self, key: str):
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        self._table().clear()

    def update(self, values) -> None:
        """From a mapping or an iterable of (key, value) pairs, in order."""
        for key, value in values.items() if hasattr(values, "items") else values:
            self[key] = value


class ModuleDict(_Dict):
    """A dict of modules whose parameters are registered under their keys.

    >>> heads = nn.ModuleDict({"cls": nn.Linear(8, 3), "box": nn.Linear(8, 4)})
    """

    def _store(self, key: str, value) -> None:
        if not isinstance(value, Module):
            raise TypeError(f"{type(value).__name__} is not a Module subclass")
        self._modules[key] = value


class ParameterDict(_Dict):
    """A dict of Parameters registered under their keys; Tensors are made Parameters."""

    _TABLE = "_parameters"

    def _store(self, key: str, value) -> None:
        self._parameters[key] = _as_parameter(value)

    def extra_repr(self) -> str:
        return _parameter_lines(self._parameters)


def _as_parameter(value) -> Parameter:
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"cannot register {type(value).__name__} as a parameter (nn.Parameter or Tensor expected)")


def _parameter_lines(parameters: OrderedDict) -> str:
    return "\n".join(
        f"({name}): Parameter containing: [irc.{p.dtype} of size {'x'.join(map(str, p.shape))}]"
        for name, p in parameters.items()
    )


# ---------------------------------------------------------------- layers


def _empty(*shape: int) -> Parameter:
    return Parameter(np.zeros(shape, np.float32))


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features), PyTorch's default init."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        _add_weight_and_bias(self, (out_features, in_features), bias)

    def reset_parameters(self) -> None:
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _add_weight_and_bias(
    module: Module, weight_shape: tuple[int, ...], bias: bool, bias_size: int | None = None
) -> None:
    """Register `weight` (and `bias` of `bias_size`, default weight_shape[0], or None) on a Linear/Conv and
    initialize them."""
    module.weight = _empty(*weight_shape)
    module.bias = _empty(weight_shape[0] if bias_size is None else bias_size) if bias else None
    if not bias:
        module.register_parameter("bias", None)
    module.reset_parameters()


def _reset_weight_and_bias(weight: Parameter, bias: Parameter | None) -> None:
    """kaiming_uniform(a=sqrt(5)) weight and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias, as PyTorch."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(v, n: int) -> tuple[int, ...]:
    """A size given as one int or n ints (`kernel_size=3`, `stride=(2, 1)`; one int in a list is repeated)."""
    if isinstance(v, (tuple, list)):
        return (int(v[0]),) * n if len(v) == 1 else tuple(int(x) for x in v)
    return (int(v),) * n


class _ConvNd(Module):
    """Shared by Conv1d, Conv2d and ConvTranspose2d: the hyper-parameters (tuples of `DIMS` ints, as torch),
    parameters, PyTorch's repr, and the padding modes (by F.pad, then `_conv` without padding)."""

    DIMS = 2

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation, groups: int, bias: bool,
        padding_mode: str, output_padding=0, transposed: bool = False,
    ):  # fmt: skip
        super().__init__()
        name, n = type(self).__name__, self.DIMS
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups "
                f"({groups})"
            )
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {list(_PADDING_MODES)}, but got padding_mode='{padding_mode}'"
            )
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
        if padding == "same" and _ntuple(stride, n) != (1,) * n:
            raise ValueError("padding='same' is not supported for strided convolutions")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = _ntuple(kernel_size, n), _ntuple(stride, n)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n)
        self.dilation, self.output_padding = _ntuple(dilation, n), _ntuple(output_padding, n)
        self.padding_mode, self.transposed = padding_mode, transposed
        if transposed:
            _add_weight_and_bias(self, (in_channels, out_channels // groups, *self.kernel_size), bias, out_channels)
        else:
            _add_weight_and_bias(self, (out_channels, in_channels // groups, *self.kernel_size), bias)

    def reset_parameters(self) -> None:
        _reset_weight_and_bias(self.weight, self.bias)

    def _conv(self, x: Tensor, padding) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return self._conv(x, self.padding)
        if isinstance(self.padding, str):
            lead = (1,) * (2 - self.DIMS)  # _same_padding works on pairs
            low, high = F._same_padding(
                self.padding, lead + self.kernel_size, lead + self.stride, lead + self.dilation
            )  # fmt: skip
            low, high = low[len(lead) :], high[len(lead) :]
        else:
            low = high = self.padding
        amounts = tuple(v for lo, hi in zip(reversed(low), reversed(high)) for v in (lo, hi))  # last dim first
        return self._conv(F.pad(x, amounts, mode=self.padding_mode), 0)

    def extra_repr(self) -> str:
        zeros, ones = (0,) * self.DIMS, (1,) * self.DIMS
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != zeros:
            s += f", padding={self.padding}"
        if self.dilation != ones:
            s += f", dilation={self.dilation}"
        if self.output_padding != zeros:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d and Conv2d: `function` (F.conv1d or F.conv2d) with the module's weight and hyper-parameters."""

    function: Callable

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
        bias: bool = True, padding_mode: str = "zeros",
    ):  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)

    def _conv(self, x: Tensor, padding) -> Tensor:
        return type(self).function(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) (or (C, L)) input; weight (out, in/groups, k), PyTorch's default init.
    `padding` may be "same" or "valid"; `padding_mode` "reflect", "replicate" or "circular" pads by F.pad.

    >>> nn.Conv1d(3, 4, 5, padding=2)(irc.randn(2, 3, 10)).shape
    (2, 4, 10)
    """

    DIMS = 1
    function = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over NCHW (or CHW) input; weight (out, in/groups, kh, kw), PyTorch's default init.
    `padding` may be "same" or "valid"; `padding_mode` "reflect", "replicate" or "circular" pads by F.pad."""

    function = staticmethod(F.conv2d)


class ConvTranspose2d(_ConvNd):
    """The transposed 2-D convolution (F.conv_transpose2d); weight (in, out/groups, kh, kw), PyTorch's init."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
        groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros",
    ):  # fmt: skip
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose2d')
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be ints, got {padding!r}")
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
            output_padding, transposed=True,
        )  # fmt: skip

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        if output_size is not None:
            raise ValueError("ConvTranspose2d: output_size is not supported; give output_padding")
        return F.conv_transpose2d(
            x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups, self.dilation
        )


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size), as F.max_pool2d."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation
        self.stride = kernel_size if stride is None else stride
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(MaxPool2d):
    """Max over kernel_size windows of (N, C, L) or (C, L) input, as F.max_pool1d."""

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool1d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )


class MaxUnpool2d(Module):
    """The inverse of MaxPool2d(return_indices=True): zeros with each value put back at its index, as F.max_unpool2d."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over kernel_size windows, as F.avg_pool2d (count_include_pad, ceil_mode, divisor_override)."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
        divisor_override: int | None = None,
    ):  # fmt: skip
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
            self.divisor_override,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """Mean over kernel_size windows of (N, C, L) or (C, L) input, as F.avg_pool1d; sizes kept as 1-tuples
    (torch's repr)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size, self.padding = _ntuple(kernel_size, 1), _ntuple(padding, 1)
        self.stride = _ntuple(kernel_size if stride is None else stride, 1)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _NormBase(Module):
    """Shared by the batch and instance norms (as torch's `_NormBase`): the affine parameters and, with
    `track_running_stats`, the running statistics, under torch's names; the repr."""

    _version = 2

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
        track_running_stats: bool = True, *, bias: bool = True,
    ):  # fmt: skip
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", Parameter(np.ones(num_features, np.float32)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_features, np.float32)) if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", tensor(np.zeros(num_features, np.float32)))
            self.register_buffer("running_var", tensor(np.ones(num_features, np.float32)))
            self.register_buffer("num_batches_tracked", tensor(np.array(0, np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def _optional_state(self, version: int | None) -> tuple[str, ...]:
        """A state dict older than version 2 (or a plain dict, of no version) may lack `num_batches_tracked`."""
        return ("num_batches_tracked",) if (version is None or version < 2) and self.track_running_stats else ()

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Shared by BatchNorm1d/2d: batch statistics in training (updating the running ones), running ones in eval."""

    INPUT_RANKS: tuple[int, ...] = ()

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.INPUT_RANKS or x.shape[1] != self.num_features:
            ranks = " or ".join(f"{r}D" for r in self.INPUT_RANKS)
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected {ranks} input with {self.num_features} "
                f"channels in dim 1, got shape {list(x.shape)}"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            _flush_stale(self)
            with no_grad():
                self.num_batches_tracked._assign(self.num_batches_tracked + 1)
            if self.momentum is None:  # cumulative moving average; float64 statistics get a float64 factor
                count = self.num_batches_tracked
                momentum = 1.0 / (count.double() if self.running_var.dtype == np.float64 else count.float())
            if Tracing.depth == 0:
                _pending_state.update((id(b), b) for b in self.buffers(recurse=False))
        # without running statistics, batch statistics are used in eval too (as in PyTorch)
        batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, batch_stats, momentum, self.eps
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input."""

    INPUT_RANKS = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) input."""

    INPUT_RANKS = (4,)


#: buffers updated in place by a forward pass and not realized yet; an optimizer
#: step realizes them in the same program as the parameter update
_pending_state: dict[int, Tensor] = {}


def take_pending_state() -> list[Tensor]:
    """The buffers updated since the last call (cleared); see `irc.optim.Optimizer.step`."""
    pending = list(_pending_state.values())
    _pending_state.clear()
    return pending


def _flush_stale(module: Module) -> None:
    """Realize running statistics left pending by a step no optimizer realized (keeps graphs short)."""
    if Tracing.depth > 0:
        return
    stale = [b._node for b in module.buffers(recurse=False) if b._node.value is None]
    if stale:
        realize_all(stale)


class Dropout(Module):
    """Zero elements with probability p in training (scaling the rest by 1/(1-p)); identity in eval."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"


class Flatten(Module):
    """x.flatten(start_dim, end_dim), keeping the batch dim by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class _Activation(Module):
    """An elementwise function with the hyper-parameters named in ARGS (printed as PyTorch prints them)."""

    function: Callable
    ARGS: tuple[str, ...] = ()

    def __init__(self, *args, inplace: bool = False):
        super().__init__()
        for name, value in zip(self.ARGS, args):
            setattr(self, name, value)
        self.inplace = inplace  # accepted; irc never writes the input in place

    def forward(self, x: Tensor) -> Tensor:
        return type(self).function(x, *(getattr(self, name) for name in self.ARGS))

    def extra_repr(self) -> str:
        args = [f"{name}={getattr(self, name)!r}" for name in self.ARGS]
        return ", ".join(args + (["inplace=True"] if self.inplace else []))


class ReLU(_Activation):
    function = staticmethod(F.relu)

    def __init__(self, inplace: bool = False):
        super().__init__(inplace=inplace)


class Sigmoid(_Activation):
    function = staticmethod(F.sigmoid)


class Tanh(_Activation):
    function = staticmethod(F.tanh)


class Softplus(_Activation):
    """log(1 + exp(beta * x)) / beta, and x where beta * x > threshold."""

    function = staticmethod(F.softplus)
    ARGS = ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(beta, threshold)


class GELU(_Activation):
    """x * Phi(x); `approximate="tanh"` uses the tanh approximation."""

    function = staticmethod(F.gelu)
    ARGS = ("approximate",)

    def __init__(self, approximate: str = "none"):
        super().__init__(approximate)


class SiLU(_Activation):
    """x * sigmoid(x)."""

    function = staticmethod(F.silu)

    def __init__(self, inplace: bool = False):
        super().__init__(inplace=inplace)


class LeakyReLU(_Activation):
    """x where x > 0, else negative_slope * x."""

    function = staticmethod(F.leaky_relu)
    ARGS = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(negative_slope, inplace=inplace)


class ELU(_Activation):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    function = staticmethod(F.elu)
    ARGS = ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(alpha, inplace=inplace)


class LayerNorm(Module):
    """Normalize over the trailing `normalized_shape` dims; elementwise weight (ones) and bias (zeros).

    >>> nn.LayerNorm(8)(irc.randn(2, 5, 8)).shape
    (2, 5, 8)
    """

    def __init__(
        self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True
    ):  # fmt: skip
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        affine = elementwise_affine
        self.register_parameter("weight", Parameter(np.ones(shape, np.float32)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(shape, np.float32)) if affine and bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class Embedding(Module):
    """A lookup table: `weight[input]`, weight (num_embeddings, embedding_dim) drawn from N(0, 1), as torch;
    the row at `padding_idx` starts at zeros and gets no gradient.

    >>> nn.Embedding(10, 4)(irc.tensor([[1, 2, 3]])).shape
    (1, 3, 4)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
    ):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError("Padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = _empty(num_embeddings, embedding_dim)
            self.reset_parameters()
        else:
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(
        cls, embeddings, freeze: bool = True, padding_idx: int | None = None, max_norm: float | None = None,
        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
    ) -> Embedding:  # fmt: skip
        """An Embedding whose weight is `embeddings` (2-D), frozen (no gradient) unless `freeze=False`; the
        `padding_idx` row keeps its values (as torch, it is not zeroed) and gets no gradient.

        >>> nn.Embedding.from_pretrained(irc.tensor([[1.0, 2.3], [4.0, 5.1]]))(irc.tensor([1])).tolist()
        [[4.0, 5.1]]
        """
        weight = as_tensor(embeddings)
        if weight.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = weight.shape
        return cls(
            rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=weight, _freeze=freeze
        )

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0.0

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(
            input, self.weight, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse
        )

    def extra_repr(self) -> str:
        padding = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class _SoftmaxLike(Module):
    function: Callable

    def __init__(self, dim: int | None = None):
        super().__init__()
        if dim is None:
            raise ValueError(f"{type(self).__name__}: give dim explicitly (e.g. dim=1)")
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return type(self).function(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxLike):
    function = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxLike):
    function = staticmethod(F.log_softmax)


class _Loss(Module):
    """A loss module: `function(input, target, **options, reduction=...)`, PyTorch's arguments in its order."""

    function: Callable
    OPTIONS: tuple[str, ...] = ()
    REDUCTIONS = ("mean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        reduction = F._legacy_reduction(size_average, reduce, reduction)
        if reduction not in self.REDUCTIONS:
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        options = {name: getattr(self, name) for name in self.OPTIONS}
        return type(self).function(input, target, **options, reduction=self.reduction)


class _WeightedLoss(_Loss):
    """A loss with per-class (or elementwise) `weight`, kept as a buffer as in PyTorch."""

    OPTIONS = ("weight",)

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else as_tensor(weight))


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy of logits (N, C, d1, ...) and class indices (N, d1, ...) or class probabilities."""

    function = staticmethod(F.cross_entropy)
    OPTIONS = ("weight", "ignore_index", "label_smoothing")

    def __init__(
        self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
        reduction: str = "mean", label_smoothing: float = 0.0,
    ):  # fmt: skip
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C, d1, ...) and class indices (N, d1, ...)."""

    function = staticmethod(F.nll_loss)
    OPTIONS = ("weight", "ignore_index")

    def __init__(
        self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
        reduction: str = "mean",
    ):  # fmt: skip
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities (log clamped at -100)."""

    function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross entropy of logits (numerically stable), with an optional `pos_weight` of the positives."""

    function = staticmethod(F.binary_cross_entropy_with_logits)
    OPTIONS = ("weight", "pos_weight")

    def __init__(
        self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ):  # fmt: skip
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", None if pos_weight is None else as_tensor(pos_weight))


class MSELoss(_Loss):
    """Mean squared error."""

    function = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    """Mean absolute error."""

    function = staticmethod(F.l1_loss)


class SmoothL1Loss(_Loss):
    """Squared error below `beta`, absolute error (minus beta / 2) above."""

    function = staticmethod(F.smooth_l1_loss)
    OPTIONS = ("beta",)

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta


class HuberLoss(_Loss):
    """Squared error below `delta`, delta * (absolute error - delta / 2) above."""

    function = staticmethod(F.huber_loss)
    OPTIONS = ("delta",)

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities `input` from `target` (reduction may be "batchmean")."""

    function = staticmethod(F.kl_div)
    OPTIONS = ("log_target",)
    REDUCTIONS = ("mean", "sum", "none", "batchmean")

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target


class AdaptiveAvgPool2d(Module):
    """F.adaptive_avg_pool2d to `output_size` (an int, or a pair whose None entries keep the input's size)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """F.adaptive_avg_pool1d of (N, C, L) or (C, L) input to `output_size`."""

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveMaxPool2d(Module):
    """F.adaptive_max_pool2d to `output_size` (an int, or a pair whose None entries keep the input's size);
    `return_indices=True` also returns the maxima's flat positions in their planes."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """F.adaptive_max_pool1d of (N, C, L) or (C, L) input to `output_size`."""

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class Upsample(Module):
    """F.interpolate by `size` or `scale_factor` (modes "nearest", "linear", "bilinear", "bicubic",
    "trilinear", "area")."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):  # fmt: skip
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(
            x, self.size, self.scale_factor, self.mode, self.align_corners, self.recompute_scale_factor
        )

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingBilinear2d(Upsample):
    """`Upsample(mode="bilinear", align_corners=True)`, as torch."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class UpsamplingNearest2d(Upsample):
    """`Upsample(mode="nearest")`."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
    "Linear", "Embedding", "Conv2d", "ConvTranspose2d", "MaxPool2d", "MaxUnpool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Upsample", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "Flatten",
    "ReLU", "Sigmoid", "Tanh", "Softplus", "GELU", "SiLU", "LeakyReLU", "ELU", "Identity", "Softmax", "LogSoftmax",
    "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
    "HuberLoss", "KLDivLoss",
]  # fmt: skip
__all__ += ["UpsamplingBilinear2d", "UpsamplingNearest2d"]
__all__ += ["Conv1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]
