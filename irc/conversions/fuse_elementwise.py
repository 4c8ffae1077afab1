"""`linalg-fuse-elementwise`: fuse elementwise `linalg.generic` producers into their consumer.

A producer is fused when it is an all-parallel generic with one result, that
result has a single use, as an input of another generic that reads each of
its elements exactly once (a permutation indexing map). The fused generic
runs the producer's body inline, so ``relu(x * y + x)`` becomes one generic
with inputs ``x, y`` and one output::

    %m = linalg.generic ins(%x, %y) outs(%e0) { mulf }
    %r = linalg.generic ins(%m, %x) outs(%e1) { addf }
      ->  %r = linalg.generic ins(%x, %y) outs(%e1) { mulf; addf }

The consumer may itself reduce (``sum(exp(x))`` fuses into one reduction), unless the reduction's
body would then write out more than `REDUCTION_BODY_LIMIT` nodes (an SSA value used twice is written
out twice: a chain of selects doubles or triples per step). An elementwise nest stores large values
in scratch buffers (`irc.targets.tir`); a reduction's body must stay one expression for TVM to find
its combiner, and TVM's simplifier took minutes on ten `where` steps summed
(docs/compile-time.md), so a large producer stays a nest of its own, as does one with an integer
power (`_has_int_power`).
Producer input maps are composed with the consumer's map, so broadcast and
strided reads carry over; repeated (value, map) inputs are merged. A fusion
is skipped when some loop of the consumer would then appear in no map as a
plain dimension (a broadcast read by a reduction over the broadcast dim):
the fused generic would have no operand to take that loop's bound from.

A `linalg.fill` of an integer constant that a generic reads only as the
exponent of `math.ipowi` becomes that constant in the generic's body
(upstream's `FoldFillWithGenericOp`, narrowed): the code generator sees the value (`x ** 2` of integers multiplies instead of calling
`pow`) instead of loading it from a buffer of its own.
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects import arith, math, tensor
from xdsl.dialects.builtin import AffineMapAttr, IntegerType, ModuleOp
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Block, Region, SSAValue
from xdsl.ir.affine import AffineDimExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from irc.conversions.written_size import tree_size

#: the largest reduction body, in nodes written out (`_written_size`), that a producer is fused into
REDUCTION_BODY_LIMIT = 64


def _written_size(producer: linalg.GenericOp, consumer: linalg.GenericOp, index: int) -> int:
    """The size of the largest value `consumer`'s body would yield with `producer` fused as input
    `index`, as a tree: every use of a value writes it out again, some ops more than once
    (`irc.conversions.written_size`)."""
    sizes: dict[SSAValue, int] = {}

    def tree(block: Block) -> int:
        largest = 1
        for op in block.ops:
            size = tree_size(op.name, [sizes.get(v, 1) for v in op.operands])
            for r in op.results:
                sizes[r] = size
            if isinstance(op, linalg.YieldOp):
                largest = max(largest, size - 1)
        return largest

    sizes[consumer.body.block.args[index]] = tree(producer.body.block)
    return tree(consumer.body.block)


def _has_int_power(generic: linalg.GenericOp) -> bool:
    """An integer power is exponentiation by squaring, 31 or 63 steps, which an elementwise nest stores
    step by step and a reduction's body cannot (`irc.targets.tir._FuncTranslator._ipowi_by_squaring`)."""
    return any(isinstance(op, math.IPowIOp) for op in generic.body.block.ops)


def _is_permutation(m: AffineMap) -> bool:
    return len(m.results) == m.num_dims and m.is_projected_permutation()


def _fusable(value: SSAValue, consumer_map: AffineMap) -> bool:
    producer = value.owner
    if not isinstance(producer, linalg.GenericOp) or len(producer.res) != 1 or not value.has_one_use():
        return False
    if any(it.data.value != "parallel" for it in producer.iterator_types):
        return False
    out_map = producer.indexing_maps.data[-1].data
    out_arg = producer.body.block.args[-1]
    return _is_permutation(out_map) and _is_permutation(consumer_map) and not out_arg.uses


