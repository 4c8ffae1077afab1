"""One small, valid example of every hl op, keyed by op class or by a base class (`UnaryOp` covers every
unary op), so that a new op is covered by its category without a line here.

`example(op)` gives an `Example` (operand types, attributes as Python values, the result type where the op
cannot infer it); `example_module(op)` builds it as a one-op function with `HLOp.make`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import FileLineColLoc, IntAttr, ModuleOp, StringAttr, TensorType
from xdsl.ir import Attribute, Block, Operation, Region

from irc.ir import hl


def T(shape: tuple[int, ...], dtype: str = "f32") -> TensorType:
    return hl.tensor_type(shape, hl.DTYPES[dtype])


@dataclass
class Example:
    operands: list[Attribute]
    attrs: dict[str, object] = field(default_factory=dict)
    #: None: inferred by the op's shape rule
    result: Attribute | None = None


def _same_dtype(*shapes: tuple[int, ...]) -> Callable[[type[hl.HLOp]], Example]:
    """Operands of `shapes`, all of the first dtype the op accepts (f32, else i32, else i1)."""

    def build(op: type[hl.HLOp]) -> Example:
        for dtype in ("f32", "i32", "i1"):
            operands = [T(s, dtype) for s in shapes]
            try:
                op.infer(operands, op.with_defaults({}))
            except hl.ShapeError:
                continue
            return Example(operands)
        raise AssertionError(f"{op.name} accepts none of f32, i32, i1 for operands {shapes}")

    return build


def _fixed(*operands: Attribute, result: Attribute | None = None, **attrs) -> Callable[[type[hl.HLOp]], Example]:
    return lambda op: Example(list(operands), attrs, result)


def _constant(op: type[hl.HLOp]) -> Example:
    value = hl.ConstantOp.from_array(np.arange(6, dtype=np.float32).reshape(2, 3)).attributes["value"]
    return Example([], {"value": value})


#: op class (or a base of several) -> its example; every attribute is given, off its default, so that it prints
EXAMPLES: dict[type[hl.HLOp], Callable[[type[hl.HLOp]], Example]] = {
    hl.UnaryOp: _same_dtype((4, 3)),
    hl.PolygammaOp: _fixed(T((4, 3)), n=2),
    hl.CastOp: _fixed(T((4, 3)), result=T((4, 3), "i32")),
    hl.BinaryOp: _same_dtype((4, 3), (3,)),
    hl.CompareOp: _fixed(T((4, 3)), T((4, 1)), predicate="le"),
    hl.SelectOp: _fixed(T((4, 3), "i1"), T((4, 3)), T((3,))),
    hl.ReduceOp: _fixed(T((4, 3)), dims=(1,), keepdim=True),
    hl.ArgReduceOp: _fixed(T((4, 3)), dim=-1, keepdim=True),
    hl.ReshapeOp: _fixed(T((4, 3)), shape=(2, 6)),
    hl.TransposeOp: _fixed(T((2, 4, 3)), perm=(2, 0, 1)),
    hl.FlipOp: _fixed(T((4, 3)), dims=(0, 1)),
    hl.BroadcastToOp: _fixed(T((3,)), shape=(2, 4, 3)),
    hl.SliceOp: _fixed(T((4, 3)), start=(1, 0), stop=(4, 3), step=(2, 1)),
    hl.ConcatOp: _fixed(T((4, 3)), T((2, 3)), T((1, 3)), dim=0),
    hl.PadOp: _fixed(T((4, 3)), low=(1, 0), high=(0, 2), value=1.5),
    hl.MatmulOp: _fixed(T((2, 4, 3)), T((3, 5))),
    hl.Conv2dOp: _fixed(T((1, 4, 8, 8)), T((6, 2, 3, 3)), stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2),
    hl.PoolOp: _fixed(T((1, 2, 8, 8)), kernel=(3, 3), stride=(2, 1), padding=(1, 0)),
    hl.ConstantOp: _constant,
    hl.FullOp: _fixed(result=T((4, 3)), value=2.5),
    hl.IotaOp: _fixed(result=T((4, 3), "i64"), dim=1),
    hl.RandomUniformOp: _fixed(T((), "i64"), result=T((4, 3))),
    hl.GatherOp: _fixed(T((4, 3)), T((4, 2), "i64"), dim=1),
    hl.ScatterOp: _fixed(T((4, 3)), T((1, 2), "i64"), T((4, 2)), dim=1, reduce="amax"),
    hl.SoftmaxLikeOp: _fixed(T((4, 3)), dim=0),
    hl.ArgsortOp: _fixed(T((4, 3)), descending=True, k=2),
}


def example(op: type[hl.HLOp]) -> Example:
    """The example of `op`: its own entry in EXAMPLES, else that of its nearest base."""
    for klass in op.__mro__:
        if klass in EXAMPLES:
            return EXAMPLES[klass](op)
    raise LookupError(
        f"{op.name} has no example: add one to EXAMPLES in tests/ir/op_examples.py, "
        f"keyed by hl.{op.__name__} or by a base class it shares with similar ops"
    )


#: the source location every example op carries
LOCATION = FileLineColLoc(StringAttr("model.py"), IntAttr(12), IntAttr(5))


def example_module(op: type[hl.HLOp], result: Attribute | None = None) -> ModuleOp:
    """`func.func @<op>(operands) -> result` holding the one op of `example(op)`, located at model.py:12:5;
    `result` replaces the example's result type."""
    ex = example(op)
    block = Block(arg_types=ex.operands)
    built = op.make(block.args, result or ex.result, **ex.attrs)
    built.location = LOCATION
    result_type = built.results[0].type
    block.add_ops([built, func.ReturnOp(built.results[0])])
    name = op.name.removeprefix("hl.")
    return ModuleOp([func.FuncOp(name, (ex.operands, [result_type]), Region(block))])


def the_hl_op(parent: Operation) -> hl.HLOp:
    """The one hl op inside `parent` (an example's module or function)."""
    (op,) = [op for op in parent.walk() if isinstance(op, hl.HLOp)]
    return op
