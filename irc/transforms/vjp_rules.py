"""Reverse-mode derivative rules (VJPs) of the `hl` ops, one short rule per op,
each registered for its op class with `@vjp(hl.SomeOp)` (see `irc/ir/rules.py`).

A rule gets an `Emitter` (which appends hl ops), the forward op (its operands
and result are values of the gradient function being built) and the
cotangent `g` of the op's result; it returns one cotangent per operand, or
None for an operand that gets no gradient.  Rules are written with hl ops, so
a gradient function is ordinary hl: it lowers like any other function and
can be differentiated again.

Ops with no derivative (`DIFFERENTIABLE = False`: compare, argmax/argmin,
constant, full, iota, ...) have no rule: their results carry no gradient.
Broadcasting is undone in one place, `sum_to`.  Ties: `maximum`/`minimum`
split the gradient evenly between equal operands (as PyTorch does);
`max`/`min` reductions and `max_pool2d` share it evenly among the tied maxima
(PyTorch's `amax` does the same for reductions; its max_pool2d picks one of
them instead).

The helpers below (the emitter, `sum_to`, `dilate`, `unslice`,
`pool_windows`, ...) are also used by the forward-mode rules in
`jvp_rules.py`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import UnknownLoc
from xdsl.ir import Attribute, Block, SSAValue

from irc.ir import hl
from irc.ir.hl import HLOp, is_float, pair, shape_of, tensor_type
from irc.ir.rules import vjp

Operand = SSAValue | float | int


class Emitter:
    """Appends hl ops to a block: `b.mul(x, y)`, `b.sum(x, dims=(0,))`, any hl op by its short name.

    Python numbers among the operands become rank-0 `hl.full`s of the dtype
    of the first non-boolean tensor operand; every op gets `location`.
    """

    def __init__(self, block: Block, location: Attribute | None = None):
        self.block = block
        self.location = location or UnknownLoc()

    def emit(self, op: type[HLOp], *operands: Operand, result_type: Attribute | None = None, **attrs) -> SSAValue:
        element_type = next(
            (o.type.element_type for o in operands if isinstance(o, SSAValue) and o.type.element_type != hl.i1), None
        )
        values = [o if isinstance(o, SSAValue) else self.full(o, tensor_type((), element_type)) for o in operands]
        new = op.make(values, result_type, **attrs)
        new.location = self.location
        self.block.add_op(new)
        return new.results[0]

    def __getattr__(self, short_name: str) -> Callable[..., SSAValue]:
        op = hl.OPS_BY_NAME.get(f"hl.{short_name}")
        if op is None:
            raise AttributeError(f"hl has no op {short_name!r}")
        return functools.partial(self.emit, op)

    def full(self, value: float, type_: Attribute) -> SSAValue:
        return self.emit(
            hl.FullOp, result_type=type_, value=float(value) if is_float(type_.element_type) else int(value)
        )

    def indicator(self, cond: SSAValue, like: SSAValue) -> SSAValue:
        """1.0 where `cond` holds, else 0.0, in the float dtype of `like`."""
        return self.cast(cond, result_type=tensor_type(shape_of(cond.type), like.type.element_type))


# --------------------------------------------------------------------------
# helpers shared by the rules
# --------------------------------------------------------------------------


def sum_to(b: Emitter, g: SSAValue, shape: Sequence[int]) -> SSAValue:
    """Undo numpy broadcasting: sum `g` over the broadcast dims, then reshape to `shape`."""
    gshape = shape_of(g.type)
    if gshape == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    dims = [*range(lead), *(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)]
    if dims:
        g = b.sum(g, dims=dims, keepdim=False)
    return b.reshape(g, shape=tuple(shape)) if shape_of(g.type) != tuple(shape) else g


def keepdims(b: Emitter, v: SSAValue, op: HLOp) -> SSAValue:
    """A reduction's result (or cotangent) reshaped to keep the reduced dims as size 1."""
    shape = hl.reduced_shape(op.short_name, shape_of(op.operands[0].type), op.attr("dims"), True, [])
    return v if shape_of(v.type) == shape else b.reshape(v, shape=shape)


def unreduce(b: Emitter, g: SSAValue, op: HLOp) -> SSAValue:
    """Broadcast a reduction's cotangent back to the shape of its input."""
    shape = shape_of(op.operands[0].type)
    dims = op.reduced_dims()
    if op.attr("keepdim") or dims != tuple(range(len(dims))):  # reduced leading dims broadcast back as they are
        g = keepdims(b, g, op)
    return b.broadcast_to(g, shape=shape)


def mT(b: Emitter, x: SSAValue) -> SSAValue:
    """Swap the last two dims."""
    rank = len(shape_of(x.type))
    return b.transpose(x, perm=(*range(rank - 2), rank - 1, rank - 2))


