"""irc: a multi-level IR compiler toolchain.

    >>> import irc, numpy as np
    >>> @irc.jit(target="llvm")
    ... def f(x, w):
    ...     return (x @ w).relu().sum()
    >>> x = irc.tensor([[1.0, -2.0], [3.0, 4.0]])
    >>> (x.relu() * 2).sum(dim=1).numpy()
    array([ 2., 14.], dtype=float32)

The research API below is imported on the first `irc.<name>` access, not by
`import irc`: running a compiled package (`irc.runtime.load`) must not pay for
(or need) xDSL and TVM, and every `import irc.runtime...` runs this file first.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# module -> the public names it defines, re-exported as `irc.<name>`
_EXPORTS = {
    "irc.frontend.jit": ("JitFunction", "jit"),
    "irc.errors": ("CompileError", "CompileWarning", "FrontendError", "InputError", "IRCError", "PassError"),
    "irc.frontend.realize": ("eager_mode", "set_eager_mode"),
    "irc.frontend.autograd": ("enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled"),
    "irc.frontend.spec": ("Spec",),
    "irc.frontend.device": ("device",),
    "irc.frontend.dtypes": (
        "bool", "bool_", "double", "float", "float32", "float64", "int", "int32", "int64", "long",
        "memory_format", "preserve_format", "contiguous_format", "channels_last", "channels_last_3d",
    ),
    "irc.frontend.serialization": ("load", "save"),
    "irc.frontend.tensor": (
        "Tensor", "arange", "as_tensor", "bmm", "cat", "concat", "empty", "empty_like", "from_numpy",
        "full", "full_like", "is_tensor", "manual_seed", "matmul", "maximum", "minimum", "ones", "ones_like",
        "rand", "rand_like", "randn", "randn_like", "randperm", "stack", "tensor", "where", "zeros", "zeros_like",
    ),
    "irc.frontend.transforms": ("grad", "jvp", "value_and_grad", "vjp"),
}  # fmt: skip
# torch's shape, creation and sorting ops (frontend compositions)
_EXPORTS["irc.frontend.factories"] = (
    "atleast_1d", "atleast_2d", "atleast_3d", "cartesian_prod", "cdist", "einsum", "eye", "linspace", "logspace",
    "meshgrid", "randint", "randint_like", "tensordot", "tril_indices", "triu_indices",
)  # fmt: skip

# `irc.<name>` is a module of the frontend (PyTorch's namespaces `torch.cuda`, `torch.accelerator`, `torch.backends`)
_NAMESPACES = ("accelerator", "backends", "cuda")

# `irc.<name>(x, ...)` is `x.<name>(...)`
_METHODS = (
    "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sin", "cos", "erf", "abs", "neg",
    "sum", "mean", "prod", "amax", "amin", "argmax", "argmin", "softmax", "log_softmax",
    "max", "min", "reshape", "transpose", "permute", "flip", "flatten", "squeeze", "unsqueeze", "clamp", "pow",
    "add", "sub", "mul", "div", "floor_divide", "eq", "ne", "lt", "le", "gt", "ge",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "mm", "split", "chunk", "narrow", "unbind", "masked_fill", "tril", "triu", "numel", "t", "is_floating_point",
    "gather", "index_select",
)  # fmt: skip
# `irc.<name>(x, ...)` for the methods of irc/frontend/shape_ops.py and sorting.py (Tensor's bases)
_METHODS += (
    "repeat_interleave", "tile", "outer", "ger", "diag", "diagonal", "diag_embed", "diagflat", "trace",
    "movedim", "moveaxis", "swapaxes", "swapdims", "unflatten", "kron", "bernoulli", "multinomial",
    "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian",
)  # fmt: skip

_SUBMODULES = (
    "compiler",
    "conversions",
    "driver",
    "errors",
    "frontend",
    "interpreters",
    "ir",
    "nn",
    "optim",
    "runtime",
    "targets",
    "testing",
    "transforms",
    "utils",
)

__all__ = [name for names in _EXPORTS.values() for name in names] + list(_NAMESPACES) + list(_METHODS)


def _method(name: str, as_tensor):
    def fn(x, *args, **kwargs):
        return getattr(as_tensor(x), name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"`irc.{name}(x, ...)` is `x.{name}(...)`."
    return fn


def _load_api() -> None:
    """Import the research API into this module (what `import irc` did eagerly before packages)."""
    for module_name, names in _EXPORTS.items():
        module = importlib.import_module(module_name)
        globals().update({name: getattr(module, name) for name in names})
    globals().update({name: importlib.import_module(f"irc.frontend.{name}") for name in _NAMESPACES})
    as_tensor = globals()["as_tensor"]
    globals().update({name: _method(name, as_tensor) for name in _METHODS})


def __getattr__(name: str):
    if name in ("half", "float16", "bfloat16"):  # irc has no 16-bit types: say so (the API loads lazily)
        raise AttributeError(importlib.import_module("irc.frontend.dtypes").no_16_bit(f"irc.{name}"))
    if name not in __all__ and name not in _SUBMODULES:
        raise AttributeError(f"module 'irc' has no attribute '{name}'")
    _load_api()
    if name in globals():
        return globals()[name]
    return importlib.import_module(f"irc.{name}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
