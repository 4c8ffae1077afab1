"""`hl-canonicalize`, `hl-cse`, `hl-dce`: simplifications of hl graphs (stage 2).

The canonicalization patterns only fold what is exactly right for every
input (up to the sign of a zero: ``-0.0 + 0.0`` is ``+0.0``):

* ``reshape(reshape(x))`` -> one reshape; ``transpose(transpose(x))`` -> one
  transpose (none when the permutations cancel);
* ``transpose(a @ b)`` (the last two dims, the matmul used only there) ->
  ``b^T @ a^T``, whose transposes then fold or are read in place by the
  matmul's lowering;
* reshape / broadcast_to / cast to the operand's own type -> the operand;
* ``x + 0``, ``0 + x``, ``x - 0``, ``x * 1``, ``1 * x``, ``x / 1`` with a
  splat ``hl.full``/``hl.constant`` -> ``x`` when that keeps the result type
  (a broadcasting constant is kept);
* ops that read or write zero-size tensors (shapes are static, so this is
  decided here, once): a result with no elements -> ``hl.full`` of its type;
  ``sum``/``prod``/``mean`` over no elements -> ``0``/``1``/``nan``; a
  ``matmul`` with k = 0 and a ``conv2d`` with no input channels -> zeros; a
  ``pad`` of an empty tensor -> its fill value; a ``concat`` drops its empty
  operands. No kernel is then left to loop over nothing.

hl ops are Pure, so xDSL's CSE and DCE apply to them unchanged.
"""

from __future__ import annotations

import math

from xdsl.context import Context
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.transforms.common_subexpression_elimination import cse
from xdsl.transforms.dead_code_elimination import dce

from irc.ir import hl
from irc.ir.hl import shape_of


def splat_value(value: SSAValue) -> float | None:
    """The single value of an hl.full or a splat hl.constant, else None."""
    op = value.owner
    if isinstance(op, hl.FullOp):
        return float(op.attr("value"))
    if isinstance(op, hl.ConstantOp) and isinstance(dense := op.attributes["value"], DenseIntOrFPElementsAttr):
        values = set(dense.get_values())
        if len(values) == 1:
            return float(values.pop())
    return None


class FoldReshapeChain(RewritePattern):
    """reshape(reshape(x)) -> reshape(x)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: hl.ReshapeOp, rewriter: PatternRewriter) -> None:
        inner = op.x.owner
        if isinstance(inner, hl.ReshapeOp):
            new = hl.ReshapeOp.make([inner.x], shape=op.attr("shape"))
            new.location = op.location
            rewriter.replace(op, new)


class FoldTransposeChain(RewritePattern):
    """transpose(transpose(x, p), q) -> transpose(x, p[q]); the identity permutation -> x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: hl.TransposeOp, rewriter: PatternRewriter) -> None:
        perm = op.attr("perm")
        if list(perm) == sorted(perm):
            rewriter.replace(op, [], [op.x])
            return
        inner = op.x.owner
        if isinstance(inner, hl.TransposeOp):
            inner_perm = inner.attr("perm")
            new = hl.TransposeOp.make([inner.x], perm=tuple(inner_perm[p] for p in perm))
            new.location = op.location
            rewriter.replace(op, new)


class TransposeMatmulResult(RewritePattern):
    """transpose(a @ b) swapping the last two dims -> b^T @ a^T (the transposes then fold away).

    Only for a matmul used by nothing else, with operands of rank >= 2: a weight
    gradient `(x^T @ g)^T` becomes `g^T @ x`, and no transposed copy of the result is made.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: hl.TransposeOp, rewriter: PatternRewriter) -> None:
        mm = op.x.owner
        if not isinstance(mm, hl.MatmulOp) or len(list(mm.result.uses)) != 1 or not op.is_matrix_transpose:
            return
        if min(len(shape_of(mm.lhs.type)), len(shape_of(mm.rhs.type))) < 2:
            return
        swapped = []
        for x in (mm.rhs, mm.lhs):
            t = hl.TransposeOp.make([x], perm=hl.matrix_transpose_perm(len(shape_of(x.type))))
            t.location = op.location
            swapped.append(t)
        new = hl.MatmulOp.make([s.result for s in swapped])
        new.location = op.location
        rewriter.replace(op, [*swapped, new])


class FoldIdentityOp(RewritePattern):
    """reshape / broadcast_to / cast whose result type is the operand type -> the operand."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, (hl.ReshapeOp, hl.BroadcastToOp, hl.CastOp)) and op.x.type == op.result.type:
            rewriter.replace(op, [], [op.x])


