"""Stage `linalg` -> `buffers`: tensors become memrefs, in destination-passing style.

    func.func @f(%x: tensor<4xf32>) -> tensor<4xf32>
      ==>  func.func @f(%x: memref<4xf32>, %out: memref<4xf32>) attributes {irc.num_outputs = 1 : i64}

`irc-bufferize` walks each function once, in order. Every tensor value gets a
buffer: `tensor.empty` an `memref.alloc`, a dense constant a `memref.global`,
a linalg op's result the buffer of its `outs` operand, a reshape or slice a
view of its source's buffer. An op writes into its destination's buffer in
place when no other tensor living in that buffer is read afterwards (SSA
tells: the tensor's later uses); otherwise it writes into a fresh copy.

Two rewrites remove copies: a `tensor.insert_slice` of a freshly computed
tensor makes the producer write straight into the destination's subview, and
a returned tensor's allocation becomes the output argument (through inverse
reshapes when the returned value is a reshape). A copy into an output remains
only for a returned input, constant, slice, or a value returned twice.

`buffer-reuse` then lets an allocation take over an earlier one of the same
type whose last use (through views, inside loops too) comes before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, memref, tensor
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FunctionType,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    NoneAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.dialects.linalg.abstract_ops import LinalgStructuredOperation
from xdsl.ir import Attribute, Block, BlockArgument, Operation, SSAValue, Use
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import DiagnosticException

VIEW_OPS = (memref.SubviewOp, memref.CollapseShapeOp, memref.ExpandShapeOp)


class BufferizeError(DiagnosticException):
    """The function holds an op irc-bufferize cannot turn into buffers."""


def buffer_type(t: TensorType) -> MemRefType:
    """The identity-layout memref of a tensor type."""
    return MemRefType(t.element_type, t.get_shape())


def view_source(value: SSAValue) -> SSAValue | None:
    """The buffer a view (subview, collapse_shape, expand_shape) looks into."""
    return (
        value.owner.src
        if isinstance(value.owner, memref.CollapseShapeOp | memref.ExpandShapeOp)
        else (value.owner.source if isinstance(value.owner, memref.SubviewOp) else None)
    )


def root_buffer(value: SSAValue) -> SSAValue:
    """The allocation, argument or global a buffer value is a view of."""
    while (source := view_source(value)) is not None:
        value = source
    return value


def _alloc(t: MemRefType) -> memref.AllocOp:
    return memref.AllocOp([], [], t, IntegerAttr(64, i64))


def _collapse(source: SSAValue, reassociation: Attribute, t: MemRefType) -> memref.CollapseShapeOp:
    return memref.CollapseShapeOp.build(
        operands=[source], result_types=[t], properties={"reassociation": reassociation}
    )


def _expand(source: SSAValue, reassociation: Attribute, t: MemRefType) -> memref.ExpandShapeOp:
    return memref.ExpandShapeOp.build(
        operands=[source, []],
        result_types=[t],
        properties={
            "reassociation": reassociation,
            "static_output_shape": DenseArrayBase.from_list(i64, t.get_shape()),
        },
    )


def _subview(source: SSAValue, slice_op: tensor.ExtractSliceOp | tensor.InsertSliceOp, rank: int) -> memref.SubviewOp:
    """A static subview like the slice op's, reduced to `rank` dims (dropping unit dims)."""
    if slice_op.offsets or slice_op.sizes or slice_op.strides:
        raise BufferizeError(f"irc-bufferize: {slice_op.name} with dynamic offsets/sizes/strides is not supported")
    offsets, sizes, strides = (
        p.get_values() for p in (slice_op.static_offsets, slice_op.static_sizes, slice_op.static_strides)
    )
    reduce_rank = rank < len(sizes)
    t = memref.SubviewOp.infer_result_type(source.type, offsets, sizes, strides, reduce_rank=reduce_rank)
    if t.get_num_dims() != rank:
        raise BufferizeError(f"irc-bufferize: {slice_op.name} of sizes {list(sizes)} to rank {rank} is ambiguous")
    return memref.SubviewOp.get(source, offsets, sizes, strides, t)


def _on_buffers(op: LinalgStructuredOperation, ins: Sequence[SSAValue], outs: Sequence[SSAValue]) -> Operation:
    """The same linalg op reading `ins` and writing `outs` (memrefs), with no results."""
    properties = {k: v for k, v in op.properties.items() if k != "operandSegmentSizes"}
    return type(op).build(
        operands=[ins, outs],
        result_types=[[]],
        properties=properties,
        attributes=dict(op.attributes),
        regions=[op.body.clone()],
    )


