"""Forward-mode derivative rules (JVPs) of the `hl` ops, one short rule per op,
each registered for its op class with `@jvp(hl.SomeOp)` (see `irc/ir/rules.py`).

A rule gets an `Emitter`, the forward op (values of the function being
built) and one tangent per operand (None where the operand carries none,
i.e. its tangent is zero); it returns the tangent of the op's result, written
with hl ops.  Ties are treated as in `vjp_rules.py`, whose helpers these
rules share.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

from xdsl.ir import SSAValue

from irc.ir import hl
from irc.ir.hl import HLOp, shape_of
from irc.ir.rules import jvp
from irc.transforms.vjp_rules import (
    MATH_DERIVATIVES,
    Emitter,
    extremum_share,
    max_pool_shares,
    pool_windows,
    prod_of_others,
    safe_log,
    scatter_prod_of_others,
    scatter_shares,
    tie_weight,
)

Tangents = Sequence[SSAValue | None]
#: a JVP rule: (emitter, forward op, one tangent or None per operand) -> the tangent of its result
Rule = Callable[[Emitter, HLOp, Tangents], SSAValue]


def total(b: Emitter, op: HLOp, terms: Sequence[SSAValue | None]) -> SSAValue:
    """The sum of the non-None terms, broadcast to the shape of op's result."""
    t = functools.reduce(b.add, [term for term in terms if term is not None])
    shape = shape_of(op.results[0].type)
    return t if shape_of(t.type) == shape else b.broadcast_to(t, shape=shape)


@jvp(hl.NegOp, hl.CastOp, hl.SumOp, hl.ReshapeOp, hl.TransposeOp, hl.FlipOp, hl.BroadcastToOp)
@jvp(hl.SliceOp, hl.AvgPool2dOp)
def _same_op(b, op, ts):
    """Linear ops: the tangent is the op applied to the tangents."""
    (t,) = ts
    return b.emit(type(op), t, result_type=op.results[0].type, **{k: op.attr(k) for k in op.attributes})


def _pointwise(derivative: Callable[[Emitter, SSAValue, SSAValue], SSAValue], doc: str) -> Rule:
    """y = f(x) elementwise: ty = tx * f'(x); `derivative(b, x, y)` is f'(x)."""

    def rule(b, op, ts):
        return b.mul(ts[0], derivative(b, op.operands[0], op.results[0]))

    rule.__doc__ = doc
    return rule


@jvp(hl.AbsOp)
def _abs(b, op, ts):
    """y = |x|: ty = tx * sign(x)   (0 at x = 0)"""
    (x,), (t,) = op.operands, ts
    return b.select(b.compare(x, 0.0, predicate="gt"), t, b.select(b.compare(x, 0.0, predicate="lt"), b.neg(t), 0.0))


@jvp(hl.AddOp)
def _add(b, op, ts):
    """y = a + c: ty = ta + tc"""
    return total(b, op, ts)


@jvp(hl.SubOp)
def _sub(b, op, ts):
    """y = a - c: ty = ta - tc"""
    ta, tc = ts
    return total(b, op, [ta, tc and b.neg(tc)])


@jvp(hl.MulOp)
def _mul(b, op, ts):
    """y = a * c: ty = ta * c + a * tc"""
    (a, c), (ta, tc) = op.operands, ts
    return total(b, op, [ta and b.mul(ta, c), tc and b.mul(a, tc)])


@jvp(hl.DivOp)
def _div(b, op, ts):
    """y = a / c: ty = ta / c - tc * y / c"""
    c, (ta, tc) = op.operands[1], ts
    return total(b, op, [ta and b.div(ta, c), tc and b.neg(b.div(b.mul(tc, op.results[0]), c))])


@jvp(hl.FloorDivideOp)
def _floor_divide(b, op, ts):
    """y = a // c: ty = 0   (piecewise constant, like floor)"""
    return b.full(0.0, op.results[0].type)