def safe_log(b: Emitter, x: SSAValue) -> SSAValue:
    """log(x) where x > 0, else 0 (no NaN reaches a gradient, nor a second derivative)."""
    positive = b.compare(x, 0.0, predicate="gt")
    return b.select(positive, b.log(b.select(positive, x, 1.0)), 0.0)


def tie_weight(b: Emitter, a: SSAValue, c: SSAValue, predicate: str) -> SSAValue:
    """1 where `a predicate c` (a wins), 0.5 where equal, 0 elsewhere: a's share of maximum/minimum."""
    wins = b.indicator(b.compare(a, c, predicate=predicate), a)
    return b.add(wins, b.mul(b.indicator(b.compare(a, c, predicate="eq"), a), 0.5))


def extremum_share(b: Emitter, op: HLOp) -> SSAValue:
    """For max/min reductions: 1/count at each (tied) extremum of x, 0 elsewhere (x's shape)."""
    x, y = op.operands[0], op.results[0]
    mask = b.indicator(b.compare(x, keepdims(b, y, op), predicate="eq"), x)
    return b.div(mask, b.sum(mask, dims=op.attr("dims"), keepdim=True))


def prod_of_others(b: Emitter, op: HLOp) -> SSAValue:
    """d prod / d x_i: the product of the other reduced elements, exact when x has zeros."""
    x, y = op.operands[0], op.results[0]
    dims = op.attr("dims")
    zero = b.compare(x, 0.0, predicate="eq")
    nonzero_x = b.select(zero, 1.0, x)
    zeros = b.sum(b.indicator(zero, x), dims=dims, keepdim=True)
    only_zero = b.select(b.compare(zeros, 1.0, predicate="eq"), b.prod(nonzero_x, dims=dims, keepdim=True), 0.0)
    return b.select(zero, only_zero, b.div(keepdims(b, y, op), nonzero_x))


def dilate(b: Emitter, x: SSAValue, strides: Sequence[int]) -> SSAValue:
    """Insert `stride - 1` zeros between neighbours along every dim (length (n - 1) * s + 1)."""
    for d, s in enumerate(strides):
        shape = shape_of(x.type)
        n = shape[d]
        if s == 1 or n <= 1:
            continue
        x = b.reshape(x, shape=(*shape[: d + 1], 1, *shape[d + 1 :]))
        high = [0] * (len(shape) + 1)
        high[d + 1] = s - 1
        x = b.pad(x, low=(0,) * (len(shape) + 1), high=high)
        x = b.reshape(x, shape=(*shape[:d], n * s, *shape[d + 1 :]))
        stop = list(shape)
        stop[d] = (n - 1) * s + 1
        x = b.slice(x, start=(0,) * len(shape), stop=stop, step=(1,) * len(shape))
    return x


def unslice(b: Emitter, g: SSAValue, start: Sequence[int], step: Sequence[int], shape: Sequence[int]) -> SSAValue:
    """Place `g` at the positions x[start::step] of a zero tensor of `shape` (the transpose of hl.slice)."""
    if 0 in shape_of(g.type):
        return b.full(0.0, tensor_type(shape, g.type.element_type))
    g = dilate(b, g, step)
    high = [n - a - m for n, a, m in zip(shape, start, shape_of(g.type))]
    return b.pad(g, low=tuple(start), high=high) if any(start) or any(high) else g


def unpad(b: Emitter, x: SSAValue, low: Sequence[int], shape: Sequence[int]) -> SSAValue:
    """x[low : low + shape] (drop padding)."""
    if shape_of(x.type) == tuple(shape):
        return x
    stop = [a + n for a, n in zip(low, shape)]
    return b.slice(x, start=tuple(low), stop=stop, step=(1,) * len(shape))


