"""`hl-decompose`: rewrite composite hl ops into hl primitives (stage 2).

A composite op (relu, sigmoid, rsqrt, mean, softmax, log_softmax, argsort) has a shape
rule and a numpy reference like every op, and instead of a lowering and
derivative rules one `@decomposition(hl.SomeOp)` rule (`irc/ir/rules.py`)
that writes it with primitives.  It is decomposed twice over: by
`hl-decompose` before lowering, and by autodiff (`decompose_function`)
before differentiating, so its derivatives are those of the primitives:

    relu(x)        = select(x <= 0, 0, x)         (relu'(0) = 0; relu(nan) = nan)
    sigmoid(x)     = select(x > 0, r, e * r)      e = exp(-|x|) <= 1, r = 1 / (1 + e)
    rsqrt(x)       = 1 / sqrt(x)
    mean(x, dims)  = sum(x, dims) / n             (n = 0: nan, as PyTorch)
    m = max(x, dim)    s = x - m    z = sum(exp(s), dim)
    softmax        = exp(s) / z
    log_softmax    = s - log(z)
    argsort(x)     = ranks along the last dim, O(n^2): see `_argsort`  (numpy's sort is the reference)

sigmoid takes exp of -|x| only, so neither it nor its derivative meets an
inf (1 / (1 + exp(-x)) has exp(1000) = inf, and its gradient 0 * inf = nan);
-|x| is built with a select, whose derivative at 0 is -1 or 1, not abs's 0.
softmax and log_softmax subtract the row's max before exp, so large inputs
do not overflow; its cotangent is zero up to rounding (softmax does not
change when x shifts), and ties share it as for any max.  A 0-d tensor is
its own (one-element) row, as in PyTorch: the reductions run over no dims,
so softmax gives 1 and log_softmax 0. The new ops carry the location of the
op they replace.
"""

from __future__ import annotations

import math

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from irc.ir import hl, rules
from irc.ir.rules import decomposition
from irc.transforms.vjp_rules import Emitter
from irc.transforms.widen import Widen16BitFloats, has_16bit_floats


@decomposition(hl.ReluOp)
def _relu(b: Emitter, op: hl.ReluOp) -> SSAValue:
    """relu(x) = select(x <= 0, 0, x): the gradient is 0 at 0 (as PyTorch), nan stays nan."""
    x = op.x
    return b.select(b.compare(x, 0, predicate="le"), 0, x)


@decomposition(hl.SigmoidOp)
def _sigmoid(b: Emitter, op: hl.SigmoidOp) -> SSAValue:
    """sigmoid(x) = 1 / (1 + e) for x > 0, e / (1 + e) else, with e = exp(-|x|) in (0, 1]."""
    x = op.x
    positive = b.compare(x, 0.0, predicate="gt")
    e = b.exp(b.select(positive, b.neg(x), x))
    r = b.div(1.0, b.add(e, 1.0))
    return b.select(positive, r, b.mul(e, r))


@decomposition(hl.RsqrtOp)
def _rsqrt(b: Emitter, op: hl.RsqrtOp) -> SSAValue:
    """rsqrt(x) = 1 / sqrt(x)."""
    return b.div(1.0, b.sqrt(op.x))


@decomposition(hl.MeanOp)
def _mean(b: Emitter, op: hl.MeanOp) -> SSAValue:
    """mean(x, dims) = sum(x, dims) / n; the mean of no elements is nan (as PyTorch), a constant."""
    count = math.prod(hl.shape_of(op.x.type)[d] for d in op.reduced_dims())
    if count == 0:
        return b.full(math.nan, op.result.type)
    return b.div(b.sum(op.x, dims=op.attr("dims"), keepdim=op.attr("keepdim")), float(count))


@decomposition(hl.SoftmaxOp, hl.LogSoftmaxOp)
def _softmax(b: Emitter, op: hl.SoftmaxOp | hl.LogSoftmaxOp) -> SSAValue:
    """softmax / log_softmax -> max, sub, exp, sum, div / log."""
    x = op.x
    if 0 in hl.shape_of(x.type):  # no rows to normalize: the (empty) result is all there is
        return b.full(0.0, op.result.type)
    rank = len(hl.shape_of(x.type))
    dims = (op.attr("dim") % rank,) if rank else ()
    s = b.sub(x, b.max(x, dims=dims, keepdim=True))
    e = b.exp(s)
    z = b.sum(e, dims=dims, keepdim=True)
    if isinstance(op, hl.SoftmaxOp):
        return b.div(e, z)
    return b.sub(s, b.log(z))


