"""irc: a multi-level IR compiler toolchain.

    >>> import irc, numpy as np
    >>> @irc.jit(target="llvm")
    ... def f(x, w):
    ...     return (x @ w).relu().sum()
    >>> x = irc.tensor([[1.0, -2.0], [3.0, 4.0]])
    >>> (x.relu() * 2).sum(dim=1).numpy()
    array([ 2., 14.], dtype=float32)
"""

from irc.driver.jit import JitFunction, jit
from irc.errors import CompileError, FrontendError, InputError, IRCError, PassError
from irc.frontend import realize as _realize
from irc.frontend.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from irc.frontend.spec import Spec
from irc.frontend.tensor import (
    Tensor,
    arange,
    as_tensor,
    bmm,
    bool_,
    cat,
    concat,
    float32,
    float64,
    from_numpy,
    full,
    full_like,
    int32,
    int64,
    manual_seed,
    matmul,
    maximum,
    minimum,
    ones,
    ones_like,
    rand,
    randn,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from irc.frontend.transforms import grad, jvp, value_and_grad, vjp


def _compile_for_eager(module, target):
    from irc.driver.pipeline import Pipeline

    return Pipeline(target=target).run(module)


_realize.set_compiler(_compile_for_eager)


def _elementwise(method: str):
    def fn(x, *args, **kwargs):
        return getattr(as_tensor(x), method)(*args, **kwargs)

    fn.__name__ = method
    fn.__doc__ = f"`irc.{method}(x, ...)` is `x.{method}(...)`."
    return fn


exp, log, sqrt, rsqrt, tanh, sigmoid, relu, sin, cos, erf, abs, neg = (
    _elementwise(m) for m in ("exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sin", "cos", "erf", "abs", "neg")
)
sum, mean, prod, amax, amin, argmax, argmin, softmax, log_softmax = (
    _elementwise(m) for m in ("sum", "mean", "prod", "amax", "amin", "argmax", "argmin", "softmax", "log_softmax")
)
max, min, reshape, transpose, permute, flatten, squeeze, unsqueeze, clamp, pow = (
    _elementwise(m) for m in ("max", "min", "reshape", "transpose", "permute", "flatten", "squeeze", "unsqueeze", "clamp", "pow")
)
add, sub, mul, div, eq, ne, lt, le, gt, ge = (
    _elementwise(m) for m in ("add", "sub", "mul", "div", "eq", "ne", "lt", "le", "gt", "ge")
)

__version__ = "0.1.0"
