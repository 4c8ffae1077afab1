"""Stage `buffers` -> `loops`: each linalg op (and `memref.copy`) becomes one loop nest.

    linalg.matmul ins(%a, %b) outs(%c)
      ==>  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c3) step (%c1, %c1) {
             scf.for %k = %c0 to %c8 step %c1 {
               %x = memref.load %a[%i, %k]  ...  memref.store %s, %c[%i, %j]
             }
           }

The nest is an `scf.parallel` over the op's parallel dims (none when it has
none) around an `scf.for` per reduction dim. The innermost body loads the
operands whose block arguments the op's body reads (an output only for a
reduction, typically), evaluates the indexing maps (sums of `d * stride` and
constants) with `arith` index ops, inlines the scalar body with `linalg.index`
replaced by the induction variables, and stores each yielded value. Bounds and
steps are `arith.constant : index` ops, one per value, at the function start.

xDSL's own convert-linalg-to-loops emits only `scf.for`; this one keeps the
parallelism visible for the targets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import IndexType, IntegerAttr, MemRefType, ModuleOp, ShapedType
from xdsl.dialects.linalg.abstract_ops import LinalgStructuredOperation
from xdsl.dialects.linalg.ops import IndexOp, YieldOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.ir.affine import (
    AffineBinaryOpExpr,
    AffineBinaryOpKind,
    AffineConstantExpr,
    AffineDimExpr,
    AffineExpr,
    AffineMap,
)
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import DiagnosticException

_INDEX_OPS: dict[AffineBinaryOpKind, type[Operation]] = {
    AffineBinaryOpKind.Add: arith.AddiOp,
    AffineBinaryOpKind.Mul: arith.MuliOp,
    AffineBinaryOpKind.Mod: arith.RemSIOp,
    AffineBinaryOpKind.FloorDiv: arith.FloorDivSIOp,
    AffineBinaryOpKind.CeilDiv: arith.CeilDivSIOp,
}

BodyBuilder = Callable[[dict[int, SSAValue]], list[Operation]]


class LoopLoweringError(DiagnosticException):
    """A linalg op that convert-linalg-to-loops cannot lower."""


class IndexConstants:
    """`arith.constant N : index` ops, created once per function at its start."""

    def __init__(self, function: func.FuncOp):
        self.block = function.body.block
        self.values: dict[int, SSAValue] = {}

    def __call__(self, n: int) -> SSAValue:
        if n not in self.values:
            op = arith.ConstantOp(IntegerAttr(n, IndexType()))
            op.result.name_hint = f"c{n}"
            # at the block start, not before a remembered op: that op may be a linalg op lowered meanwhile
            Rewriter.insert_op(op, InsertPoint.at_start(self.block))
            self.values[n] = op.result
        return self.values[n]


def index_value(expr: AffineExpr, ivs: dict[int, SSAValue], const: IndexConstants, ops: list[Operation]) -> SSAValue:
    """The index an affine expression of the loop dims names; its ops are appended to `ops`."""
    if isinstance(expr, AffineDimExpr):
        return ivs[expr.position]
    if isinstance(expr, AffineConstantExpr):
        return const(expr.value)
    if isinstance(expr, AffineBinaryOpExpr):
        lhs, rhs = index_value(expr.lhs, ivs, const, ops), index_value(expr.rhs, ivs, const, ops)
        ops.append(_INDEX_OPS[expr.kind](lhs, rhs))
        return ops[-1].results[0]
    raise LoopLoweringError(f"convert-linalg-to-loops: unsupported affine expression {expr}")


def loop_nest(
    ranges: Sequence[int], parallel: Sequence[bool], const: IndexConstants, build_body: BodyBuilder
) -> list[Operation]:
    """`scf.parallel` over the parallel dims around `scf.for`s over the others; `build_body(ivs)` fills it."""
    ivs: dict[int, SSAValue] = {}
    reduction_dims = [d for d, p in enumerate(parallel) if not p]

    def fors(k: int) -> list[Operation]:
        if k == len(reduction_dims):
            return build_body(ivs)
        dim = reduction_dims[k]
        block = Block(arg_types=[IndexType()])
        ivs[dim] = block.args[0]
        block.args[0].name_hint = f"d{dim}"
        block.add_ops([*fors(k + 1), scf.YieldOp()])
        return [scf.ForOp(const(0), const(ranges[dim]), const(1), [], block)]

    parallel_dims = [d for d, p in enumerate(parallel) if p]
    if not parallel_dims:
        return fors(0)
    block = Block(arg_types=[IndexType()] * len(parallel_dims))
    for dim, arg in zip(parallel_dims, block.args):
        ivs[dim] = arg
        arg.name_hint = f"d{dim}"
    block.add_ops([*fors(0), scf.ReduceOp()])
    n = len(parallel_dims)
    upper = [const(ranges[d]) for d in parallel_dims]
    return [scf.ParallelOp([const(0)] * n, upper, [const(1)] * n, Region(block))]


def lower_linalg(op: LinalgStructuredOperation, const: IndexConstants) -> list[Operation]:
    """The loop nest of one linalg op on memrefs."""
    if op.res:
        raise LoopLoweringError(f"convert-linalg-to-loops: {op.name} still works on tensors; run irc-bufferize first")
    maps: list[AffineMap] = [m.data for m in op.get_indexing_maps()]
    parallel = [str(t.data) == "parallel" for t in op.get_iterator_types()]
    ranges = op.get_static_loop_ranges()
    body = op.body.block
    n_in = len(op.inputs)

    def build_body(ivs: dict[int, SSAValue]) -> list[Operation]:
        ops: list[Operation] = []
        mapping: dict[SSAValue, SSAValue] = {}
        for operand, m, arg in zip(op.operands, maps, body.args, strict=True):
            if not isinstance(operand.type, ShapedType):
                mapping[arg] = operand
            elif arg.uses:
                indices = [index_value(e, ivs, const, ops) for e in m.results]
                ops.append(memref.LoadOp.get(operand, indices))
                mapping[arg] = ops[-1].res
        for body_op in body.ops:
            if isinstance(body_op, IndexOp):
                mapping[body_op.result] = ivs[body_op.dim.value.data]
            elif isinstance(body_op, YieldOp):
                for out, m, value in zip(op.outputs, maps[n_in:], body_op.operands, strict=True):
                    indices = [index_value(e, ivs, const, ops) for e in m.results]
                    ops.append(memref.StoreOp.get(mapping.get(value, value), out, indices))
            else:
                ops.append(body_op.clone(value_mapper=mapping))
        return ops

    return loop_nest(ranges, parallel, const, build_body)


def lower_copy(op: memref.CopyOp, const: IndexConstants) -> list[Operation]:
    """An all-parallel nest of load + store over the destination's shape."""
    shape = op.destination.type.get_shape()

    def build_body(ivs: dict[int, SSAValue]) -> list[Operation]:
        indices = [ivs[d] for d in range(len(shape))]
        load = memref.LoadOp.get(op.source, indices)
        return [load, memref.StoreOp.get(load.res, op.destination, indices)]

    return loop_nest(shape, [True] * len(shape), const, build_body)


@dataclass(frozen=True)
class ConvertLinalgToLoopsPass(ModulePass):
    """linalg ops and memref.copy on memrefs -> scf.parallel / scf.for loop nests."""

    name = "convert-linalg-to-loops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in [f for f in op.ops if isinstance(f, func.FuncOp) and f.body.blocks]:
            const = IndexConstants(function)
            for target in list(function.body.block.ops):
                if isinstance(target, LinalgStructuredOperation):
                    nest = lower_linalg(target, const)
                elif isinstance(target, memref.CopyOp) and isinstance(target.destination.type, MemRefType):
                    nest = lower_copy(target, const)
                else:
                    continue
                Rewriter.insert_op(nest, InsertPoint.before(target))
                Rewriter.erase_op(target)
