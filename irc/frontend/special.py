"""`irc.special`: torch.special's names for what irc computes already, as torch's.

    >>> irc.special.expit(irc.tensor([0.0])), irc.special.xlog1py(irc.tensor([0.0]), irc.tensor([-1.0]))
    (tensor([0.5]), tensor([0.]))

Each is a composition of irc's Tensor methods (so it works eager, under `irc.jit` and `irc.grad`).
torch.special's Bessel, gamma-family (`gammaln`, `digamma`, `polygamma`), `erfinv`, `ndtri`, `log_ndtr`, `zeta`
and the orthogonal polynomials are not here.
"""

from __future__ import annotations

import math

from irc.frontend.mathops import xlogy
from irc.frontend.tensor import Tensor, as_tensor, where


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


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    return as_tensor(input).logsumexp(dim, keepdim)


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    return as_tensor(input).softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    return as_tensor(input).log_softmax(dim, dtype=dtype)


__all__ = [
    "entr", "erf", "erfc", "exp2", "expit", "expm1", "log1p", "log_softmax", "logit", "logsumexp", "ndtr", "round",
    "sinc", "softmax", "xlog1py", "xlogy",
]  # fmt: skip