def _to_consumer(producer: linalg.GenericOp, consumer_map: AffineMap) -> AffineMap:
    """Producer loop i is the consumer's loop expression `_to_consumer(...).results[i]`."""
    return producer.indexing_maps.data[-1].data.inverse_permutation().compose(consumer_map)


def _producer_ins(producer: linalg.GenericOp, to_consumer: AffineMap) -> list[tuple[SSAValue, AffineMap]]:
    """The producer's inputs with their maps in the consumer's loop coordinates."""
    return [(v, m.data.compose(to_consumer)) for v, m in zip(producer.inputs, producer.indexing_maps, strict=False)]


def _covers_all_loops(producer: linalg.GenericOp, consumer: linalg.GenericOp, index: int) -> bool:
    """Whether every consumer loop still appears as a plain dim in some map after fusion.

    A producer that broadcasts (``(d0, d1) -> (d0, 0)``) into a reducing
    consumer would otherwise leave the reduced loop with no operand to take
    its bound from (a non-invertible loops-to-shapes map).
    """
    maps = [m.data for m in consumer.indexing_maps]
    fused_maps = maps[:index] + maps[index + 1 :]
    fused_maps += [m for _, m in _producer_ins(producer, _to_consumer(producer, maps[index]))]
    covered = {e.position for m in fused_maps for e in m.results if isinstance(e, AffineDimExpr)}
    return covered == set(range(maps[index].num_dims))


def fuse(producer: linalg.GenericOp, consumer: linalg.GenericOp, index: int) -> linalg.GenericOp:
    """The generic computing `consumer` with its input `index` (= `producer`'s result) computed inline."""
    maps = [m.data for m in consumer.indexing_maps]
    to_consumer = _to_consumer(producer, maps[index])
    producer_ins = _producer_ins(producer, to_consumer)
    consumer_ins = list(zip(consumer.inputs, maps, strict=False))

    inputs: list[tuple[SSAValue, AffineMap]] = []
    slot: dict[tuple[SSAValue, AffineMap], int] = {}
    for entry in [*consumer_ins[:index], *producer_ins, *consumer_ins[index + 1 :]]:
        if entry not in slot:
            slot[entry] = len(inputs)
            inputs.append(entry)

    outputs = list(consumer.outputs)
    block = Block(arg_types=[v.type.element_type for v, _ in inputs] + [v.type.element_type for v in outputs])
    mapper: dict[SSAValue, SSAValue] = {}
    for arg, entry in zip(producer.body.block.args, producer_ins, strict=False):
        mapper[arg] = block.args[slot[entry]]
    for op in producer.body.block.ops:
        if isinstance(op, linalg.YieldOp):
            fused_value = mapper.get(op.operands[0], op.operands[0])
        elif isinstance(op, linalg.IndexOp):
            dim = to_consumer.results[op.dim.value.data]
            assert isinstance(dim, AffineDimExpr)
            new = linalg.IndexOp(dim.position)
            block.add_op(new)
            mapper[op.result] = new.result
        else:
            block.add_op(op.clone(value_mapper=mapper))
    consumer_args = consumer.body.block.args
    for i, (arg, entry) in enumerate(zip(consumer_args, consumer_ins, strict=False)):
        mapper[arg] = fused_value if i == index else block.args[slot[entry]]
    for arg, new in zip(consumer_args[len(consumer_ins) :], block.args[len(inputs) :], strict=True):
        mapper[arg] = new
    for op in consumer.body.block.ops:
        block.add_op(op.clone(value_mapper=mapper))

    return linalg.GenericOp(
        [v for v, _ in inputs],
        outputs,
        Region(block),
        [*(AffineMapAttr(m) for _, m in inputs), *consumer.indexing_maps.data[len(consumer_ins) :]],
        consumer.iterator_types,
        [r.type for r in consumer.res],
    )


