"""PyTorch's everyday math (issue 12): rounding, inverse trig and hyperbolic functions, remainders,
predicates (`isnan`, ...), logical ops, and the reductions `all`, `any`, `logsumexp`, `var`/`std`,
`norm`, `cumsum`/`cumprod`/`logcumsumexp`, `count_nonzero`, `aminmax`, `nansum`/`nanmean`.

Functions with a math of their own are hl ops (`hl.floor`, `hl.asin`, `hl.fmod`, `hl.atan2`, ...,
see `MATH_OPS` in irc/ir/hl.py); the rest are compositions of hl ops written here, so they get
gradients, fusion and every target for free. `install(Tensor)` makes them Tensor methods (with an
in-place `name_` where torch has one); `irc/__init__.py` offers them as `irc.<name>` too.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from irc.errors import FrontendError
from irc.frontend import graph
from irc.frontend.dtypes import finfo
from irc.frontend.graph import apply, user_location
from irc.ir import hl
from irc.runtime.devices import to_host

aminmax_result = namedtuple("aminmax", ["min", "max"])


def _error(message: str) -> FrontendError:
    return FrontendError(message, user_location()[:2])


#: irc.frontend.tensor, which calls `install` when it loads (importing it here would be a cycle)
_TENSOR = None


def _tensor_module():
    return _TENSOR


def _as(x):
    return _tensor_module().as_tensor(x)


def _where(cond, a, b):
    return _tensor_module().where(cond, a, b)


def _float(x):
    """x, an integer or bool tensor converted to float32 (PyTorch's default dtype)."""
    return x if x.is_floating_point() else x.float()


def _no_bool(x, name: str) -> None:
    if x._node.dtype == "i1":
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Bool'")


def _pair(a, b):
    """a and b as tensors of their promoted dtype (PyTorch's rules for tensors and Python scalars)."""
    tensor = _tensor_module()
    if not isinstance(a, tensor.Tensor):
        b = _as(b)
        a = b._operand(a)
    else:
        b = a._operand(b)
    dt = tensor._promote(a._node.dtype, b._node.dtype)
    return a._cast(dt), b._cast(dt)


def _check_nonzero(divisor, name: str) -> None:
    """Integer remainders by zero raise, as in PyTorch (eager only: compiled code gives 0)."""
    if graph.Tracing.depth > 0:
        return
    if (np.asarray(to_host(divisor._value())) == 0).any():
        file, line, _ = user_location()
        raise ZeroDivisionError(f"{file}:{line}: {name}: integer division by zero")


# ------------------------------------------------------------------ elementwise, unary

#: name -> hl op of a float-only function (integers are converted to float32 first)
_UNARY_OPS = {
    "log1p": hl.Log1pOp,
    "expm1": hl.Expm1Op,
    "log2": hl.Log2Op,
    "log10": hl.Log10Op,
    "exp2": hl.Exp2Op,
    "tan": hl.TanOp,
    "asin": hl.AsinOp,
    "acos": hl.AcosOp,
    "atan": hl.AtanOp,
    "sinh": hl.SinhOp,
    "cosh": hl.CoshOp,
    "asinh": hl.AsinhOp,
    "acosh": hl.AcoshOp,
    "atanh": hl.AtanhOp,
}


def _unary_method(op):
    def method(self):
        return _float(self)._unary(op)

    method.__doc__ = f"Elementwise {op.name[3:]} ({op.__doc__}); integers are converted to float32 first."
    return method


def _rounding(op, name: str):
    def method(self):
        _no_bool(self, name)
        return self if not self.is_floating_point() else self._unary(op)

    method.__doc__ = f"{op.__doc__}; an integer tensor is its own {name} (same dtype, as PyTorch)."
    return method


def round(self, *, decimals: int = 0):
    """Round half to even, as PyTorch; `decimals=d` rounds x * 10**d and divides back (d < 0: the reverse),
    16-bit floats in float32 (as torch: x * 10**d would overflow in float16)."""
    _no_bool(self, "round")
    if not self.is_floating_point():
        if decimals:
            raise NotImplementedError(f"\"round_cpu\" not implemented for '{_long_name(self)}'")
        return self
    if decimals == 0:
        return self._unary(hl.RoundOp)
    dtype = self._node.dtype
    x = self._cast("f32") if dtype in _tensor_module()._16_BIT else self
    scale = 10.0 ** abs(decimals)
    if decimals > 0:
        return ((x * scale)._unary(hl.RoundOp) / scale)._cast(dtype)
    return ((x / scale)._unary(hl.RoundOp) * scale)._cast(dtype)


def _long_name(x) -> str:
    return {"i32": "Int", "i64": "Long", "i1": "Bool"}.get(x._node.dtype, str(x.dtype))


def frac(self):
    """x - trunc(x), with x's sign (float tensors only, as PyTorch)."""
    if not self.is_floating_point():
        raise NotImplementedError(f"\"frac_cpu\" not implemented for '{_long_name(self)}'")
    return self - self._unary(hl.TruncOp)


def _attached(result, source):
    """`result`, with a zero gradient to `source` (same shape) as PyTorch gives a piecewise-constant function:
    select(source < source, source, result); the condition is false for every value, nan included."""
    return _where(source < source, source, result) if source.is_floating_point() else result


def sign(self):
    """-1, 0 or 1 in x's dtype (0 for nan and -0.0, as PyTorch 2.13; a bool tensor is its own sign)."""
    if self._node.dtype == "i1":
        return self
    return _attached((self > 0)._cast(self._node.dtype) - (self < 0)._cast(self._node.dtype), self)


def reciprocal(self):
    """1 / x (integers give float32)."""
    return 1.0 / _float(self)


def deg2rad(self):
    return _float(self) * (math.pi / 180.0)


def rad2deg(self):
    return _float(self) * (180.0 / math.pi)


def isnan(self):
    """True where x is nan (never for an integer tensor). Not `x != x`: compilers fold that to false."""
    if not self.is_floating_point():
        return self != self
    return ~(self.abs() <= math.inf)


def isinf(self):
    if not self.is_floating_point():
        return self != self
    return self.abs() == math.inf


def isposinf(self):
    return self == math.inf if self.is_floating_point() else self != self


def isneginf(self):
    return self == -math.inf if self.is_floating_point() else self != self


def isfinite(self):
    if not self.is_floating_point():
        return self == self
    return self.abs() < math.inf  # false for nan as well


def nan_to_num(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):
    """nan, +inf and -inf replaced (by default with 0 and the dtype's largest and lowest finite values)."""
    if not self.is_floating_point():
        return self
    info = finfo(self.dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = _where(isnan(self), nan, self)
    out = _where(self == math.inf, posinf, out)
    return _where(self == -math.inf, neginf, out)


def logical_not(self):
    return self == 0


def logical_and(self, other):
    return (self != 0) & (_as(other) != 0)


def logical_or(self, other):
    return (self != 0) | (_as(other) != 0)


def logical_xor(self, other):
    return (self != 0) ^ (_as(other) != 0)


# ------------------------------------------------------------------ elementwise, binary


def fmod(self, other):
    """C's remainder a - trunc(a / b) * b, with a's sign (PyTorch's `fmod`); integers by zero raise."""
    a, b = _pair(self, other)
    _no_bool(a, "fmod")
    if not a.is_floating_point():
        _check_nonzero(b, "fmod")
    return a._new(apply(hl.FmodOp, [a._node, b._node]))


def remainder(self, other):
    """Python's remainder: the sign of the divisor (PyTorch's `remainder`, `%`); integers by zero raise."""
    a, b = _pair(self, other)
    _no_bool(a, "remainder")
    if not a.is_floating_point():
        _check_nonzero(b, "remainder")
    r = a._new(apply(hl.FmodOp, [a._node, b._node]))
    # a nonzero remainder of the wrong sign moves by one divisor (exactly PyTorch's CPU kernel)
    return _where((r != 0) & ((r < 0) ^ (b < 0)), r + b, r)


def _rmod(self, other):
    return remainder(other, self)


def atan2(self, other):
    """atan(a / b) in the quadrant of (b, a); integers are converted to float32. At a = b = 0 (either sign)
    the gradient is 0, as PyTorch's (the derivatives' b / (a^2 + b^2) would be 0 / 0 there)."""
    a, b = _pair(self, other)
    a, b = _float(a), _float(b)
    origin = (a == 0) & (b == 0)
    at_origin = a.detach()._new(apply(hl.Atan2Op, [a.detach()._node, b.detach()._node]))
    safe_a, safe_b = _where(origin, 0.0, a), _where(origin, 1.0, b)
    return _where(origin, at_origin, a._new(apply(hl.Atan2Op, [safe_a._node, safe_b._node])))


def _float_pair(a, b, name: str):
    a, b = _pair(a, b)
    if not a.is_floating_point():
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_long_name(a)}'")
    return a, b


def hypot(self, other):
    """sqrt(a * a + b * b) without overflow or underflow in the squares (float tensors only, as
    PyTorch): m * sqrt((a / m)^2 + (b / m)^2) with m = max(|a|, |b|); inf where either is inf."""
    a, b = _float_pair(self, other, "hypot")
    a, b = a.abs(), b.abs()
    m = _tensor_module().maximum(a, b)
    scale = _where(m == 0, 1.0, m).detach()  # any positive scale is exact; detached, its gradient is 0
    r = ((a / scale).square() + (b / scale).square()).sqrt() * scale
    return _where((a == math.inf) | (b == math.inf), math.inf, r)


def _signbit(x):
    """True for negative x and for -0.0 (1 / -0.0 is -inf)."""
    return (x < 0) | ((x == 0) & (1.0 / x < 0))


def copysign(self, other):
    """|a| with b's sign, -0.0 included (integers give float32)."""
    a, b = _pair(self, other)
    a, b = _float(a), _float(b)
    return _where(_signbit(b), -a.abs(), a.abs())


def lerp(self, end, weight):
    """start + weight * (end - start), computed from the nearer end as PyTorch does."""
    end = _as(end) if not isinstance(end, (int, float)) else end
    diff = end - self
    if isinstance(weight, (int, float)):
        return self + diff * weight if abs(weight) < 0.5 else end - diff * (1 - weight)
    return _where(weight.abs() < 0.5, self + diff * weight, end - diff * (1 - weight))


def addcmul(self, tensor1, tensor2, *, value=1):
    """self + value * tensor1 * tensor2."""
    prod = tensor1 * tensor2
    return self + (prod if value == 1 else prod * value)


def addcdiv(self, tensor1, tensor2, *, value=1):
    """self + value * tensor1 / tensor2 (integer tensors are refused, as in PyTorch)."""
    t1 = _as(tensor1)
    if not t1.is_floating_point() and not _as(tensor2).is_floating_point():
        raise _error(
            "Integer division with addcdiv is no longer supported, and in a future release addcdiv will perform "
            "a true division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as "
            "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as "
            "(input + value * tensor1 / tensor2) for float inputs. The future addcdiv behavior is just the latter "
            "implementation: (input + value * tensor1 / tensor2), for all dtypes."
        )
    quot = t1 / tensor2
    return self + (quot if value == 1 else quot * value)


def fmax(self, other):
    """Elementwise max ignoring nan (nan only where both are); ties take a's gradient, as PyTorch."""
    a, b = _pair(self, other)
    return _where((a >= b) | isnan(b), a, b)


def fmin(self, other):
    a, b = _pair(self, other)
    return _where((a <= b) | isnan(b), a, b)


def signbit(self):
    """True where the sign bit is set: negative numbers and -0.0 (bool)."""
    return _signbit(self) if self.is_floating_point() else self < 0


def logaddexp(self, other):
    """log(exp(a) + exp(b)) without overflow: max + log1p(exp(-|a - b|)); (a + b) / 2 + log(2) where a == b
    (+-inf too; the mean gives each operand half the gradient, as PyTorch)."""
    a, b = _pair(self, other)
    a, b = _float(a), _float(b)
    out = a.maximum(b) + (-(a - b).abs()).exp().log1p()
    return _where(a == b, (a + b) * 0.5 + math.log(2.0), out)


def logaddexp2(self, other):
    """log2(2**a + 2**b) without overflow."""
    a, b = _pair(self, other)
    a, b = _float(a), _float(b)
    out = a.maximum(b) + (-(a - b).abs()).exp2().log1p() * (1 / math.log(2.0))
    return _where(a == b, (a + b) * 0.5 + 1.0, out)


def heaviside(self, values):
    """0 where x < 0, `values` where x == 0, 1 where x > 0 (nan: 0), in x's dtype."""
    values = self._operand(values)
    if values._node.dtype != self._node.dtype:
        raise _error(
            f"heaviside is not yet implemented for tensors with different dtypes ({_long_name(self)} and "
            f"{_long_name(values)})"
        )
    return _attached(_where(self == 0, values, (self > 0)._cast(self._node.dtype)), self)


def clamp_min(self, min):
    return self.clamp(min=min)


def clamp_max(self, max):
    return self.clamp(max=max)


def positive(self):
    """x itself (PyTorch's unary +)."""
    return self


def true_divide(self, other):
    return self / other


# ------------------------------------------------------------------ reductions


def _reduced_count(x, dim) -> int:
    dims = x._dims(dim)
    return math.prod(x.shape[d] for d in dims) if x.ndim else 1


def all(self, dim=None, keepdim: bool = False):
    """True where every element along `dim` (all dims by default) is nonzero; a bool tensor."""
    return (self == 0).sum(dim, keepdim) == 0


def any(self, dim=None, keepdim: bool = False):
    """True where some element along `dim` is nonzero (nan counts); a bool tensor."""
    return (self != 0).sum(dim, keepdim) > 0


def count_nonzero(self, dim=None):
    return (self != 0).sum(dim)


def logsumexp(self, dim, keepdim: bool = False):
    """log(sum(exp(x))) along `dim`, as m + log(sum(exp(x - m))) with m the (detached) max, 0 where m is +-inf."""
    x = _float(self)
    if x.numel() == 0 and _reduced_count(x, dim) == 0:  # the log of an empty sum, as PyTorch
        return x.sum(dim, keepdim) + -math.inf
    m = x.amax(dim, keepdim=True).detach()
    m = _where(m.abs() == math.inf, 0.0, m)
    out = (x - m).exp().sum(dim, keepdim=True).log() + m
    return out if keepdim else out.squeeze(_sorted_dims(x, dim))


def _sorted_dims(x, dim) -> tuple[int, ...]:
    return tuple(sorted(d % x.ndim for d in x._dims(dim))) if x.ndim else ()


def _old_unbiased(dim, unbiased):
    """var(x, unbiased) of old: a bool first argument is `unbiased`, over all dims."""
    return (None, dim) if isinstance(dim, bool) else (dim, unbiased)


def _correction(name: str, unbiased, correction) -> float:
    if unbiased is not None and correction is not None:
        raise _error(f"{name}: can't specify both unbiased and correction")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """sum((x - mean) ** 2) / max(0, N - correction) along `dim` (correction=1 by default, `unbiased=False` is 0)."""
    dim, unbiased = _old_unbiased(dim, unbiased)
    if not self.is_floating_point():
        raise _error("std and var only support floating point and complex dtypes")
    c = _correction("var", unbiased, correction)
    d = self - self.mean(dim, keepdim=True)
    return (d * d).sum(dim, keepdim) / max(0, _reduced_count(self, dim) - c)


def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """sqrt(var(...)), with var's arguments; the gradient is 0 where the variance is (constant data), as
    PyTorch's (sqrt's would be inf * 0 = nan)."""
    v = var(self, dim, unbiased, keepdim, correction=correction)
    zero = v == 0
    return _where(zero, 0.0, _where(zero, 1.0, v).sqrt())


def var_mean(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(var, mean), as torch.var_mean."""
    dim, unbiased = _old_unbiased(dim, unbiased)
    return var(self, dim, unbiased, keepdim, correction=correction), self.mean(dim, keepdim)


def std_mean(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(std, mean), as torch.std_mean."""
    dim, unbiased = _old_unbiased(dim, unbiased)
    return std(self, dim, unbiased, keepdim, correction=correction), self.mean(dim, keepdim)


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None):
    """`torch.linalg.vector_norm`: ord 2 (a zero gradient at 0, as PyTorch), 1, inf, -inf, 0 (the count of
    nonzeros) or any other number p: sum(|x| ** p) ** (1 / p)."""
    x = _as(x)
    if dtype is not None:
        x = x.to(dtype)
    if not x.is_floating_point():
        raise _error(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {_long_name(x)}")
    if isinstance(ord, str) or isinstance(ord, bool):
        raise _error(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    a = x.abs()
    if ord == math.inf:
        return a.amax(dim, keepdim)
    if ord == -math.inf:
        return a.amin(dim, keepdim)
    if ord == 0:
        return _attached((x != 0)._cast(x._node.dtype).sum(dim, keepdim), x.sum(dim, keepdim))
    if ord == 1:
        return a.sum(dim, keepdim)
    if ord == 2:
        s = (x * x).sum(dim, keepdim)
        zero = s == 0
        return _where(zero, 0.0, _where(zero, 1.0, s).sqrt())  # sqrt's gradient at 0 would be inf * 0 = nan
    return (a**ord).sum(dim, keepdim) ** (1.0 / ord)


def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """`torch.norm`: p = 'fro' (2), or a number as in `vector_norm`; 'nuc' (matrix norms) is not supported."""
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise _error(f"norm: p={p!r} (a matrix norm) is not supported; irc has vector norms only")
    return vector_norm(self, p, dim, keepdim, dtype=dtype)


def _scan(self, dim: int, name: str, fill, reduce):
    """The running `reduce` along `dim`: out[..., j] = reduce over i <= j of x[..., i], computed as a masked
    reduction over an (n, n) triangle (O(n^2) work and memory: fine for the small n of a scan in a model)."""
    tensor = _tensor_module()
    if self.ndim == 0:
        return self
    d = self._dim(dim)
    n = self.shape[d]
    x = self.transpose(d, -1) if d != self.ndim - 1 else self
    mask = tensor.tensor(np.triu(np.ones((n, n), dtype=bool)), device=self.device)  # mask[i, j] = i <= j
    out = reduce(_where(mask, x.unsqueeze(-1), fill), -2)
    return out.transpose(d, -1) if d != self.ndim - 1 else out


def _scan_input(self, dtype, name: str):
    x = self if dtype is None else self.to(dtype)
    if x._node.dtype in ("i1", "i32"):
        x = x.long()  # PyTorch scans integers in int64
    return x


def cumsum(self, dim: int, *, dtype=None):
    """Running sum along `dim` (integers in int64); see `_scan` for its cost."""
    x = _scan_input(self, dtype, "cumsum")
    return _scan(x, dim, "cumsum", 0, lambda t, d: t.sum(d))


def cumprod(self, dim: int, *, dtype=None):
    """Running product along `dim` (integers in int64)."""
    x = _scan_input(self, dtype, "cumprod")
    return _scan(x, dim, "cumprod", 1, lambda t, d: t.prod(d))


def logcumsumexp(self, dim: int):
    """log(cumsum(exp(x))) along `dim`, stable (a running logsumexp)."""
    x = _float(self)
    return _scan(x, dim, "logcumsumexp", -math.inf, lambda t, d: logsumexp(t, d))


def aminmax(self, *, dim=None, keepdim: bool = False):
    """(min, max) in one call, as a named tuple with fields `min` and `max`."""
    return aminmax_result(self.amin(dim, keepdim), self.amax(dim, keepdim))


def nansum(self, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum treating nan as 0."""
    x = self if dtype is None else self.to(dtype)
    if not x.is_floating_point():
        return x.sum(dim, keepdim)
    return _where(isnan(x), 0.0, x).sum(dim, keepdim)


def nanmean(self, dim=None, keepdim: bool = False, *, dtype=None):
    """Mean over the non-nan elements (nan where all are nan)."""
    x = self if dtype is None else self.to(dtype)
    if not x.is_floating_point():
        raise _error(f"nanmean(): expected input to have floating point or complex dtype but got {_long_name(x)}")
    count = (~isnan(x))._cast(x._node.dtype).sum(dim, keepdim)
    return nansum(x, dim, keepdim) / count


# ------------------------------------------------------------------ the methods

#: method name -> function; each also gets an in-place `name_` when in IN_PLACE
METHODS = {
    **{name: _unary_method(op) for name, op in _UNARY_OPS.items()},
    "floor": _rounding(hl.FloorOp, "floor"),
    "ceil": _rounding(hl.CeilOp, "ceil"),
    "trunc": _rounding(hl.TruncOp, "trunc"),
    "round": round,
    "frac": frac,
    "sign": sign,
    "reciprocal": reciprocal,
    "deg2rad": deg2rad,
    "rad2deg": rad2deg,
    "isnan": isnan,
    "isinf": isinf,
    "isposinf": isposinf,
    "isneginf": isneginf,
    "isfinite": isfinite,
    "nan_to_num": nan_to_num,
    "logical_not": logical_not,
    "logical_and": logical_and,
    "logical_or": logical_or,
    "logical_xor": logical_xor,
    "fmod": fmod,
    "remainder": remainder,
    "atan2": atan2,
    "hypot": hypot,
    "copysign": copysign,
    "lerp": lerp,
    "addcmul": addcmul,
    "addcdiv": addcdiv,
    "fmax": fmax,
    "fmin": fmin,
    "signbit": signbit,
    "logaddexp": logaddexp,
    "logaddexp2": logaddexp2,
    "heaviside": heaviside,
    "clamp_min": clamp_min,
    "clamp_max": clamp_max,
    "positive": positive,
    "true_divide": true_divide,
    "all": all,
    "any": any,
    "count_nonzero": count_nonzero,
    "logsumexp": logsumexp,
    "var": var,
    "std": std,
    "norm": norm,
    "cumsum": cumsum,
    "cumprod": cumprod,
    "logcumsumexp": logcumsumexp,
    "aminmax": aminmax,
    "nansum": nansum,
    "nanmean": nanmean,
}
# ----------------------------------------------------------------------------- more of torch's Tensor methods


def _products_of(x, a, b, beta, alpha, product):
    """`beta * x + alpha * product(a, b)`, as torch's `addmm` family: beta 0 ignores x (NaNs too)."""
    out = product(a, b)
    if alpha != 1:
        out = out * alpha
    if beta == 0:
        return out
    return out + (x if beta == 1 else x * beta)


def addmm(x, mat1, mat2, *, beta=1, alpha=1):
    """`beta * x + alpha * (mat1 @ mat2)` (two matrices), as torch's."""
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise _error(f"addmm: expected 2-D matrices, got {mat1.ndim}-D and {mat2.ndim}-D")
    return _products_of(x, mat1, mat2, beta, alpha, lambda a, b: a.mm(b))


def addmv(x, mat, vec, *, beta=1, alpha=1):
    """`beta * x + alpha * (mat @ vec)`, as torch's."""
    return _products_of(x, mat, vec, beta, alpha, lambda a, b: a.mv(b))


def baddbmm(x, batch1, batch2, *, beta=1, alpha=1):
    """`beta * x + alpha * bmm(batch1, batch2)`, as torch's."""
    return _products_of(x, batch1, batch2, beta, alpha, lambda a, b: a.bmm(b))


def addbmm(x, batch1, batch2, *, beta=1, alpha=1):
    """`beta * x + alpha * sum of bmm(batch1, batch2) over the batch`, as torch's."""
    return _products_of(x, batch1, batch2, beta, alpha, lambda a, b: a.bmm(b).sum(0))


def addr(x, vec1, vec2, *, beta=1, alpha=1):
    """`beta * x + alpha * outer(vec1, vec2)`, as torch's."""
    return _products_of(x, vec1, vec2, beta, alpha, lambda a, b: a.outer(b))


def mv(x, vec):
    """Matrix times vector, as torch's (`mv`: one dtype, a matrix and a vector)."""
    vec = _as(vec)
    if x.ndim != 2 or vec.ndim != 1:
        raise _error(f"vector + matrix @ vector expected, got {x.ndim}, {x.ndim}, {vec.ndim}")
    return x.matmul(vec)


def inner(x, other):
    """Sums of products over the last dims: shape `x.shape[:-1] + other.shape[:-1]` (scalars multiply)."""
    other = _as(other)
    if x.ndim == 0 or other.ndim == 0:
        return x * other
    k = x.shape[-1]
    if other.shape[-1] != k:
        raise _error(
            f"inner() the last dimension must match on both input tensors but got shapes {list(x.shape)} and "
            f"{list(other.shape)}"
        )
    product = x.reshape(-1, k).matmul(other.reshape(-1, k).t())
    return product.reshape(*x.shape[:-1], *other.shape[:-1])


def isclose(x, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """`|x - other| <= atol + rtol * |other|` elementwise, or equal (an infinity is close only to itself; NaNs
    only with equal_nan); both of one dtype, as torch's (bool tensors: equality)."""
    if isinstance(other, _tensor_module().Tensor) and other._node.dtype != x._node.dtype:
        names = _tensor_module()._SCALAR_NAMES
        raise _error(f"{names[x._node.dtype]} did not match {names[other._node.dtype]}")
    other = _as(other)
    if x._node.dtype == "i1":
        return x == other
    error = (x - other).abs()
    close = (error <= atol + rtol * other.abs()) & error.isfinite()  # |x - inf| <= inf is no closeness
    close = close | (x == other)
    if equal_nan:
        close = close | (x.isnan() & other.isnan())
    return close


def allclose(x, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every element `isclose` (eager: reads the values), as torch's."""
    return bool(isclose(x, other, rtol, atol, equal_nan).all().item())


def equal(x, other) -> bool:
    """Same shape and elements (eager: reads the values), as torch's."""
    other = _as(other)
    return tuple(x.shape) == tuple(other.shape) and bool((x == other).all().item())


def diff(x, n: int = 1, dim: int = -1, prepend=None, append=None):
    """The `n`-th forward difference along `dim`, `prepend`/`append` joined first, as torch's."""
    d = x._dim(dim)
    if prepend is not None or append is not None:
        x = _tensor_module().cat([_as(t) for t in (prepend, x, append) if t is not None], d)
    for _ in range(n):
        size = x.shape[d]
        if size == 0:
            break
        later, earlier = x.narrow(d, 1, size - 1), x.narrow(d, 0, size - 1)
        x = later ^ earlier if x.dtype == np.bool_ else later - earlier
    return x


def sum_to_size(x, *size):
    """`x` summed to `size`, a shape it broadcasts to (dims of size 1 and leading dims summed), as torch's."""
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    lead = x.ndim - len(size)
    if lead < 0 or builtins.any(s not in (1, n) for s, n in zip(size, x.shape[lead:])):
        raise _error(f"size {{{list(size)}}} is not expandable to size {{{list(x.shape)}}}.")
    if lead:
        x = x.sum(tuple(range(lead)))
    dims = tuple(d for d, (s, n) in enumerate(zip(size, x.shape)) if s == 1 and n != 1)
    return x.sum(dims, keepdim=True) if dims else x


def rot90(x, k: int = 1, dims=(0, 1)):
    """Rotated by 90 degrees `k` times in the plane of `dims`, from the first towards the second, as torch's."""
    if len(dims) != 2 or x.ndim < 2:
        raise _error(
            f"expected total rotation dims == 2 and tensor dims >= 2, but got dims = {len(dims)}, tensor dims = {x.ndim}"
        )  # noqa: E501
    d0, d1 = x._dim(dims[0]), x._dim(dims[1])
    if d0 == d1:
        raise _error(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return x.flip(d1).transpose(d0, d1)
    if k == 2:
        return x.flip(d0, d1)
    if k == 3:
        return x.flip(d0).transpose(d0, d1)
    return x.clone()


def fill_diagonal_(x, fill_value, wrap: bool = False):
    """`fill_value` on the main diagonal (all dims equal, or a matrix; a tall one's diagonal restarts one row
    below the square with `wrap`), in place, as torch's."""
    if x.ndim < 2 or (x.ndim > 2 and len(set(x.shape)) != 1):
        raise _error(
            "all dimensions of input must be of equal length" if x.ndim > 2 else "dimensions must larger than 1"
        )
    flat = x.reshape(-1)
    if x.ndim > 2:
        step = sum(x.shape[0] ** k for k in range(x.ndim))
        count = x.shape[0]
    else:
        rows, cols = x.shape
        step, count = cols + 1, min(rows, cols)
        if wrap and rows > cols + 1:
            count = len(range(0, rows * cols, step))
    flat[: (count - 1) * step + 1 : step].fill_(fill_value)
    return x


def nonzero(x, *, as_tuple: bool = False):
    """The indices of the non-zero elements (eager only: how many depends on the values), as torch's."""
    if graph.Tracing.depth > 0:
        raise FrontendError(
            "nonzero has a data-dependent shape: not supported inside irc.jit or irc.grad", user_location()[:2]
        )
    tensor = _tensor_module().tensor
    found = np.nonzero(np.atleast_1d(to_host(x._value())))
    if as_tuple:
        return tuple(tensor(i.astype(np.int64), device=x.device) for i in found)
    if x.ndim == 0:  # one row of no indices if the number is non-zero, as torch's
        return tensor(np.zeros((len(found[0]), 0), np.int64), device=x.device)
    return tensor(np.stack(found, 1).astype(np.int64).reshape(-1, x.ndim), device=x.device)


def argwhere(x):
    """`nonzero()`: the indices of the non-zero elements, one row each."""
    return nonzero(x)


def unique(x, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values, sorted (eager only: how many depends on the values), with the inverse indices and
    counts when asked, as torch's (`dim=None`: over all elements)."""
    if graph.Tracing.depth > 0:
        raise FrontendError(
            "unique has a data-dependent shape: not supported inside irc.jit or irc.grad", user_location()[:2]
        )
    if dim is not None:
        raise FrontendError("unique(dim=...) is not supported in irc (only over all elements)", user_location()[:2])
    tensor = _tensor_module().tensor
    # each NaN a value of its own, as torch's (numpy's default counts them as one)
    values, inverse, counts = np.unique(to_host(x._value()), return_inverse=True, return_counts=True, equal_nan=False)
    out = [tensor(values, device=x.device)]
    if return_inverse:
        out.append(tensor(inverse.reshape(x.shape).astype(np.int64), device=x.device))
    if return_counts:
        out.append(tensor(counts.astype(np.int64), device=x.device))
    return out[0] if len(out) == 1 else tuple(out)


def element_size(x) -> int:
    """Bytes per element."""
    return x.dtype.itemsize


def get_device(x) -> int:
    """-1 on the cpu, else the device index (irc uses device 0), as torch's."""
    return -1 if x.device == "cpu" else 0


def erfc(x):
    """1 - erf(x)."""
    return 1 - x.erf()


def logit(x, eps=None):
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given, as torch's."""
    p = x if eps is None else x.clamp(eps, 1 - eps)
    return (p / (1 - p)).log()


def xlogy(x, other):
    """x * log(other), 0 where x is 0 (unless other is NaN), as torch's."""
    x, other = _as(x), _as(other)
    # where x is 0 and log(other) is not finite the result is 0, the gradients too (no 0 * inf = nan);
    # elsewhere x's gradient is log(other), as torch's
    bad = (x == 0) & ~other.isnan() & ~((other > 0) & (other < math.inf))
    return _where(bad, x * 0, x * _where(bad, 1.0, other).log())


def sinc(x):
    """sin(pi x) / (pi x), 1 at 0, as torch's."""
    scaled = x * math.pi
    safe = _where(x == 0, scaled * 0 + 1, scaled)
    return _where(x == 0, safe * 0 + 1, safe.sin() / safe)


def float_power(x, exponent):
    """x ** exponent in float64, as torch's."""
    exponent = exponent.double() if hasattr(exponent, "double") else float(exponent)
    return x.double().pow(exponent)


def cross(x, other, dim=None):
    """The cross product of 3-vectors along `dim` (the first of size 3 when None, as torch's `cross`)."""
    other = _as(other)
    if dim is None:
        dim = next((d for d, n in enumerate(x.shape) if n == 3), None)
        if dim is None:
            raise _error(f"no dimension of size 3 in input {list(x.shape)}")
    d = x._dim(dim)
    if x.shape[d] != 3 or other.shape[d] != 3:
        raise _error(f"linalg.cross: inputs dimension {d} must have length 3. Got {x.shape[d]} and {other.shape[d]}")
    a = [x.select(d, i) for i in range(3)]
    b = [other.select(d, i) for i in range(3)]
    parts = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    return _tensor_module().stack(parts, d)


def dist(x, other, p: float = 2):
    """The p-norm of x - other."""
    return (x - _as(other)).norm(p)


def cov(x, *, correction: int = 1, fweights=None, aweights=None):
    """The covariance matrix of the rows of x (variables) over its columns (observations), with integer
    frequency weights and observation weights, as torch's (one variable: a 0-d tensor)."""
    if x.ndim > 2:
        raise _error(f"cov(): expected input to have two or fewer dimensions but got an input with {x.ndim} dimensions")
    rows = x.reshape(1, -1) if x.ndim < 2 else x
    if not rows.is_floating_point():
        rows = rows.float()
    weights = [_as(w)._cast(rows._node.dtype) for w in (fweights, aweights) if w is not None]
    if not weights:
        centered = rows - rows.mean(1, keepdim=True)
        out = centered.matmul(centered.t()) / max(rows.shape[1] - correction, 0)
    else:
        w = weights[0] * weights[1] if len(weights) == 2 else weights[0]
        w_sum = w.sum()
        centered = rows - (rows * w).sum(1, keepdim=True) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * weights[-1]).sum() / w_sum
        out = (centered * w).matmul(centered.t()) / norm.clamp(min=0)
    return out.reshape(()) if rows.shape[0] == 1 else out


def corrcoef(x):
    """Pearson correlation coefficients of the rows, clipped to [-1, 1], as torch's."""
    c = cov(x)
    if c.ndim == 0:
        return c / c
    d = c.diagonal().sqrt()
    return (c / d.reshape(-1, 1) / d.reshape(1, -1)).clamp(-1, 1)


def ldexp(x, other):
    """x * 2 ** other (integers give float32), as torch's."""
    return x * (2.0 ** _as(other))


def _shift(x, other, op: type[hl.HLOp], reverse: bool):
    a, b = _pair(other, x) if reverse else _pair(x, other)
    if a.is_floating_point() or a._node.dtype == "i1":
        name = "lshift" if op is hl.ShiftLeftOp else "rshift"
        raise NotImplementedError(
            f"\"{name}_cpu\" not implemented for '{_tensor_module()._SCALAR_NAMES[a._node.dtype]}'"
        )
    return a._new(apply(op, [a._node, b._node]))


def bitwise_left_shift(x, other, *, _reverse: bool = False):
    """x << other, wrapping as torch's; 0 where the shift is negative or the width or more (`hl.shift_left`)."""
    return _shift(x, other, hl.ShiftLeftOp, _reverse)


def bitwise_right_shift(x, other, *, _reverse: bool = False):
    """x >> other, arithmetic; a shift that is negative or the width or more gives the sign (0 or -1), as
    torch's (`hl.shift_right`)."""
    return _shift(x, other, hl.ShiftRightOp, _reverse)


cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])


def _cumulative_extreme(x, dim: int, largest: bool):
    """(values, indices) of the running max (min) along `dim`, as torch's `cummax` (`cummin`): the latest
    index of the extreme so far (ties too), NaN once one is seen (the latest NaN's index); the values are
    gathered there, so the gradient goes to that index. A masked reduction over an (n, n) triangle, as
    `_scan`."""
    result = cummax_result if largest else cummin_result
    if x.ndim == 0:
        return result(x, x._scalar_tensor(0, "i64"))
    tensor = _tensor_module()
    d = x._dim(dim)
    n = x.shape[d]
    last = x.ndim - 1
    moved = x.transpose(d, last) if d != last else x
    wide = moved._cast("i32") if moved._node.dtype == "i1" else moved
    if wide.is_floating_point():
        fill = -math.inf if largest else math.inf
    else:
        info = np.iinfo(wide.dtype)
        fill = int(info.min if largest else info.max)
    mask = tensor.tensor(np.triu(np.ones((n, n), dtype=bool)), device=x.device)  # mask[i, j] = i <= j
    column = wide.unsqueeze(-1)
    masked = _where(mask, column, fill)
    running = (masked.amax(-2) if largest else masked.amin(-2)).unsqueeze(-2)
    hit = column == running
    if wide.is_floating_point():
        hit = hit | (isnan(column) & isnan(running))
    positions = tensor.arange(n, device=x.device).reshape(n, 1)
    indices = _where(mask & hit, positions, -1).amax(-2)
    values = moved.gather(-1, indices)
    if d != last:
        values, indices = values.transpose(d, last), indices.transpose(d, last)
    return result(values, indices)


def cummax(x, dim: int):
    """(values, indices) of the running maximum along `dim`, as torch's; see `_cumulative_extreme`."""
    return _cumulative_extreme(x, dim, True)


def cummin(x, dim: int):
    """(values, indices) of the running minimum along `dim`, as torch's."""
    return _cumulative_extreme(x, dim, False)


def renorm(x, p, dim: int, maxnorm):
    """Each slice along `dim` whose p-norm exceeds `maxnorm` scaled by maxnorm / (norm + 1e-7), as torch's."""
    if not x.is_floating_point():
        raise NotImplementedError(
            f"\"renorm_cpu\" not implemented for '{_tensor_module()._SCALAR_NAMES[x._node.dtype]}'"
        )
    d = x._dim(dim)
    others = [k for k in range(x.ndim) if k != d]
    norm = vector_norm(x, p, others, keepdim=True) if others else x.abs()
    return x * _where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)


#: more of torch's Tensor methods (`x.<name>`; also `irc.<name>` where torch has the function)
MORE_METHODS = {
    "erfc": erfc, "logit": logit, "xlogy": xlogy, "sinc": sinc, "float_power": float_power, "cross": cross,
    "dist": dist, "cov": cov, "corrcoef": corrcoef,
    "addmm": addmm, "addmv": addmv, "baddbmm": baddbmm, "addbmm": addbmm, "addr": addr, "mv": mv, "inner": inner,
    "isclose": isclose, "allclose": allclose, "equal": equal, "diff": diff, "sum_to_size": sum_to_size,
    "rot90": rot90, "fill_diagonal_": fill_diagonal_, "nonzero": nonzero, "argwhere": argwhere, "unique": unique,
    "element_size": element_size, "get_device": get_device,
    "ldexp": ldexp, "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
    "cummax": cummax, "cummin": cummin, "renorm": renorm,
}  # fmt: skip
#: MORE_METHODS with an in-place form `name_` (torch's)
MORE_IN_PLACE = (
    "erfc", "logit", "xlogy", "sinc", "float_power", "ldexp", "bitwise_left_shift", "bitwise_right_shift", "renorm",
)  # fmt: skip
#: PyTorch's other spellings of Tensor's own methods (and their in-place forms where both exist)
TENSOR_ALIASES = {
    "absolute": "abs", "multiply": "mul", "subtract": "sub", "divide": "div", "negative": "neg", "greater": "gt",
    "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne", "nelement": "numel",
    "ndimension": "dim", "split_with_sizes": "split",
}  # fmt: skip

#: PyTorch's other spellings
ALIASES = {
    "fix": "trunc",
    "sgn": "sign",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "arctan2": "atan2",
}
#: methods with an in-place form `name_` (PyTorch's)
IN_PLACE = (
    *_UNARY_OPS, "floor", "ceil", "trunc", "round", "frac", "sign", "reciprocal", "deg2rad", "rad2deg",
    "nan_to_num", "logical_not", "logical_and", "logical_or", "logical_xor", "fmod", "remainder", "atan2",
    "hypot", "copysign", "lerp", "addcmul", "addcdiv", "fix", "logaddexp", "logaddexp2", "heaviside", "clamp_min",
    "clamp_max", "true_divide", "sgn", "arcsin", "arccos", "arctan", "arcsinh",
    "arccosh", "arctanh", "arctan2",
    # Tensor's own methods (irc/frontend/tensor.py)
    "abs", "clamp", "clip", "cos", "sin", "exp", "log", "neg", "pow", "relu", "rsqrt", "sigmoid", "sqrt", "square",
    "tanh", "erf", "cumsum", "cumprod", "masked_fill", "tril", "triu", "floor_divide", "eq", "ne", "lt", "le", "gt",
    "ge", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
)  # fmt: skip
#: functions only (torch.std_mean, torch.var_mean have no method)
FUNCTIONS = {"std_mean": std_mean, "var_mean": var_mean}


def _in_place(name: str):
    def method(self, *args, **kwargs):
        return self._assign_result(getattr(self, name)(*args, **kwargs))

    method.__name__ = f"{name}_"
    method.__doc__ = f"In-place `{name}`: this tensor holds the result, converted to its dtype."
    return method


def install(tensor_module) -> None:
    """Make METHODS, ALIASES and the in-place forms methods of `tensor_module.Tensor`."""
    global _TENSOR
    _TENSOR = tensor_module
    cls = tensor_module.Tensor
    for name, fn in METHODS.items():
        setattr(cls, name, fn)
    for alias, name in ALIASES.items():
        setattr(cls, alias, METHODS[name])
    for name in IN_PLACE:
        setattr(cls, f"{name}_", _in_place(name))
    for name, fn in MORE_METHODS.items():
        setattr(cls, name, fn)
    for name in MORE_IN_PLACE:
        setattr(cls, f"{name}_", _in_place(name))
    for alias, name in TENSOR_ALIASES.items():
        setattr(cls, alias, getattr(cls, name))
        if hasattr(cls, f"{name}_"):
            setattr(cls, f"{alias}_", getattr(cls, f"{name}_"))
    cls.bmm = lambda self, other: tensor_module.bmm(self, other)
    cls.bmm.__doc__ = "Batched matrix product (`irc.bmm`)."
    cls.where = lambda self, condition, other: tensor_module.where(condition, self, other)
    cls.where.__doc__ = "`irc.where(condition, self, other)`, as torch's `Tensor.where`."
    cls.is_cpu = property(lambda self: self.device == "cpu", doc="Whether this tensor is on the cpu.")
    cls.is_cuda = property(lambda self: self.device == "cuda", doc="Whether this tensor is on a CUDA GPU.")
    cls.itemsize = property(element_size, doc="Bytes per element.")
    cls.nbytes = property(lambda self: self.numel() * self.dtype.itemsize, doc="Bytes of all elements.")
    cls.__mod__ = remainder
    cls.__rmod__ = _rmod
    cls.__imod__ = _in_place("remainder")
    cls.__lshift__ = bitwise_left_shift
    cls.__rlshift__ = lambda self, other: bitwise_left_shift(self, other, _reverse=True)
    cls.__ilshift__ = _in_place("bitwise_left_shift")
    cls.__rshift__ = bitwise_right_shift
    cls.__rrshift__ = lambda self, other: bitwise_right_shift(self, other, _reverse=True)
    cls.__irshift__ = _in_place("bitwise_right_shift")
