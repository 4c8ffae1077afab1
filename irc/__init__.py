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

import builtins
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
        "bfloat16", "bool", "bool_", "double", "finfo", "float", "float16", "float32", "float64", "half", "int",
        "int32", "int64", "long",
        "memory_format", "preserve_format", "contiguous_format", "channels_last", "channels_last_3d",
    ),
    "irc.frontend.serialization": ("load", "save"),
    "irc.frontend.backends": ("get_float32_matmul_precision", "set_float32_matmul_precision"),
    "irc.frontend.tensor": (
        "Tensor", "arange", "as_tensor", "bmm", "cat", "concat", "empty", "empty_like", "from_numpy",
        "full", "full_like", "is_tensor", "manual_seed", "matmul", "maximum", "minimum", "multinomial", "ones", "ones_like",
        "rand", "rand_like", "randn", "randn_like", "randperm", "stack", "tensor", "where", "zeros", "zeros_like",
    ),
    "irc.frontend.transforms": ("grad", "jvp", "value_and_grad", "vjp"),
    "irc.frontend.mathops": ("std_mean", "var_mean"),
    "irc.frontend.special": ("polygamma",),
    "irc.frontend.legacy": (
        "BFloat16Tensor", "BoolTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor", "LongTensor",
    ),
}  # fmt: skip
# torch's shape, creation and sorting ops (frontend compositions)
_EXPORTS["irc.frontend.factories"] = (
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "can_cast", "cartesian_prod",
    "cdist", "column_stack", "dstack", "einsum", "eye", "hstack", "isin", "linspace", "logspace", "meshgrid",
    "promote_types", "randint", "randint_like", "result_type", "row_stack", "tensordot", "tril_indices",
    "triu_indices", "vstack",
)  # fmt: skip

# `irc.<name>` is a module of the frontend (PyTorch's namespaces `torch.cuda`, `torch.accelerator`, `torch.backends`)
_NAMESPACES = ("accelerator", "backends", "cuda", "linalg", "special")

# `irc.<name>(x, ...)` is `x.<name>(...)`
_METHODS = (
    "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sin", "cos", "erf", "abs", "neg",
    "sum", "mean", "prod", "amax", "amin", "argmax", "argmin", "softmax", "log_softmax",
    "max", "min", "reshape", "transpose", "permute", "flip", "flatten", "squeeze", "unsqueeze", "clamp", "pow",
    "add", "sub", "mul", "div", "floor_divide", "eq", "ne", "lt", "le", "gt", "ge",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "mm", "dot", "vdot", "split", "chunk", "narrow", "unbind", "masked_fill", "tril", "triu", "numel", "t", "is_floating_point",
    "gather", "index_select", "scatter", "scatter_add", "scatter_reduce", "index_add", "index_copy", "index_fill",
    "index_put", "take", "take_along_dim", "masked_select", "masked_scatter", "roll", "fliplr", "flipud",
    # everyday math (issue 12, irc/frontend/mathops.py)
    "floor", "ceil", "round", "trunc", "fix", "frac", "sign", "sgn", "reciprocal", "square", "clip",
    "log1p", "expm1", "log2", "log10", "exp2", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
    "atanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "atan2", "arctan2", "deg2rad", "rad2deg",
    "isnan", "isinf", "isposinf", "isneginf", "isfinite", "nan_to_num",
    "logical_not", "logical_and", "logical_or", "logical_xor", "fmod", "remainder", "hypot", "copysign",
    "lerp", "addcmul", "addcdiv", "fmax", "fmin", "all", "any", "count_nonzero", "logsumexp", "var", "std",
    "norm", "cumsum", "cumprod", "logcumsumexp", "aminmax", "nansum", "nanmean",
    "signbit", "logaddexp", "logaddexp2", "heaviside", "clamp_min", "clamp_max", "positive", "true_divide",
)  # fmt: skip
# `irc.<name>(x, ...)` for the methods of irc/frontend/shape_ops.py and sorting.py (Tensor's bases)
_METHODS += (
    "repeat_interleave", "tile", "outer", "ger", "diag", "diagonal", "diag_embed", "diagflat", "trace",
    "movedim", "moveaxis", "swapaxes", "swapdims", "unflatten", "kron", "bernoulli",
    "tensor_split", "hsplit", "vsplit", "dsplit", "select", "ravel", "narrow_copy",
    # more of torch's (irc/frontend/mathops.py, MORE_METHODS and TENSOR_ALIASES)
    "addmm", "addmv", "baddbmm", "addbmm", "addr", "mv", "inner", "isclose", "allclose", "equal", "diff", "rot90",
    "nonzero", "argwhere", "unique", "get_device", "absolute", "multiply", "subtract", "divide", "negative",
    "greater", "greater_equal", "less", "less_equal", "not_equal", "split_with_sizes",
    "erfc", "logit", "xlogy", "sinc", "float_power", "cross", "dist", "cov", "corrcoef",
    "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian",
    "ldexp", "bitwise_left_shift", "bitwise_right_shift", "cummax", "cummin", "renorm", "quantile", "nanquantile",
    "mode",
    # special functions (irc/frontend/tensor.py; irc.polygamma(n, x) is irc/frontend/special.py's)
    "lgamma", "digamma", "mvlgamma", "erfinv", "i0",
)  # fmt: skip

_SUBMODULES = (
    "amp",
    "autograd",
    "distributed",
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


#: Python's number types (`irc.float`, `irc.int`, `irc.bool` are dtypes in this module)
_NUMBERS = (builtins.bool, builtins.int, builtins.float)


def _method(name: str, as_tensor, tensor_class):
    def fn(x, *args, **kwargs):
        if isinstance(x, _NUMBERS) and args and isinstance(args[0], tensor_class):
            x = args[0]._operand(x)  # a Python number takes the tensor's dtype, as an operand (`irc.pow(2, t)`)
        return getattr(as_tensor(x), name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"`irc.{name}(x, ...)` is `x.{name}(...)`."
    return fn


_api_loaded = False


def _load_api() -> None:
    """Import the research API into this module (what `import irc` did eagerly before packages), once:
    a later submodule access (`from irc import optim`) must not undo a name assigned since (a monkeypatch)."""
    global _api_loaded
    if _api_loaded:
        return
    for module_name, names in _EXPORTS.items():
        module = importlib.import_module(module_name)
        globals().update({name: getattr(module, name) for name in names})
    globals().update({name: importlib.import_module(f"irc.frontend.{name}") for name in _NAMESPACES})
    as_tensor = globals()["as_tensor"]
    tensor_class = importlib.import_module("irc.frontend.tensor").Tensor
    globals().update({name: _method(name, as_tensor, tensor_class) for name in _METHODS})
    _api_loaded = True


def __getattr__(name: str):
    if name not in __all__ and name not in _SUBMODULES:
        raise AttributeError(f"module 'irc' has no attribute '{name}'")
    _load_api()
    if name in globals():
        return globals()[name]
    return importlib.import_module(f"irc.{name}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