@decomposition(hl.ArgsortOp)
def _argsort(b: Emitter, op: hl.ArgsortOp) -> SSAValue:
    """argsort(x) by ranks along the last dim (n long): O(n^2) compares and sums, the first k slots.

    rank_i = sum_j [x_j before x_i or (x_j ties x_i and j < i)],  index_k = sum_i i * [rank_i == k].
    "before" is < (descending: >), with NaN after every number (descending: before) and NaNs tying.
    The ops are emitted in the order the frontend used to record them (sorting.py built this before
    hl.argsort existed), so the compiled code is the same.
    """
    x = op.x
    shape = hl.shape_of(x.type)
    lead, n = shape[:-1], shape[-1]
    k = op.attr("k")
    k = n if k is None else k
    descending = op.attr("descending")
    if x.type.element_type == hl.i1:
        x = b.cast(x, result_type=hl.tensor_type(shape, hl.i32))
    xj = b.reshape(x, shape=(*lead, 1, n))  # x_j: (..., 1, n)
    xi = b.reshape(x, shape=(*lead, n, 1))  # x_i: (..., n, 1)
    before = b.compare(xj, xi, predicate="gt" if descending else "lt")
    ties = None
    if hl.is_float(x.type.element_type):
        if descending:  # NaN x_j comes before a number x_i
            nan_j = b.compare(xj, xj, predicate="ne")
            nan_i = b.compare(xi, xi, predicate="ne")
            before = b.bitwise_or(before, b.bitwise_and(nan_j, b.bitwise_not(nan_i)))
        else:  # a number x_j comes before NaN x_i
            nan_i = b.compare(xi, xi, predicate="ne")
            nan_j = b.compare(xj, xj, predicate="ne")
            before = b.bitwise_or(before, b.bitwise_and(nan_i, b.bitwise_not(nan_j)))
        ties = b.bitwise_or(b.compare(xj, xi, predicate="eq"), b.bitwise_and(nan_i, nan_j))
    else:
        ties = b.compare(xj, xi, predicate="eq")
    square = hl.tensor_type((n, n), hl.i64)
    earlier = b.compare(b.iota(result_type=square, dim=1), b.iota(result_type=square, dim=0), predicate="lt")
    ranked = b.bitwise_or(before, b.bitwise_and(ties, earlier))
    rank = b.sum(b.cast(ranked, result_type=hl.tensor_type(hl.shape_of(ranked.type), hl.i64)), dims=[-1], keepdim=False)
    rank_j = b.reshape(rank, shape=(*lead, 1, n))
    hit = b.compare(rank_j, b.iota(result_type=hl.tensor_type((k, 1), hl.i64), dim=0), predicate="eq")  # (..., k, n)
    hit = b.cast(hit, result_type=hl.tensor_type(hl.shape_of(hit.type), hl.i64))
    return b.sum(b.mul(hit, b.iota(result_type=hl.tensor_type((1, n), hl.i64), dim=1)), dims=[-1], keepdim=False)


def decompose_op(op: Operation) -> tuple[list[Operation], SSAValue] | None:
    """The ops that replace `op` (located at it) and the value that replaces its result; None for a primitive."""
    rule = rules.decomposition.get(op)
    if rule is None:
        return None
    b = Emitter(Block(), op.location)
    result = rule(b, op)
    new_ops = list(b.block.ops)
    for new in new_ops:
        b.block.detach_op(new)
    return new_ops, result


class Decompose(RewritePattern):
    """Replace an op that has a decomposition rule by the ops the rule emits."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        decomposed = decompose_op(op)
        if decomposed is not None:
            new_ops, result = decomposed
            rewriter.replace(op, new_ops, [result])


def decompose_function(fn: func.FuncOp) -> func.FuncOp:
    """`fn` with its composite ops decomposed and its f16 / bf16 ops computing in f32 (as `hl-decompose`):
    a copy, or `fn` itself when it has neither (autodiff's input)."""
    widen = has_16bit_floats(fn)
    if not widen and not any(op in rules.decomposition for op in fn.body.block.ops):
        return fn
    fn = fn.clone()
    if widen:
        PatternRewriteWalker(Widen16BitFloats()).rewrite_region(fn.body)
    PatternRewriteWalker(Decompose()).rewrite_region(fn.body)
    return fn


class HLDecomposePass(ModulePass):
    """Decompose composite hl ops (those with a decomposition rule: relu, sigmoid, softmax, ...) into primitives,
    after making the f32 compute of f16 / bf16 ops explicit (`widen.py`)."""

    name = "hl-decompose"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if has_16bit_floats(op):
            PatternRewriteWalker(Widen16BitFloats()).rewrite_module(op)
        PatternRewriteWalker(Decompose()).rewrite_module(op)