class _FunctionBufferizer:
    """Bufferizes one function; see the module docstring for the rules."""

    def __init__(self, module: ModuleOp, function: func.FuncOp):
        self.module, self.function = module, function
        self.block = function.body.block
        self.ops = list(self.block.ops)
        self.position = {op: i for i, op in enumerate(self.ops)}
        self.buffer: dict[SSAValue, SSAValue] = {}  # tensor value -> memref value
        self.tensors_in: dict[SSAValue, list[SSAValue]] = defaultdict(list)  # root buffer -> tensors living in it
        self.writes: dict[SSAValue, list[int]] = defaultdict(list)  # root buffer -> positions of ops writing it
        self.owned: set[SSAValue] = set()  # root buffers allocated here, so writable
        self.computed_in_place: set[Operation] = set()  # insert_slice ops whose source was written in place

    def run(self) -> None:
        old_args = list(self.block.args)
        for arg in old_args:
            if not isinstance(arg.type, TensorType):
                raise BufferizeError(
                    f"irc-bufferize: @{self.function.sym_name.data} argument of type {arg.type} is not a tensor"
                )
            new_arg = self.block.insert_arg(buffer_type(arg.type), len(self.block.args))
            new_arg.name_hint = arg.name_hint
            self.bind(arg, new_arg)
        for op in self.ops:
            self.bufferize(op)
        for op in reversed(self.ops):
            if isinstance(op, func.ReturnOp) or any(
                isinstance(v.type, TensorType) for v in (*op.operands, *op.results)
            ):
                Rewriter.erase_op(op)
        for arg in old_args:
            self.block.erase_arg(arg)
        for op in list(self.block.ops):
            if isinstance(op, memref.AllocOp) and not op.memref.uses:
                Rewriter.erase_op(op)
        n_outputs = len(self.block.args) - len(old_args)
        self.function.function_type = FunctionType.from_lists([a.type for a in self.block.args], [])
        self.function.attributes["irc.num_outputs"] = IntegerAttr(n_outputs, i64)

    # -- bookkeeping -----------------------------------------------------------

    def insert(self, op: Operation, before: Operation) -> SSAValue | None:
        Rewriter.insert_op(op, InsertPoint.before(before))
        return op.results[0] if op.results else None

    def bind(self, value: SSAValue, buffer: SSAValue) -> None:
        self.buffer[value] = buffer
        self.tensors_in[root_buffer(buffer)].append(value)

    def read_later(self, root: SSAValue, op: Operation, operand_index: int) -> bool:
        """Whether a tensor living in `root` is used after `op`, or by `op` other than as operand `operand_index`."""
        i = self.position[op]
        for value in self.tensors_in[root]:
            for use in value.uses:
                j = self.use_position(use)
                if j > i or (j == i and use.index != operand_index):
                    return True
        return False

    def used_between(self, root: SSAValue, start: int, op: Operation) -> bool:
        """Whether a tensor living in `root` is used at a position in [start, op), or `root` written there."""
        end = self.position[op]
        uses = (self.use_position(u) for v in self.tensors_in[root] for u in v.uses if not self.only_writes(u))
        return any(start <= j < end for j in uses) or any(j >= start for j in self.writes[root])

    def use_position(self, use: Use) -> int:
        """The position of the top-level op holding `use` (a gather's tensor.extract sits in a generic's body)."""
        return self.position[_top_level(use.operation, self.block)]

    def only_writes(self, use: Use) -> bool:
        """An insert_slice does not read its destination, and one computed in place reads nothing."""
        return isinstance(use.operation, tensor.InsertSliceOp) and (
            use.index == 1 or use.operation in self.computed_in_place
        )

    def replace_buffer(self, old: SSAValue, new: SSAValue) -> None:
        """Make every use of the allocation `old` use `new` (a buffer of the same shape) instead."""
        old.replace_all_uses_with(new)
        Rewriter.erase_op(old.owner)
        for tensor_value, buffer in self.buffer.items():
            if buffer is old:
                self.buffer[tensor_value] = new
        root = root_buffer(new)
        self.tensors_in[root] += self.tensors_in.pop(old, [])
        self.writes[root] += self.writes.pop(old, [])
        self.owned.discard(old)

    def destination(self, value: SSAValue, op: Operation, operand_index: int) -> tuple[SSAValue, bool]:
        """A buffer `op` may overwrite that holds `value`, and whether a copy was needed to get it."""
        buffer = self.buffer[value]
        root = root_buffer(buffer)
        if root in self.owned and not self.read_later(root, op, operand_index):
            return buffer, False
        fresh = self.insert(_alloc(buffer_type(value.type)), op)
        self.owned.add(fresh)
        if isinstance(value.owner, tensor.EmptyOp):
            return fresh, False
        self.insert(memref.CopyOp(buffer, fresh), op)
        return fresh, True

    # -- one rule per op -------------------------------------------------------

    def bufferize(self, op: Operation) -> None:
        match op:
            case tensor.EmptyOp():
                alloc = self.insert(_alloc(buffer_type(op.tensor.type)), op)
                self.owned.add(alloc)
                self.bind(op.tensor, alloc)
            case arith.ConstantOp() if isinstance(op.result.type, TensorType):
                self.bind(op.result, self.insert(self.global_constant(op.value, op.result.type), op))
            case LinalgStructuredOperation():
                self.bufferize_linalg(op)
            case tensor.CollapseShapeOp() | tensor.ExpandShapeOp():
                self.bufferize_reshape(op)
            case tensor.ExtractSliceOp():
                self.bind(
                    op.result, self.insert(_subview(self.buffer[op.source], op, op.result.type.get_num_dims()), op)
                )
            case tensor.InsertSliceOp():
                self.bufferize_insert_slice(op)
            case func.ReturnOp():
                self.bufferize_return(op)
            case _ if any(isinstance(v.type, TensorType) for v in (*op.operands, *op.results)):
                raise BufferizeError(f"irc-bufferize: cannot bufferize {op.name} in @{self.function.sym_name.data}")

    def global_constant(self, value: DenseIntOrFPElementsAttr, t: TensorType) -> memref.GetGlobalOp:
        names = {getattr(op, "sym_name", StringAttr("")).data for op in self.module.ops}
        name = next(f"__constant_{i}" for i in range(len(names) + 1) if f"__constant_{i}" not in names)
        global_op = memref.GlobalOp.get(StringAttr(name), buffer_type(t), value, StringAttr("private"), UnitAttr(), 64)
        Rewriter.insert_op(global_op, InsertPoint.before(self.function))
        return memref.GetGlobalOp(name, buffer_type(t))

    def bufferize_linalg(self, op: LinalgStructuredOperation) -> None:
        n_in = len(op.inputs)
        ins = [self.buffer.get(v, v) for v in op.inputs]  # scalars stay as they are
        outs = [self.destination(v, op, n_in + k)[0] for k, v in enumerate(op.outputs)]
        on_buffers = _on_buffers(op, ins, outs)
        self.insert(on_buffers, op)
        for extract in [o for o in on_buffers.walk() if isinstance(o, tensor.ExtractOp)]:  # a gather's reads
            load = memref.LoadOp.get(self.buffer[extract.tensor], list(extract.indices))
            Rewriter.replace_op(extract, load)
        for result, out in zip(op.res, outs, strict=True):
            self.bind(result, out)
            self.writes[root_buffer(out)].append(self.position[op])

    def bufferize_reshape(self, op: tensor.CollapseShapeOp | tensor.ExpandShapeOp) -> None:
        source = self.buffer[op.src]
        if not isinstance(source.type.layout, NoneAttr):  # a strided view cannot always be reshaped: copy it
            fresh = self.insert(_alloc(buffer_type(op.src.type)), op)
            self.owned.add(fresh)
            self.insert(memref.CopyOp(source, fresh), op)
            self.tensors_in[fresh].append(op.src)
            source = fresh
        make = _collapse if isinstance(op, tensor.CollapseShapeOp) else _expand
        self.bind(op.result, self.insert(make(source, op.reassociation, buffer_type(op.result.type)), op))

    def bufferize_insert_slice(self, op: tensor.InsertSliceOp) -> None:
        dest, copied = self.destination(op.dest, op, 1)
        source = self.buffer[op.source]
        if copied or not self.compute_in_place(op, source, dest):
            view = self.insert(_subview(dest, op, op.source.type.get_num_dims()), op)
            self.insert(memref.CopyOp(source, view), op)
            self.writes[root_buffer(dest)].append(self.position[op])
        self.bind(op.result, dest)

    def compute_in_place(self, op: tensor.InsertSliceOp, source: SSAValue, dest: SSAValue) -> bool:
        """Let the producer of the inserted tensor write straight into the destination's subview.

        Allowed when the source is an allocation of ours that only linalg ops
        and copies touch, none of its tensors is read after `op`, and nothing
        reads or writes the destination from the source's first write on.
        """
        if not (isinstance(source.owner, memref.AllocOp) and source in self.owned):
            return False
        if self.read_later(source, op, 0):
            return False
        if not all(isinstance(u.operation, LinalgStructuredOperation | memref.CopyOp) for u in source.uses):
            return False
        first_write = min(self.writes[source], default=self.position[op])
        if self.used_between(root_buffer(dest), first_write, op):
            return False
        alloc = source.owner
        chain: list[Operation] = []  # the destination's allocation and views, root first
        value: SSAValue | None = dest
        while value is not None and isinstance(value.owner, Operation):
            chain.insert(0, value.owner)
            value = view_source(value)
        for chain_op in chain:  # the destination must exist before the producer writes into it
            if alloc.is_before_in_block(chain_op):
                chain_op.detach()
                self.insert(chain_op, alloc)
        view = self.insert(_subview(dest, op, op.source.type.get_num_dims()), alloc)
        self.replace_buffer(source, view)
        self.computed_in_place.add(op)
        return True

    def bufferize_return(self, op: func.ReturnOp) -> None:
        for value in op.arguments:
            out = self.block.insert_arg(buffer_type(value.type), len(self.block.args))
            out.name_hint = "out"
            if not self.become_output(self.buffer[value], out):
                self.insert(memref.CopyOp(self.buffer[value], out), op)
        self.insert(func.ReturnOp(), op)

    def become_output(self, buffer: SSAValue, out: SSAValue) -> bool:
        """Replace the allocation behind `buffer` by the output `out` (through inverse reshapes)."""
        owner = buffer.owner
        if isinstance(owner, memref.AllocOp) and buffer in self.owned and buffer.type == out.type:
            self.replace_buffer(buffer, out)
            return True
        if isinstance(owner, memref.CollapseShapeOp | memref.ExpandShapeOp) and isinstance(
            owner.src.type.layout, NoneAttr
        ):
            inverse = (_expand if isinstance(owner, memref.CollapseShapeOp) else _collapse)(
                out, owner.reassociation, owner.src.type
            )
            # right where `out` is defined (the output argument: the block start; an inverse view of a
            # chain of reshapes: after it), so every view comes after the view it looks into
            where = InsertPoint.at_start(self.block) if isinstance(out, BlockArgument) else InsertPoint.after(out.owner)
            Rewriter.insert_op(inverse, where)
            if self.become_output(owner.src, inverse.result):
                return True
            Rewriter.erase_op(inverse)
        return False


