"""`irc.special`: torch.special's names for what irc computes, as torch's.

    >>> irc.special.expit(irc.tensor([0.0])), irc.special.xlog1py(irc.tensor([0.0]), irc.tensor([-1.0]))
    (tensor([0.5]), tensor([0.]))

Each is an hl op (the gamma family, `erfinv`, `ndtri`, `i0e`, `i1e`: irc/ir/special_functions.py) or a
composition of irc's Tensor methods, so it works eager, under `irc.jit` and `irc.grad`. torch.special's
`log_ndtr`, `erfcx`, `zeta`, the other Bessel and Airy functions and the orthogonal polynomials are not here.
"""

from __future__ import annotations

import math

from irc.frontend.mathops import xlogy
from irc.frontend.tensor import Tensor, as_tensor, where
from irc.ir import hl


def expit(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)): `sigmoid`."""
    return as_tensor(input).sigmoid()


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given."""
    return as_tensor(input).logit(eps)


def erf(input: Tensor) -> Tensor:
    return as_tensor(input).erf()


def erfc(input: Tensor) -> Tensor:
    return as_tensor(input).erfc()


def log1p(input: Tensor) -> Tensor:
    return as_tensor(input).log1p()


def expm1(input: Tensor) -> Tensor:
    return as_tensor(input).expm1()


def exp2(input: Tensor) -> Tensor:
    return as_tensor(input).exp2()


def xlog1py(input, other) -> Tensor:
    """x * log1p(y), 0 where x is 0 (unless y is NaN), as torch's."""
    x, y = as_tensor(input), as_tensor(other)
    bad = (x == 0) & ~y.isnan() & ~((y > -1) & (y < math.inf))  # log1p(y) not finite: 0, no 0 * inf = nan
    return where(bad, x * 0, x * where(bad, 0.0, y).log1p())


def sinc(input: Tensor) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0."""
    return as_tensor(input).sinc()


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 (torch's name)
    return as_tensor(input).round(decimals=decimals)


def entr(input: Tensor) -> Tensor:
    """-x * log(x) elementwise: 0 at 0, -inf below 0 (NaN stays NaN), as torch's."""
    x = as_tensor(input)
    x = x if x.is_floating_point() else x.float()
    positive = where(x > 0, x, 1.0)
    return where(x > 0, -positive * positive.log(), where(x == 0, 0.0, where(x < 0, -math.inf, x)))


def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF, (1 + erf(x / sqrt(2))) / 2."""
    x = as_tensor(input)
    x = x if x.is_floating_point() else x.float()
    return (1 + (x * (1 / math.sqrt(2.0))).erf()) * 0.5


def gammaln(input: Tensor) -> Tensor:
    """log |gamma(x)|: `lgamma`."""
    return as_tensor(input).lgamma()


def digamma(input: Tensor) -> Tensor:
    """d/dx lgamma(x): `Tensor.digamma`."""
    return as_tensor(input).digamma()


psi = digamma


def polygamma(n: int, input: Tensor) -> Tensor:
    """psi^(n)(x), the n-th derivative of digamma (also `irc.polygamma`).

    >>> irc.polygamma(1, irc.tensor([1.0]))  # pi^2 / 6
    tensor([1.644934])
    """
    return as_tensor(input).polygamma(n)


def multigammaln(input: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma function: `mvlgamma`."""
    return as_tensor(input).mvlgamma(p)


def erfinv(input: Tensor) -> Tensor:
    return as_tensor(input).erfinv()


def ndtri(input: Tensor) -> Tensor:
    """The standard normal quantile, the inverse of `ndtr`: -inf at 0, inf at 1, nan outside [0, 1]."""
    return as_tensor(input)._unary(hl.NdtriOp)


def i0(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind of order 0: `Tensor.i0`."""
    return as_tensor(input).i0()


def i0e(input: Tensor) -> Tensor:
    """exp(-|x|) i0(x), without overflow."""
    return as_tensor(input)._unary(hl.I0eOp)


def i1(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind of order 1, exp(|x|) * i1e(x)."""
    return as_tensor(input)._scaled_bessel(hl.I1eOp)


def i1e(input: Tensor) -> Tensor:
    """exp(-|x|) i1(x), without overflow."""
    return as_tensor(input)._unary(hl.I1eOp)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    return as_tensor(input).logsumexp(dim, keepdim)


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    return as_tensor(input).softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    return as_tensor(input).log_softmax(dim, dtype=dtype)


__all__ = [
    "digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i0e", "i1", "i1e",
    "log1p", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
    "sinc", "softmax", "xlog1py", "xlogy",
]  # fmt: skip
