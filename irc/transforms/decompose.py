"""`hl-decompose`: rewrite composite hl ops into hl primitives (stage 2).

softmax and log_softmax become the numerically stable sequence (the max is
subtracted before exp, so large inputs do not overflow)::

    m = max(x, dim, keepdim)    s = x - m    e = exp(s)    z = sum(e, dim, keepdim)
    softmax     = e / z
    log_softmax = s - log(z)

A 0-d tensor is its own (one-element) row, as in PyTorch: the reductions
run over no dims, so softmax gives 1 and log_softmax 0. The new ops carry
the location of the op they replace.
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from irc.ir import hl


class DecomposeSoftmax(RewritePattern):
    """softmax / log_softmax -> max, sub, exp, sum, div / log."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, (hl.SoftmaxOp, hl.LogSoftmaxOp)):
            return
        x = op.x
        if 0 in hl.shape_of(x.type):  # no rows to normalize: the (empty) result is all there is
            empty = hl.FullOp.make([], op.result.type, value=0.0)
            empty.location = op.location
            rewriter.replace(op, empty)
            return
        rank = len(hl.shape_of(x.type))
        dims = (op.attr("dim") % rank,) if rank else ()
        m = hl.MaxOp.make([x], dims=dims, keepdim=True)
        s = hl.SubOp.make([x, m])
        e = hl.ExpOp.make([s])
        z = hl.SumOp.make([e], dims=dims, keepdim=True)
        if isinstance(op, hl.SoftmaxOp):
            tail = [hl.DivOp.make([e, z])]
        else:
            log_z = hl.LogOp.make([z])
            tail = [log_z, hl.SubOp.make([s, log_z])]
        new_ops = [m, s, e, z, *tail]
        for new in new_ops:
            new.location = op.location
        rewriter.replace(op, new_ops, [tail[-1].results[0]])


class HLDecomposePass(ModulePass):
    """Decompose composite hl ops (softmax, log_softmax) into primitives."""

    name = "hl-decompose"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(DecomposeSoftmax()).rewrite_module(op)