@dataclass(frozen=True)
class BufferizePass(ModulePass):
    """Tensors -> memrefs; function results become trailing output arguments."""

    name = "irc-bufferize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in [f for f in op.ops if isinstance(f, func.FuncOp) and f.body.blocks]:
            if any(
                isinstance(t, TensorType) for t in (*function.function_type.inputs, *function.function_type.outputs)
            ):
                _FunctionBufferizer(op, function).run()


def _top_level(op: Operation, block: Block) -> Operation:
    while op.parent_block() is not block:
        op = op.parent_op()
    return op


def last_use(buffer: SSAValue, block: Block, position: dict[Operation, int]) -> int:
    """Position in `block` of the last top-level op using `buffer` or a view of it."""
    last = position[buffer.owner]
    for use in buffer.uses:
        user = _top_level(use.operation, block)
        last = max(last, position[user])
        if isinstance(user, VIEW_OPS) and user is use.operation:
            last = max(last, last_use(user.results[0], block, position))
    return last


def reuse_buffers(block: Block) -> int:
    """Linear scan: each `memref.alloc` takes over a free earlier one of the same type. Returns the count."""
    ops = list(block.ops)
    position = {op: i for i, op in enumerate(ops)}
    live: list[tuple[int, SSAValue]] = []  # (last use, buffer)
    free: list[SSAValue] = []
    reused = 0
    for i, op in enumerate(ops):
        if not isinstance(op, memref.AllocOp):
            continue
        free += [buffer for end, buffer in live if end < i]
        live = [(end, buffer) for end, buffer in live if end >= i]
        end = last_use(op.memref, block, position)
        match = next((buffer for buffer in free if buffer.type == op.memref.type), None)
        if match is None:
            live.append((end, op.memref))
            continue
        free.remove(match)
        op.memref.replace_all_uses_with(match)
        Rewriter.erase_op(op)
        live.append((end, match))
        reused += 1
    return reused


@dataclass(frozen=True)
class BufferReusePass(ModulePass):
    """Reuse an intermediate allocation once its last use is behind; works on buffers and loops."""

    name = "buffer-reuse"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in [f for f in op.ops if isinstance(f, func.FuncOp) and f.body.blocks]:
            reuse_buffers(function.body.block)