@jvp(hl.PowOp)
def _pow(b, op, ts):
    """y = a ** c: ty = ta * c * a ** (c - 1) + tc * y * log(a)   (log(a) taken as 0 where a <= 0)"""
    (a, c), (ta, tc) = op.operands, ts
    da = ta and b.mul(b.mul(ta, c), b.pow(a, b.sub(c, 1.0)))
    dc = tc and b.mul(b.mul(tc, op.results[0]), safe_log(b, a))
    return total(b, op, [da, dc])


def _extremum(predicate: str, doc: str) -> Rule:
    def rule(b, op, ts):
        (a, c), (ta, tc) = op.operands, ts
        w = tie_weight(b, a, c, predicate)
        return total(b, op, [ta and b.mul(ta, w), tc and b.mul(tc, b.sub(1.0, w))])

    rule.__doc__ = doc
    return rule


jvp(hl.MaximumOp)(_extremum("gt", "y = maximum(a, c): ty = ta * w + tc * (1 - w), w = 1 / 0.5 / 0 for a >, ==, < c"))
jvp(hl.MinimumOp)(_extremum("lt", "y = minimum(a, c): ty = ta * w + tc * (1 - w), w = 1 / 0.5 / 0 for a <, ==, > c"))


@jvp(hl.SelectOp)
def _select(b, op, ts):
    """y = where(cond, a, c): ty = where(cond, ta, tc)"""
    _, ta, tc = ts
    return total(b, op, [b.select(op.operands[0], 0.0 if ta is None else ta, 0.0 if tc is None else tc)])


@jvp(hl.MaxOp, hl.MinOp)
def _max_min(b, op, ts):
    """y = max(x, dims) (or min): ty = sum(tx * share), share = 1/count at the (tied) extrema"""
    return b.sum(b.mul(ts[0], extremum_share(b, op)), dims=op.attr("dims"), keepdim=op.attr("keepdim"))


@jvp(hl.ProdOp)
def _prod(b, op, ts):
    """y = prod(x, dims): ty = sum(tx * product of the other elements)"""
    return b.sum(b.mul(ts[0], prod_of_others(b, op)), dims=op.attr("dims"), keepdim=op.attr("keepdim"))


@jvp(hl.GatherOp)
def _gather(b, op, ts):
    """y = gather(x, index, dim): ty = gather(tx, index, dim)"""
    return b.gather(ts[0], op.operands[1], dim=op.attr("dim"))


@jvp(hl.ScatterOp)
def _scatter(b, op, ts):
    """y = scatter(x, index, src, dim, reduce): sum: ty = scatter(tx, index, tsrc, dim, sum);
    amax/amin (prod): ty = scatter(tx * share_x, index, tsrc * share_src, dim, sum), the shares those of the
    tied extrema (the products of the others)   (zeros for missing tangents)"""
    x, index, src = op.operands
    tx, tsrc = (b.full(0.0, v.type) if t is None else t for v, t in ((x, ts[0]), (src, ts[2])))
    reduce = op.attr("reduce")
    if reduce != "sum":
        x_share, src_share = scatter_prod_of_others(b, op) if reduce == "prod" else scatter_shares(b, op)
        tx, tsrc = b.mul(tx, x_share), b.mul(tsrc, src_share)
    return b.scatter(tx, index, tsrc, dim=op.attr("dim"), reduce="sum")


@jvp(hl.PadOp)
def _pad(b, op, ts):
    """y = pad(x, low, high, value): ty = pad(tx, low, high, 0)"""
    return b.pad(ts[0], low=op.attr("low"), high=op.attr("high"), value=0.0)


@jvp(hl.ConcatOp)
def _concat(b, op, ts):
    """y = concat(x_0, x_1, ..., dim): ty = concat(t_0, t_1, ..., dim)   (zeros for missing tangents)"""
    parts = [b.full(0.0, x.type) if t is None else t for x, t in zip(op.operands, ts)]
    return b.concat(*parts, dim=op.attr("dim"))


@jvp(hl.MatmulOp)
def _matmul(b, op, ts):
    """y = a @ c: ty = ta @ c + a @ tc"""
    (a, c), (ta, tc) = op.operands, ts
    return total(b, op, [ta and b.matmul(ta, c), tc and b.matmul(a, tc)])