#: op -> (neutral element, may it be on the left?)
NEUTRAL_OPERANDS: dict[type[hl.HLOp], tuple[float, bool]] = {
    hl.AddOp: (0.0, True),
    hl.SubOp: (0.0, False),
    hl.MulOp: (1.0, True),
    hl.DivOp: (1.0, False),
}


class FoldNeutralOperand(RewritePattern):
    """x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1 -> x (when x already has the result type)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if type(op) not in NEUTRAL_OPERANDS:
            return
        neutral, commutes = NEUTRAL_OPERANDS[type(op)]
        candidates = [(op.lhs, op.rhs)] + ([(op.rhs, op.lhs)] if commutes else [])
        for kept, other in candidates:
            if kept.type == op.result.type and splat_value(other) == neutral:
                rewriter.replace(op, [], [kept])
                return


def is_empty(value: SSAValue) -> bool:
    """A tensor with no elements (a dim of size 0)."""
    return 0 in shape_of(value.type)


#: the value of a reduction over no elements (PyTorch's; max and min have none, see hl.check_nonempty_reduction)
EMPTY_REDUCTIONS: dict[type[hl.HLOp], float] = {hl.SumOp: 0.0, hl.ProdOp: 1.0, hl.MeanOp: math.nan}


def empty_fold_value(op: hl.HLOp) -> float | None:
    """The value filling `op`'s result when zero-size tensors make it a constant, else None."""
    if is_empty(op.results[0]):
        return 0.0
    if not any(is_empty(x) for x in op.operands):
        return None
    if type(op) in EMPTY_REDUCTIONS:
        return EMPTY_REDUCTIONS[type(op)]
    if isinstance(op, hl.MatmulOp | hl.Conv2dOp):  # the contracted dim is empty: a sum of nothing
        return 0.0
    if isinstance(op, hl.PadOp):
        return float(op.attr("value"))
    return None


class FoldEmpty(RewritePattern):
    """Ops on zero-size tensors -> hl.full (see the module docstring)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, hl.HLOp) or isinstance(op, hl.FullOp):
            return
        value = empty_fold_value(op)
        if value is not None:
            new = hl.FullOp.make([], op.results[0].type, value=value)
            new.location = op.location
            rewriter.replace(op, new)


class DropEmptyConcatOperands(RewritePattern):
    """concat(a, empty, b) -> concat(a, b); a single operand left is the result."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: hl.ConcatOp, rewriter: PatternRewriter) -> None:
        kept = [x for x in op.inputs if not is_empty(x)]
        if len(kept) == len(op.inputs) or not kept:
            return
        if len(kept) == 1:
            rewriter.replace(op, [], [kept[0]])
            return
        new = hl.ConcatOp.make(kept, dim=op.attr("dim"))
        new.location = op.location
        rewriter.replace(op, new)


CANONICALIZATION_PATTERNS: list[RewritePattern] = [
    FoldReshapeChain(),
    FoldTransposeChain(),
    TransposeMatmulResult(),
    FoldIdentityOp(),
    FoldNeutralOperand(),
    FoldEmpty(),
    DropEmptyConcatOperands(),
]


class HLCanonicalizePass(ModulePass):
    """Fold reshape/transpose chains, identity ops and neutral operands; drops dead ops."""

    name = "hl-canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier(CANONICALIZATION_PATTERNS)).rewrite_module(op)


class HLCSEPass(ModulePass):
    """Common subexpression elimination (xDSL's), for the Pure hl ops."""

    name = "hl-cse"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        cse(op)


class HLDCEPass(ModulePass):
    """Dead code elimination (xDSL's): removes hl ops whose results are unused."""

    name = "hl-dce"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        dce(op)
