"""`hl-decompose`: rewrite composite hl ops into hl primitives (stage 2).

Each composite op registers its rule with `@decomposition(hl.SomeOp)`
(`irc/ir/rules.py`); such an op needs no lowering of its own.

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

from irc.ir import hl, rules
from irc.ir.rules import decomposition


@decomposition(hl.SoftmaxOp, hl.LogSoftmaxOp)
def _softmax(op: hl.SoftmaxOp | hl.LogSoftmaxOp) -> list[Operation]:
    """softmax / log_softmax -> max, sub, exp, sum, div / log."""
    x = op.x
    if 0 in hl.shape_of(x.type):  # no rows to normalize: the (empty) result is all there is
        return [hl.FullOp.make([], op.result.type, value=0.0)]
    rank = len(hl.shape_of(x.type))
    dims = (op.attr("dim") % rank,) if rank else ()
    m = hl.MaxOp.make([x], dims=dims, keepdim=True)
    s = hl.SubOp.make([x, m])
    e = hl.ExpOp.make([s])
    z = hl.SumOp.make([e], dims=dims, keepdim=True)
    if isinstance(op, hl.SoftmaxOp):
        return [m, s, e, z, hl.DivOp.make([e, z])]
    log_z = hl.LogOp.make([z])
    return [m, s, e, z, log_z, hl.SubOp.make([s, log_z])]


class Decompose(RewritePattern):
    """Replace an op that has a decomposition rule by the ops the rule returns (the last one gives the result)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        rule = rules.decomposition.get(op)
        if rule is None:
            return
        new_ops = rule(op)
        for new in new_ops:
            new.location = op.location
        rewriter.replace(op, new_ops, [new_ops[-1].results[0]])


class HLDecomposePass(ModulePass):
    """Decompose composite hl ops (those with a decomposition rule: softmax, log_softmax) into primitives."""

    name = "hl-decompose"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(Decompose()).rewrite_module(op)