class FuseProducerIntoConsumer(RewritePattern):
    """Fuse the first fusable elementwise producer of a generic's inputs into it."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, consumer: linalg.GenericOp, rewriter: PatternRewriter) -> None:
        maps = [m.data for m in consumer.indexing_maps]
        reduces = any(it.data.value != "parallel" for it in consumer.iterator_types)
        for index, value in enumerate(consumer.inputs):
            if _fusable(value, maps[index]) and _covers_all_loops(value.owner, consumer, index):
                producer = value.owner
                if reduces and (
                    _has_int_power(producer)
                    or _has_int_power(consumer)
                    or _written_size(producer, consumer, index) > REDUCTION_BODY_LIMIT
                ):
                    continue
                fused = fuse(producer, consumer, index)
                fused.location = consumer.location
                rewriter.replace(consumer, fused)
                init = producer.outputs[0].owner
                rewriter.erase(producer)
                if isinstance(init, tensor.EmptyOp) and not init.tensor.uses:
                    rewriter.erase(init)
                return


def _constant_fill(value: SSAValue) -> arith.ConstantOp | None:
    """The integer (or bool) constant `value` is a fill of. Float constants stay in buffers: TVM's simplifier
    aborts on a float division by a constant zero, and inside an expression its CSE turns the bit pattern
    of a float constant the GPU printers would round (`irc.targets.tir.float_const`) into C that takes the
    address of a literal."""
    fill = value.owner
    if not isinstance(fill, linalg.FillOp) or not isinstance(fill.inputs[0].owner, arith.ConstantOp):
        return None
    constant = fill.inputs[0].owner
    return constant if isinstance(constant.result.type, IntegerType) else None


class FoldConstantFillIntoGeneric(RewritePattern):
    """A generic's input that is a fill of an integer constant, read only as `math.ipowi`'s exponent, becomes
    the constant in its body."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, consumer: linalg.GenericOp, rewriter: PatternRewriter) -> None:
        maps = [m.data for m in consumer.indexing_maps]
        n_in = len(consumer.inputs)
        for index, value in enumerate(consumer.inputs):
            constant = _constant_fill(value)
            rest = maps[:index] + maps[index + 1 :]
            covered = {e.position for m in rest for e in m.results if isinstance(e, AffineDimExpr)}
            if constant is None or covered != set(range(maps[index].num_dims)):
                continue  # a loop whose bound only the fill gives keeps it
            args = consumer.body.block.args
            if not all(isinstance(u.operation, math.IPowIOp) and u.index == 1 for u in args[index].uses):
                continue  # only exponents: TVM aborts on an integer division it folds to one by zero (int sign)
            block = Block(arg_types=[a.type for k, a in enumerate(args) if k != index])
            folded = constant.clone()
            block.add_op(folded)
            mapper = {a: (folded.result if k == index else block.args[k - (k > index)]) for k, a in enumerate(args)}
            for op in consumer.body.block.ops:
                block.add_op(op.clone(value_mapper=mapper))
            kept = [v for k, v in enumerate(consumer.inputs) if k != index]
            new = linalg.GenericOp(
                kept,
                list(consumer.outputs),
                Region(block),
                [AffineMapAttr(m) for m in rest[: n_in - 1] + maps[n_in:]],
                consumer.iterator_types,
                [r.type for r in consumer.res],
            )
            new.location = consumer.location
            rewriter.replace(consumer, new)
            fill = value.owner
            if not fill.results[0].uses:
                init = fill.outputs[0].owner
                rewriter.erase(fill)
                if isinstance(init, tensor.EmptyOp) and not init.tensor.uses:
                    rewriter.erase(init)
                if not constant.result.uses:
                    rewriter.erase(constant)
            return


class FuseElementwisePass(ModulePass):
    """Fuse chains of elementwise linalg.generics into one generic each."""

    name = "linalg-fuse-elementwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FuseProducerIntoConsumer()).rewrite_module(op)
        PatternRewriteWalker(FoldConstantFillIntoGeneric()).rewrite_module(op)
