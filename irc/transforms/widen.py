"""16-bit floats compute in f32: the first rewrite of `hl-decompose` (stage 2).

An hl op on f16 or bf16 computes in f32 and rounds its result once (PyTorch's
CPU kernels do the same; `hl.evaluate_op` is the reference). This rewrite makes
that explicit, so that the stages below see f16 / bf16 only in storage and in
`hl.cast`s to and from f32:

    %r = hl.add %a, %b : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xf16>
      ==>
    %a32 = hl.cast %a : (tensor<4xf16>) -> tensor<4xf32>
    %b32 = hl.cast %b : (tensor<4xf16>) -> tensor<4xf32>
    %r32 = hl.add %a32, %b32 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %r = hl.cast %r32 : (tensor<4xf32>) -> tensor<4xf16>

A cast between a 16-bit float and anything but f32 goes through f32 too (as
PyTorch's conversions do: f64 -> f16 rounds twice), and a 16-bit constant
becomes an f32 constant and a cast. It runs before the composites are
decomposed, so softmax, mean, ... of f16 round once, as in PyTorch.
"""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType, f32
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from irc.ir import hl


def has_16bit_floats(root: Operation) -> bool:
    """Whether any value of `root` (a module or a function) is a tensor of f16 or bf16: else widening has
    nothing to do (it is skipped: walking the rewriter over a large program costs time)."""
    return any(
        isinstance(v.type, TensorType) and hl.is_16bit_float(v.type.element_type)
        for op in root.walk()
        for v in (*op.results, *(a for region in op.regions for block in region.blocks for a in block.args))
    )


def _wide(type_):
    """`type_` with f32 for a 16-bit float element type (None: it has none)."""
    if not hl.is_16bit_float(type_.element_type):
        return None
    return hl.tensor_type(hl.shape_of(type_), f32)


class Widen16BitFloats(RewritePattern):
    """Compute each op on f16 / bf16 in f32, between casts (see the module docstring)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, hl.HLOp):
            return
        result = op.results[0]
        wide_result = _wide(result.type)
        if isinstance(op, hl.CastOp):
            src, dst = op.x.type.element_type, result.type.element_type
            if (hl.is_16bit_float(src) or hl.is_16bit_float(dst)) and f32 not in (src, dst):
                self._replace(op, rewriter, [_cast(op.x, hl.tensor_type(hl.shape_of(op.x.type), f32), op)], result)
            return
        wide_operands = [_wide(v.type) for v in op.operands]
        if wide_result is None and not any(wide_operands):
            return
        if isinstance(op, hl.ConstantOp):
            new = hl.ConstantOp.from_array(op.evaluate().astype("float32"))
            new.location = op.location
            self._replace(op, rewriter, [new], result)
            return
        casts = [_cast(v, w, op) if w is not None else None for v, w in zip(op.operands, wide_operands)]
        operands = [v if c is None else c.results[0] for v, c in zip(op.operands, casts)]
        new = type(op).make(operands, wide_result or result.type, **dict(op.attributes))
        new.location = op.location
        self._replace(op, rewriter, [*(c for c in casts if c is not None), new], result)

    @staticmethod
    def _replace(op: Operation, rewriter: PatternRewriter, new_ops: list[Operation], result: SSAValue) -> None:
        """Replace `op` by `new_ops`, the last of which gives the value, cast to `result`'s type if needed."""
        last = new_ops[-1].results[0]
        if last.type != result.type:
            new_ops.append(_cast(last, result.type, op))
        rewriter.replace(op, new_ops, [new_ops[-1].results[0]])


def _cast(value: SSAValue, type_, at: Operation) -> hl.CastOp:
    """A new (not yet inserted) `hl.cast` of `value` to `type_`, located at `at`."""
    new = hl.CastOp.make([value], type_)
    new.location = at.location
    return new
