"""`irc.jit`: trace once per input signature, compile the static graph, cache it."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from irc.errors import FrontendError
from irc.frontend.graph import data_node
from irc.frontend.spec import Spec
from irc.frontend.tensor import Tensor, dtype_short
from irc.frontend.tracing import trace_with_info
from irc.ir import hl


def _as_array(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.numpy()
    array = np.asarray(x)
    if array.dtype == np.float64 and not isinstance(x, np.ndarray):
        array = array.astype(np.float32)  # Python float lists default to float32, like irc.tensor
    if array.dtype.kind in "iu" and not isinstance(x, np.ndarray):
        array = array.astype(np.int64)
    dtype_short(array.dtype)
    return array


class JitFunction:
    """A function compiled per input signature (shapes and dtypes); see `irc.jit`."""

    def __init__(self, fn: Callable, target: str | dict = "llvm"):
        self.fn = fn
        self.target = target
        self._cache: dict[tuple, tuple] = {}
        functools.update_wrapper(self, fn)

    def _split(self, args) -> tuple[list[np.ndarray], list[int], dict]:
        """Tensor-like args are inputs; Python scalars/None are static (part of the signature)."""
        arrays, positions, static = [], [], {}
        for i, a in enumerate(args):
            if isinstance(a, (bool, int, float, str, type(None))):
                static[i] = a
            else:
                arrays.append(_as_array(a))
                positions.append(i)
        return arrays, positions, static

    def _compiled(self, args):
        arrays, positions, static = self._split(args)
        key = (tuple((a.shape, a.dtype.str) for a in arrays), tuple(sorted(static.items())))
        entry = self._cache.get(key)
        if entry is None:
            from irc.driver.pipeline import Pipeline

            specs = [Spec.of(a) for a in arrays]

            def with_static(*tensors):
                full = list(tensors)
                for i, v in sorted(static.items()):
                    full.insert(i, v)
                return self.fn(*full)

            module, single = trace_with_info(with_static, specs, name=getattr(self.fn, "__name__", "main"))
            entry = self._cache[key] = (Pipeline(target=self.target).run(module), single)
        return entry, arrays

    def lower(self, *args):
        """The `Lowering` for these inputs: `.stages` (stage -> IR text) and `.dump(dir)`."""
        (lowering, _), _ = self._compiled(args)
        return lowering

    def __call__(self, *args):
        (lowering, single), arrays = self._compiled(args)
        outputs = lowering(*arrays)
        tensors = tuple(Tensor(data_node(np.asarray(o))) for o in outputs)
        return tensors[0] if single else tensors

    @property
    def cache_size(self) -> int:
        return len(self._cache)


def jit(fn: Callable | None = None, *, target: str | dict = "llvm"):
    """Compile `fn` as a static graph: traced once per input signature, then cached.

        >>> @irc.jit(target="llvm")
        ... def f(x, w):
        ...     return (x @ w).relu().sum()
        >>> f(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)).item()
        24.0
    """
    if fn is None:
        return lambda f: JitFunction(f, target)
    return JitFunction(fn, target)


def example_inputs_of(fn: Callable) -> list[Spec]:
    """The Specs declared as `fn`'s parameter annotations."""
    import inspect

    specs = []
    for p in inspect.signature(fn).parameters.values():
        if not isinstance(p.annotation, Spec):
            raise FrontendError(f"parameter {p.name!r} of {fn.__name__} has no irc.Spec annotation")
        specs.append(p.annotation)
    return specs


__all__ = ["jit", "JitFunction", "example_inputs_of", "hl"]