def conv2d_input_grad(
    b: Emitter, g: SSAValue, w: SSAValue, in_shape: Sequence[int], stride, padding, dilation, groups: int
) -> SSAValue:
    """The transposed convolution: the cotangent of conv2d's input, given the output cotangent `g`.

    `g` is dilated by the stride and padded so that a stride-1 conv2d with the
    spatially flipped, in/out-transposed weight yields the input's cotangent.
    The padding is that of the "full" correlation over the padded input less
    the forward padding, so no border that is cut off later is computed; where
    the forward padding exceeds the kernel's reach (a pad below zero) the full
    correlation is computed and its border cut off.
    """
    n, c, h, wd = in_shape
    o, cg, kh, kw = shape_of(w.type)
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    oh, ow = shape_of(g.type)[2:]
    rem_h = h + 2 * ph - ((oh - 1) * sh + dh * (kh - 1) + 1)
    rem_w = wd + 2 * pw - ((ow - 1) * sw + dw * (kw - 1) + 1)
    reach_h, reach_w = dh * (kh - 1), dw * (kw - 1)
    crop = (0, 0, ph, pw) if min(reach_h - ph, reach_w - pw) < 0 else (0, 0, 0, 0)
    low = (0, 0, reach_h - ph + crop[2], reach_w - pw + crop[3])
    high = (0, 0, reach_h + rem_h - ph + crop[2], reach_w + rem_w - pw + crop[3])
    gp = dilate(b, g, (1, 1, sh, sw))
    if any(low) or any(high):
        gp = b.pad(gp, low=low, high=high)
    wt = b.reshape(w, shape=(groups, o // groups, cg, kh, kw))
    wt = b.reshape(b.transpose(wt, perm=(0, 2, 1, 3, 4)), shape=(c, o // groups, kh, kw))
    dxp = b.conv2d(gp, b.flip(wt, dims=(2, 3)), stride=(1, 1), padding=(0, 0), dilation=(dh, dw), groups=groups)
    return unpad(b, dxp, crop, in_shape)


def conv2d_weight_grad(b: Emitter, g: SSAValue, x: SSAValue, w_shape, stride, padding, dilation, groups: int):
    """The cotangent of conv2d's weight: a conv2d over the batch.

    Input channels become the batch and the batch becomes (per group) the
    channels; the output cotangent is the kernel, the forward stride is the
    dilation and the forward dilation the stride.
    """
    n, c, h, wd = shape_of(x.type)
    o, cg, kh, kw = w_shape
    xt = b.reshape(x, shape=(n, groups, cg, h, wd))
    xt = b.reshape(b.transpose(xt, perm=(2, 1, 0, 3, 4)), shape=(cg, groups * n, h, wd))
    gt = b.transpose(g, perm=(1, 0, 2, 3))
    dw = b.conv2d(xt, gt, stride=pair(dilation), padding=pair(padding), dilation=pair(stride), groups=groups)
    return b.transpose(unpad(b, dw, (0, 0, 0, 0), (cg, o, kh, kw)), perm=(1, 0, 2, 3))


def pool_windows(b: Emitter, op: HLOp, x: SSAValue, pad_value: float) -> tuple[list, tuple[int, ...]]:
    """The pooling windows of `op` laid over `x`, one kernel offset at a time.

    Returns ([(start, step, window)], padded shape): for each kernel offset
    (i, j), `window` = padded_x[start::step] holds the element at that offset of
    every pooling window (it has the pool result's shape).
    """
    n, c, h, wd = shape_of(x.type)
    (kh, kw), (sh, sw), (ph, pw) = (pair(op.attr(k)) for k in ("kernel", "stride", "padding"))
    oh, ow = shape_of(op.results[0].type)[2:]
    if ph or pw:
        x = b.pad(x, low=(0, 0, ph, pw), high=(0, 0, ph, pw), value=pad_value)
    windows = []
    for i in range(kh):
        for j in range(kw):
            start, step = (0, 0, i, j), (1, 1, sh, sw)
            stop = (n, c, i + sh * (oh - 1) + 1, j + sw * (ow - 1) + 1)
            windows.append((start, step, b.slice(x, start=start, stop=stop, step=step)))
    return windows, shape_of(x.type)


def max_pool_shares(b: Emitter, op: HLOp) -> tuple[list, tuple[int, ...]]:
    """Like `pool_windows`, with each window replaced by its share of the gradient:
    1/count where the element is its window's (tied) max, else 0."""
    x, y = op.operands[0], op.results[0]
    lowest = float(np.finfo(hl.numpy_dtype(x.type.element_type)).min)
    windows, padded_shape = pool_windows(b, op, x, lowest)
    masks = [b.indicator(b.compare(win, y, predicate="eq"), y) for _, _, win in windows]
    count = functools.reduce(b.add, masks)
    return [(start, step, b.div(mask, count)) for (start, step, _), mask in zip(windows, masks)], padded_shape


def tiled_max_pool_grad(b: Emitter, x: SSAValue, y: SSAValue, g: SSAValue, kernel: tuple[int, int]) -> SSAValue:
    """max_pool2d's input cotangent when the windows tile the input (stride = kernel, no padding).

    x (cut to the tiled rows/columns) is viewed as (n, c, oh, kh, ow, kw), so every
    window is a (kh, kw) block and the rule is elementwise with broadcasts of y and g:
    dx = (x == y) * g / count, count = the number of tied maxima in the window.
    """
    n, c, h, wd = shape_of(x.type)
    (kh, kw), (oh, ow) = kernel, shape_of(y.type)[2:]
    tiled = unpad(b, x, (0, 0, 0, 0), (n, c, oh * kh, ow * kw))
    blocks = b.reshape(tiled, shape=(n, c, oh, kh, ow, kw))
    mask = b.indicator(b.compare(blocks, b.reshape(y, shape=(n, c, oh, 1, ow, 1)), predicate="eq"), y)
    count = b.sum(mask, dims=(3, 5), keepdim=True)
    share = b.div(b.reshape(g, shape=(n, c, oh, 1, ow, 1)), count)
    dx = b.reshape(b.mul(mask, share), shape=(n, c, oh * kh, ow * kw))
    if (oh * kh, ow * kw) != (h, wd):  # rows/columns no window covers get no gradient
        dx = b.pad(dx, low=(0, 0, 0, 0), high=(0, 0, h - oh * kh, wd - ow * kw))
    return dx


# --------------------------------------------------------------------------
# the rules
# --------------------------------------------------------------------------

#: a VJP rule: (emitter, forward op, cotangent of its result) -> one cotangent (or None) per operand
Rule = Callable[[Emitter, HLOp, SSAValue], Sequence[SSAValue | None]]


@vjp(hl.NegOp)
def _neg(b, op, g):
    """Forward: y = -x
    Backward: dx = -g"""
    return [b.neg(g)]


@vjp(hl.AbsOp)
def _abs(b, op, g):
    """Forward: y = |x|
    Backward: dx = g * sign(x)   (0 at x = 0, like PyTorch)"""
    (x,) = op.operands
    return [b.select(b.compare(x, 0.0, predicate="gt"), g, b.select(b.compare(x, 0.0, predicate="lt"), b.neg(g), 0.0))]


@vjp(hl.ExpOp)
def _exp(b, op, g):
    """Forward: y = exp(x)
    Backward: dx = g * y"""
    return [b.mul(g, op.result)]


@vjp(hl.LogOp)
def _log(b, op, g):
    """Forward: y = log(x)
    Backward: dx = g / x"""
    return [b.div(g, op.operands[0])]


@vjp(hl.SqrtOp)
def _sqrt(b, op, g):
    """Forward: y = sqrt(x)
    Backward: dx = g * 0.5 / y"""
    return [b.div(b.mul(g, 0.5), op.result)]


@vjp(hl.TanhOp)
def _tanh(b, op, g):
    """Forward: y = tanh(x)
    Backward: dx = g * (1 - y * y)"""
    y = op.result
    return [b.mul(g, b.sub(1.0, b.mul(y, y)))]


@vjp(hl.SinOp)
def _sin(b, op, g):
    """Forward: y = sin(x)
    Backward: dx = g * cos(x)"""
    return [b.mul(g, b.cos(op.operands[0]))]


@vjp(hl.CosOp)
def _cos(b, op, g):
    """Forward: y = cos(x)
    Backward: dx = -g * sin(x)"""
    return [b.neg(b.mul(g, b.sin(op.operands[0])))]


@vjp(hl.ErfOp)
def _erf(b, op, g):
    """Forward: y = erf(x)
    Backward: dx = g * 2 / sqrt(pi) * exp(-x * x)"""
    (x,) = op.operands
    return [b.mul(b.mul(g, 2 / math.sqrt(math.pi)), b.exp(b.neg(b.mul(x, x))))]


@vjp(hl.SoftplusOp)
def _softplus(b, op, g):
    """Forward: y = softplus(x)
    Backward: dx = g * sigmoid(x)"""
    return [b.mul(g, b.sigmoid(op.operands[0]))]


@vjp(hl.CastOp)
def _cast(b, op, g):
    """Forward: y = cast(x)
    Backward: dx = cast(g) back to x's dtype (none for an integer x)"""
    (x,) = op.operands
    return [b.cast(g, result_type=x.type) if is_float(x.type.element_type) else None]


@vjp(hl.AddOp)
def _add(b, op, g):
    """Forward: y = a + c
    Backward: da = g, dc = g   (summed to each operand's shape)"""
    a, c = op.operands
    return [sum_to(b, g, shape_of(a.type)), sum_to(b, g, shape_of(c.type))]


@vjp(hl.SubOp)
def _sub(b, op, g):
    """Forward: y = a - c
    Backward: da = g, dc = -g"""
    a, c = op.operands
    return [sum_to(b, g, shape_of(a.type)), sum_to(b, b.neg(g), shape_of(c.type))]


@vjp(hl.MulOp)
def _mul(b, op, g):
    """Forward: y = a * c
    Backward: da = g * c, dc = g * a"""
    a, c = op.operands
    return [sum_to(b, b.mul(g, c), shape_of(a.type)), sum_to(b, b.mul(g, a), shape_of(c.type))]


@vjp(hl.DivOp)
def _div(b, op, g):
    """Forward: y = a / c
    Backward: da = g / c, dc = -g * y / c"""
    a, c = op.operands
    da = b.div(g, c)
    return [sum_to(b, da, shape_of(a.type)), sum_to(b, b.neg(b.mul(da, op.result)), shape_of(c.type))]


@vjp(hl.FloorDivideOp)
def _floor_divide(b, op, g):
    """Forward: y = a // c
    Backward: da = 0, dc = 0   (piecewise constant, like floor)"""
    return [None, None]


@vjp(hl.PowOp)
def _pow(b, op, g):
    """Forward: y = a ** c
    Backward: da = g * c * a ** (c - 1), 0 where c == 0 (PyTorch's: x ** 0 has gradient 0, also at x = 0,
    where a ** (c - 1) is inf); dc = g * y * log(a)   (log(a) taken as 0 where a <= 0)"""
    a, c = op.operands
    da = b.select(b.compare(c, 0.0, predicate="eq"), 0.0, b.mul(b.mul(g, c), b.pow(a, b.sub(c, 1.0))))
    dc = b.mul(b.mul(g, op.result), safe_log(b, a))
    return [sum_to(b, da, shape_of(a.type)), sum_to(b, dc, shape_of(c.type))]


def _extremum(predicate: str, doc: str) -> Rule:
    def rule(b, op, g):
        a, c = op.operands
        share = tie_weight(b, a, c, predicate)
        da = b.mul(g, share)
        return [sum_to(b, da, shape_of(a.type)), sum_to(b, b.sub(g, da), shape_of(c.type))]

    rule.__doc__ = doc
    return rule


vjp(hl.MaximumOp)(
    _extremum(
        "gt",
        """Forward: y = maximum(a, c)
    Backward: da = g * w, dc = g * (1 - w), w = 1 where a > c, 1/2 where a == c, else 0""",
    )
)
vjp(hl.MinimumOp)(
    _extremum(
        "lt",
        """Forward: y = minimum(a, c)
    Backward: da = g * w, dc = g * (1 - w), w = 1 where a < c, 1/2 where a == c, else 0""",
    )
)


@vjp(hl.SelectOp)
def _select(b, op, g):
    """Forward: y = where(cond, a, c)
    Backward: dcond = none, da = where(cond, g, 0), dc = where(cond, 0, g)"""
    cond, a, c = op.operands
    return [
        None,
        sum_to(b, b.select(cond, g, 0.0), shape_of(a.type)),
        sum_to(b, b.select(cond, 0.0, g), shape_of(c.type)),
    ]


@vjp(hl.SumOp)
def _sum(b, op, g):
    """Forward: y = sum(x, dims)
    Backward: dx = broadcast(g) to x's shape"""
    return [unreduce(b, g, op)]


@vjp(hl.MaxOp, hl.MinOp)
def _max_min(b, op, g):
    """Forward: y = max(x, dims)  (or min)
    Backward: dx = g / count at the positions equal to y (count of them), 0 elsewhere"""
    return [b.mul(keepdims(b, g, op), extremum_share(b, op))]


@vjp(hl.ProdOp)
def _prod(b, op, g):
    """Forward: y = prod(x, dims)
    Backward: dx = g * (product of the other elements)   (exact with zeros in x)"""
    return [b.mul(keepdims(b, g, op), prod_of_others(b, op))]


@vjp(hl.ReshapeOp)
def _reshape(b, op, g):
    """Forward: y = reshape(x, shape)
    Backward: dx = reshape(g, x.shape)"""
    return [b.reshape(g, shape=shape_of(op.operands[0].type))]


@vjp(hl.TransposeOp)
def _transpose(b, op, g):
    """Forward: y = transpose(x, perm)
    Backward: dx = transpose(g, inverse(perm))"""
    return [b.transpose(g, perm=tuple(int(i) for i in np.argsort(op.attr("perm"))))]


@vjp(hl.FlipOp)
def _flip(b, op, g):
    """Forward: y = flip(x, dims)
    Backward: dx = flip(g, dims)"""
    return [b.flip(g, dims=op.attr("dims"))]


@vjp(hl.BroadcastToOp)
def _broadcast_to(b, op, g):
    """Forward: y = broadcast_to(x, shape)
    Backward: dx = g summed to x's shape"""
    return [sum_to(b, g, shape_of(op.operands[0].type))]


@vjp(hl.SliceOp)
def _slice(b, op, g):
    """Forward: y = x[start:stop:step]
    Backward: dx = zeros(x.shape) with dx[start:stop:step] = g   (dilate by step, pad)"""
    return [unslice(b, g, op.attr("start"), op.attr("step"), shape_of(op.operands[0].type))]


@vjp(hl.GatherOp)
def _gather(b, op, g):
    """Forward: y = gather(x, index, dim)
    Backward: dx[.., k, ..] = sum_j g[.., j, ..] * (index[.., j, ..] == k)   (a scatter-add);
              an index spread from one row (index_select, embedding): dx = scatter(0, index, g, dim, sum),
              which hl.scatter lowers as a one-hot contraction (a matmul) and the numpy reference adds
              with np.add.at, linear in the index (a one-hot matrix of n * J was built before);
              other indices: a compare-select summed over j (compiled, 1.5x faster than hl.scatter's loop)"""
    x, index = op.operands
    shape, ishape = shape_of(x.type), shape_of(index.type)
    if not shape:
        return [g, None]
    dim = op.attr("dim") % len(shape)
    if all(n == 1 for d, n in enumerate(ishape) if d != dim):  # one index row for all: index_select, embedding
        return [b.scatter(b.full(0.0, x.type), index, g, dim=dim, reduce="sum"), None]
    gshape = shape_of(g.type)
    ks = b.iota(
        result_type=tensor_type(
            [shape[dim] if d == dim + 1 else 1 for d in range(len(shape) + 1)], index.type.element_type
        ),
        dim=dim + 1,
    )
    hit = b.compare(b.reshape(index, shape=(*ishape[: dim + 1], 1, *ishape[dim + 1 :])), ks, predicate="eq")
    rows = b.reshape(g, shape=(*gshape[: dim + 1], 1, *gshape[dim + 1 :]))  # j, then a unit k
    return [b.sum(b.select(hit, rows, 0.0), dims=(dim,), keepdim=False), None]


def scatter_shares(b: Emitter, op: HLOp) -> tuple[SSAValue, SSAValue]:
    """For an amax/amin scatter: the shares of x and of src in each result element, 1/count at the
    (tied) extrema that made it, 0 elsewhere (x's and src's shapes), as torch spreads the gradient."""
    x, index, src = op.operands
    y, dim = op.results[0], op.attr("dim")
    x_hit = b.indicator(b.compare(x, y, predicate="eq"), x)
    src_hit = b.indicator(b.compare(src, b.gather(y, index, dim=dim), predicate="eq"), src)
    count = b.scatter(x_hit, index, src_hit, dim=dim, reduce="sum")
    return b.div(x_hit, count), b.mul(src_hit, b.gather(b.div(1.0, count), index, dim=dim))


def scatter_prod_of_others(b: Emitter, op: HLOp) -> tuple[SSAValue, SSAValue]:
    """For a prod scatter: d y / d x and d y / d src, each element's product of the others combined into
    its result element, exact with zeros (x's and src's shapes)."""
    x, index, src = op.operands
    dim = op.attr("dim")
    x_zero, src_zero = b.compare(x, 0.0, predicate="eq"), b.compare(src, 0.0, predicate="eq")
    zeros = b.scatter(b.indicator(x_zero, x), index, b.indicator(src_zero, src), dim=dim, reduce="sum")
    x_nonzero, src_nonzero = b.select(x_zero, 1.0, x), b.select(src_zero, 1.0, src)
    nonzero_prod = b.scatter(x_nonzero, index, src_nonzero, dim=dim, reduce="prod")

    def others(is_zero, nonzero, count, product):
        only_zero = b.select(b.compare(count, 1.0, predicate="eq"), product, 0.0)
        no_zero = b.select(b.compare(count, 0.0, predicate="eq"), b.div(product, nonzero), 0.0)
        return b.select(is_zero, only_zero, no_zero)

    return (
        others(x_zero, x_nonzero, zeros, nonzero_prod),
        others(src_zero, src_nonzero, b.gather(zeros, index, dim=dim), b.gather(nonzero_prod, index, dim=dim)),
    )


@vjp(hl.ScatterOp)
def _scatter(b, op, g):
    """Forward: y = scatter(x, index, src, dim, reduce)
    Backward: sum:       dx = g,             dsrc = gather(g, index, dim)
              amax/amin: dx = g * share_x,   dsrc = gather(g, index, dim) * share_src   (ties share evenly)
              prod:      dx = g * others_x,  dsrc = gather(g, index, dim) * others_src  (the product of the others)"""
    g_src = b.gather(g, op.operands[1], dim=op.attr("dim"))
    reduce = op.attr("reduce")
    if reduce == "sum":
        return [g, None, g_src]
    x_share, src_share = scatter_prod_of_others(b, op) if reduce == "prod" else scatter_shares(b, op)
    return [b.mul(g, x_share), None, b.mul(g_src, src_share)]


@vjp(hl.ConcatOp)
def _concat(b, op, g):
    """Forward: y = concat(x_0, x_1, ..., dim)
    Backward: dx_i = g[..., offset_i : offset_i + n_i, ...]"""
    shapes = [shape_of(x.type) for x in op.operands]
    dim = op.attr("dim") % len(shapes[0])
    grads, offset = [], 0
    for shape in shapes:
        low = [0] * len(shape)
        low[dim] = offset
        grads.append(unpad(b, g, low, shape))
        offset += shape[dim]
    return grads


@vjp(hl.PadOp)
def _pad(b, op, g):
    """Forward: y = pad(x, low, high, value)
    Backward: dx = g[low : low + x.shape]"""
    return [unpad(b, g, op.attr("low"), shape_of(op.operands[0].type))]


@vjp(hl.MatmulOp)
def _matmul(b, op, g):
    """Forward: y = a @ c   (batch dims broadcast)
    Backward: da = g @ c^T, dc = a^T @ g   (summed over broadcast batch dims)"""
    a, c = op.operands
    return [sum_to(b, b.matmul(g, mT(b, c)), shape_of(a.type)), sum_to(b, b.matmul(mT(b, a), g), shape_of(c.type))]


@vjp(hl.Conv2dOp)
def _conv2d(b, op, g):
    """Forward: y = conv2d(x, w, stride, padding, dilation, groups)
    Backward: dx = conv2d(pad(dilate(g, stride)), flip(w^T), dilation)   (the transposed conv)
              dw = conv2d(x^T, g^T, stride=dilation, padding, dilation=stride)   (over the batch)"""
    x, w = op.operands
    attrs = [op.attr(k) for k in ("stride", "padding", "dilation", "groups")]
    return [
        conv2d_input_grad(b, g, w, shape_of(x.type), *attrs),
        conv2d_weight_grad(b, g, x, shape_of(w.type), *attrs),
    ]


@vjp(hl.MaxPool2dOp)
def _max_pool2d(b, op, g):
    """Forward: y = max_pool2d(x, kernel, stride, padding)
    Backward: dx = sum over kernel offsets of g / count placed where the window element equals y"""
    x = op.operands[0]
    if op.attr("stride") == op.attr("kernel") and not any(pair(op.attr("padding"))):
        return [tiled_max_pool_grad(b, x, op.result, g, pair(op.attr("kernel")))]
    shares, padded_shape = max_pool_shares(b, op)
    parts = [unslice(b, b.mul(g, share), start, step, padded_shape) for start, step, share in shares]
    (ph, pw) = pair(op.attr("padding"))
    return [unpad(b, functools.reduce(b.add, parts), (0, 0, ph, pw), shape_of(x.type))]


@vjp(hl.AvgPool2dOp)
def _avg_pool2d(b, op, g):
    """Forward: y = avg_pool2d(x, kernel, stride, padding)   (a depthwise conv with weight 1/(kh*kw))
    Backward: dx = the transposed conv of g with that weight"""
    x = op.operands[0]
    c = shape_of(x.type)[1]
    kh, kw = pair(op.attr("kernel"))
    w = b.full(1.0 / (kh * kw), tensor_type((c, 1, kh, kw), x.type.element_type))
    return [conv2d_input_grad(b, g, w, shape_of(x.type), op.attr("stride"), op.attr("padding"), (1, 1), c)]


# --------------------------------------------------------------------------
# everyday math (issue 12): elementwise ops given by their derivative f'(x, y) (shared with jvp_rules.py)
# --------------------------------------------------------------------------

_LN2, _LN10 = math.log(2.0), math.log(10.0)

#: op -> (f'(b, x, y), "y = f(x): f'(x) = ...") for the VJP dx = g * f'(x) and the JVP ty = tx * f'(x)
MATH_DERIVATIVES: dict[type[HLOp], tuple[Callable[[Emitter, SSAValue, SSAValue], SSAValue], str]] = {
    hl.Log1pOp: (lambda b, x, y: b.div(1.0, b.add(x, 1.0)), "y = log1p(x): f' = 1 / (1 + x)"),
    hl.Expm1Op: (lambda b, x, y: b.add(y, 1.0), "y = expm1(x): f' = y + 1"),
    hl.Log2Op: (lambda b, x, y: b.div(1.0, b.mul(x, _LN2)), "y = log2(x): f' = 1 / (x ln 2)"),
    hl.Log10Op: (lambda b, x, y: b.div(1.0, b.mul(x, _LN10)), "y = log10(x): f' = 1 / (x ln 10)"),
    hl.Exp2Op: (lambda b, x, y: b.mul(y, _LN2), "y = exp2(x): f' = y ln 2"),
    hl.TanOp: (lambda b, x, y: b.add(b.mul(y, y), 1.0), "y = tan(x): f' = 1 + y * y"),
    hl.AsinOp: (lambda b, x, y: b.rsqrt(b.sub(1.0, b.mul(x, x))), "y = asin(x): f' = 1 / sqrt(1 - x * x)"),
    hl.AcosOp: (lambda b, x, y: b.neg(b.rsqrt(b.sub(1.0, b.mul(x, x)))), "y = acos(x): f' = -1 / sqrt(1 - x * x)"),
    hl.AtanOp: (lambda b, x, y: b.div(1.0, b.add(b.mul(x, x), 1.0)), "y = atan(x): f' = 1 / (1 + x * x)"),
    hl.SinhOp: (lambda b, x, y: b.cosh(x), "y = sinh(x): f' = cosh(x)"),
    hl.CoshOp: (lambda b, x, y: b.sinh(x), "y = cosh(x): f' = sinh(x)"),
    hl.AsinhOp: (lambda b, x, y: b.rsqrt(b.add(b.mul(x, x), 1.0)), "y = asinh(x): f' = 1 / sqrt(x * x + 1)"),
    hl.AcoshOp: (lambda b, x, y: b.rsqrt(b.sub(b.mul(x, x), 1.0)), "y = acosh(x): f' = 1 / sqrt(x * x - 1)"),
    hl.AtanhOp: (lambda b, x, y: b.div(1.0, b.sub(1.0, b.mul(x, x))), "y = atanh(x): f' = 1 / (1 - x * x)"),
}


def sign(b: Emitter, x: SSAValue) -> SSAValue:
    """1, -1 or 0 (also for nan) in x's dtype."""
    return b.sub(b.indicator(b.compare(x, 0.0, predicate="gt"), x), b.indicator(b.compare(x, 0.0, predicate="lt"), x))


def _i1e_derivative(b: Emitter, x: SSAValue, y: SSAValue) -> SSAValue:
    """i0e(x) - y (sign(x) + 1 / x), and its limit 1/2 where |x| <= the dtype's eps (torch's rule)."""
    eps = float(np.finfo(hl.numpy_dtype(x.type.element_type)).eps)
    tiny = b.compare(b.abs(x), eps, predicate="le")
    safe = b.select(tiny, 1.0, x)
    return b.select(tiny, 0.5, b.sub(b.i0e(x), b.mul(y, b.add(sign(b, x), b.div(1.0, safe)))))


# special functions (irc/ir/special_functions.py)
MATH_DERIVATIVES |= {
    hl.LgammaOp: (lambda b, x, y: b.polygamma(x), "y = lgamma(x): f' = digamma(x) = polygamma(0, x)"),
    hl.ErfinvOp: (lambda b, x, y: b.mul(b.exp(b.mul(y, y)), math.sqrt(math.pi) / 2), "y = erfinv(x): f' = sqrt(pi) / 2 * exp(y * y)"),
    hl.NdtriOp: (lambda b, x, y: b.mul(b.exp(b.mul(b.mul(y, y), 0.5)), math.sqrt(2 * math.pi)), "y = ndtri(x): f' = sqrt(2 pi) * exp(y * y / 2)"),
    hl.I0eOp: (lambda b, x, y: b.sub(b.i1e(x), b.mul(sign(b, x), y)), "y = i0e(x): f' = i1e(x) - sign(x) * y"),
    hl.I1eOp: (_i1e_derivative, "y = i1e(x): f' = i0e(x) - y * (sign(x) + 1 / x), 1/2 at 0"),
}  # fmt: skip


def _math_vjp(derivative, doc: str) -> Rule:
    def rule(b, op, g):
        return [b.mul(g, derivative(b, op.operands[0], op.result))]

    rule.__doc__ = f"Forward: {doc.split(':')[0]}\n    Backward: dx = g * f'(x),{doc.split(':', 1)[1]}"
    return rule


for _op, (_derivative, _doc) in MATH_DERIVATIVES.items():
    vjp(_op)(_math_vjp(_derivative, _doc))


@vjp(*hl.ROUNDING_OPS)
def _rounding(b, op, g):
    """Forward: y = floor(x), ceil(x), round(x), trunc(x)
    Backward: dx = 0   (piecewise constant: PyTorch's zero gradient, also at the jumps)"""
    return [b.full(0.0, op.operands[0].type)]


@vjp(hl.Atan2Op)
def _atan2(b, op, g):
    """Forward: y = atan2(a, c)
    Backward: da = g * c / (a * a + c * c), dc = -g * a / (a * a + c * c)"""
    a, c = op.operands
    scale = b.div(g, b.add(b.mul(a, a), b.mul(c, c)))
    return [sum_to(b, b.mul(scale, c), shape_of(a.type)), sum_to(b, b.neg(b.mul(scale, a)), shape_of(c.type))]


@vjp(hl.FmodOp)
def _fmod(b, op, g):
    """Forward: y = fmod(a, c) = a - trunc(a / c) * c
    Backward: da = g, dc = -g * trunc(a / c)"""
    a, c = op.operands
    return [sum_to(b, g, shape_of(a.type)), sum_to(b, b.neg(b.mul(g, b.trunc(b.div(a, c)))), shape_of(c.type))]


@vjp(hl.PolygammaOp)
def _polygamma(b, op, g):
    """Forward: y = polygamma(n, x)   (n = 0: digamma)
    Backward: dx = g * polygamma(n + 1, x)"""
    return [b.mul(g, b.polygamma(op.operands[0], n=op.attr("n") + 1))]