@jvp(hl.Conv2dOp)
def _conv2d(b, op, ts):
    """y = conv2d(x, w): ty = conv2d(tx, w) + conv2d(x, tw)   (same attributes)"""
    (x, w), (tx, tw) = op.operands, ts
    attrs = {k: op.attr(k) for k in op.attributes}
    return total(b, op, [tx and b.conv2d(tx, w, **attrs), tw and b.conv2d(x, tw, **attrs)])


@jvp(hl.MaxPool2dOp)
def _max_pool2d(b, op, ts):
    """y = max_pool2d(x): ty = sum over kernel offsets of tx's window element * share (1/count at the max)"""
    shares, _ = max_pool_shares(b, op)
    windows, _ = pool_windows(b, op, ts[0], 0.0)
    return functools.reduce(b.add, [b.mul(share, t) for (_, _, share), (_, _, t) in zip(shares, windows)])


# elementwise: ty = tx * f'(x)
jvp(hl.ExpOp)(_pointwise(lambda b, x, y: y, "y = exp(x): ty = tx * y"))
jvp(hl.LogOp)(_pointwise(lambda b, x, y: b.div(1.0, x), "y = log(x): ty = tx / x"))
jvp(hl.SqrtOp)(_pointwise(lambda b, x, y: b.div(0.5, y), "y = sqrt(x): ty = tx * 0.5 / y"))
jvp(hl.TanhOp)(_pointwise(lambda b, x, y: b.sub(1.0, b.mul(y, y)), "y = tanh(x): ty = tx * (1 - y * y)"))
jvp(hl.SoftplusOp)(_pointwise(lambda b, x, y: b.sigmoid(x), "y = softplus(x): ty = tx * sigmoid(x)"))
jvp(hl.SinOp)(_pointwise(lambda b, x, y: b.cos(x), "y = sin(x): ty = tx * cos(x)"))
jvp(hl.CosOp)(_pointwise(lambda b, x, y: b.neg(b.sin(x)), "y = cos(x): ty = -tx * sin(x)"))
jvp(hl.ErfOp)(
    _pointwise(
        lambda b, x, y: b.mul(b.exp(b.neg(b.mul(x, x))), 2 / math.sqrt(math.pi)),
        "y = erf(x): ty = tx * 2 / sqrt(pi) * exp(-x * x)",
    )
)


# everyday math (issue 12): the derivatives vjp_rules.py tabulates
for _op, (_derivative, _doc) in MATH_DERIVATIVES.items():
    jvp(_op)(_pointwise(_derivative, _doc.replace("f' =", "ty = tx *")))


@jvp(*hl.ROUNDING_OPS)
def _rounding(b, op, ts):
    """y = floor(x), ceil(x), round(x), trunc(x): ty = 0   (piecewise constant, as PyTorch)"""
    return b.full(0.0, op.results[0].type)


@jvp(hl.Atan2Op)
def _atan2(b, op, ts):
    """y = atan2(a, c): ty = (ta * c - tc * a) / (a * a + c * c)"""
    (a, c), (ta, tc) = op.operands, ts
    denominator = b.add(b.mul(a, a), b.mul(c, c))
    return total(b, op, [ta and b.div(b.mul(ta, c), denominator), tc and b.neg(b.div(b.mul(tc, a), denominator))])


@jvp(hl.FmodOp)
def _fmod(b, op, ts):
    """y = fmod(a, c): ty = ta - tc * trunc(a / c)"""
    (a, c), (ta, tc) = op.operands, ts
    return total(b, op, [ta, tc and b.neg(b.mul(tc, b.trunc(b.div(a, c))))])


@jvp(hl.PolygammaOp)
def _polygamma(b, op, ts):
    """y = polygamma(n, x): ty = tx * polygamma(n + 1, x)"""
    return b.mul(ts[0], b.polygamma(op.operands[0], n=op.attr("n") + 1))
