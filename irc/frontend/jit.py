"""`irc.jit`: trace once per input signature, compile the static graph, cache it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import numpy as np

from irc.compiler.cache import compile_cached
from irc.errors import FrontendError
from irc.frontend.graph import data_node
from irc.frontend.pytree import flatten, unflatten
from irc.frontend.spec import Spec
from irc.frontend.tensor import Tensor, as_array, keys_unchanged
from irc.frontend.tracing import TracedProgram, trace_program
from irc.runtime.devices import move
from irc.targets import kinds


def _as_array(x):
    """A numpy array (or, for a tensor on a GPU device, its DeviceArray)."""
    if isinstance(x, Tensor):
        return x._value()
    return as_array(x, where="irc.jit input")  # irc.tensor's dtype rules, without a copy


class JitFunction:
    """A function compiled per input signature (shapes and dtypes); see `irc.jit`.

    Tensors the function captures (model parameters, buffers) are inputs read
    on every call; in-place updates and `.grad` writes it makes (an optimizer
    step) are written back after every call, so a whole training step can be
    one static graph.  The state of `.grad` (None or not) is assumed to be the
    same on every call as when the function was traced.  Python values the
    trace guards (`irc.frontend.tracing.guard`: an optimizer's parameter groups
    and which hyper-parameters are zero) are checked on every call; when one
    changed, the function is traced again.
    """

    def __init__(self, fn: Callable, target: str | dict = "llvm"):
        self.fn = fn
        self.target = target
        #: input signature -> [(program, lowering)], one per set of guard values
        self._cache: dict[tuple, list[tuple]] = {}
        functools.update_wrapper(self, fn)

    def _split(self, args, kwargs) -> tuple[list[np.ndarray], tuple]:
        """Tensors and arrays, also inside (nested) tuples, lists and dicts of the arguments, are the inputs;
        everything else (Python scalars, strings, None, the nesting) is static: part of the signature."""
        leaves, tree = flatten((args, kwargs), _is_input, getattr(self.fn, "__name__", "function") + "'s arguments")
        return [_as_array(a) for a in leaves], tree

    def _compiled(self, args, kwargs) -> tuple[TracedProgram, object, list[np.ndarray]]:
        arrays, tree = self._split(args, kwargs)
        key = (tuple((a.shape, a.dtype.str) for a in arrays), tree)
        entries = self._cache.setdefault(key, [])
        entry = next((e for e in entries if e[0].holds()), None)
        if entry is None:
            simple = tree == (("tuple", (("leaf",),) * len(args)), ("dict", (), ()))  # f(x, y, ...) of tensors

            def with_static(*tensors):
                call_args, call_kwargs = unflatten(tree, list(tensors))
                return self.fn(*call_args, **call_kwargs)

            with_static.__name__ = getattr(self.fn, "__name__", "main")
            if simple:
                with_static.__signature__ = inspect.signature(self.fn)  # the hl arguments take the parameter names
            with keys_unchanged():  # the calls draw the keys, not the trace
                specs = [Spec.of(a) for a in arrays]
                program = trace_program(with_static, specs, capture_state=True, device=self.device)
            entry = (program, compile_cached(program.module, self.target))
            entries.append(entry)
        return entry[0], entry[1], arrays

    def lower(self, *args, **kwargs):
        """The `Lowering` for these inputs: `.stages` (stage -> IR text) and `.dump(dir)`."""
        return self._compiled(args, kwargs)[1]

    @functools.cached_property
    def _target(self) -> kinds.Target:
        """The Target object of `self.target`, built at the first call (an unknown kind fails there)."""
        return kinds.target(self.target)

    @property
    def device(self) -> str:
        """Where the compiled code runs and its results live: "cpu", "cuda" or "opencl"."""
        return self._target.device

    def __call__(self, *args, **kwargs):
        program, lowering, arrays = self._compiled(args, kwargs)
        for implicit in program.implicit_inputs:
            arrays.append(implicit[1]() if implicit[0] == "feed" else _state_value(implicit[1]))
        target = self._target
        device = target.device
        values = [move(a, device) for a in arrays]  # data stays on the device between calls
        outputs = target.run(lowering, values)
        own = outputs[: program.num_outputs]
        if device == "cpu" and len(outputs) > program.num_outputs:
            # the CPU outputs of a call are views of shared arenas (see irc.runtime.executor):
            # a result the caller keeps (one per step) must not keep its step's updated state alive
            own = [o.copy() for o in own]
        results = tuple(Tensor(data_node(o), device) for o in own)
        _write_back(program.updates, outputs[program.num_outputs :])
        return unflatten(program.output_tree, list(results))

    @property
    def cache_size(self) -> int:
        return sum(map(len, self._cache.values()))


def _is_input(value) -> bool:
    """An argument leaf that is a runtime input of the compiled program (not a static value)."""
    return isinstance(value, (Tensor, np.ndarray, np.generic))


def _state_value(tensor: Tensor):
    """`tensor._value()`, read straight off its node when it is realized (model state always is)."""
    value = tensor._node.value
    return tensor._value() if value is None else value


def _write_back(updates, values) -> None:
    """Apply a traced step's in-place updates and gradient writes."""
    values = iter(values)
    for tensor, what in updates:
        if what == "grad-none":
            tensor._grad = None
            continue
        value = move(next(values), tensor.device)
        if what == "node":
            old = tensor._node
            node = data_node(value)
            node.requires_grad, node.leaf, node.owner = old.requires_grad, old.leaf, old.owner
            tensor._node = node
        elif tensor._grad is not None:
            tensor._grad._node = data_node(value)
        else:
            tensor._grad = Tensor(data_node(value), tensor.device)


def jit(fn: Callable | None = None, *, target: str | dict = "llvm"):
    """Compile `fn` as a static graph: traced once per input signature, then cached.

    >>> @irc.jit(target="llvm")
    ... def f(x, w):
    ...     return (x @ w).relu().sum()
    >>> f(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)).item()
    12.0
    """
    if fn is None:
        return lambda f: JitFunction(f, target)
    return JitFunction(fn, target)


def example_inputs_of(fn: Callable) -> list[Spec]:
    """The Specs declared as `fn`'s parameter annotations."""
    specs = []
    for p in inspect.signature(fn).parameters.values():
        if not isinstance(p.annotation, Spec):
            raise FrontendError(f"parameter {p.name!r} of {fn.__name__} has no irc.Spec annotation")
        specs.append(p.annotation)
    return specs
