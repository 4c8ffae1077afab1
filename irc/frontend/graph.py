"""The recorded graph behind every Tensor, and its translation into an `hl` module.

A `Node` is one hl op application (op class, input nodes, attributes, result
type, the user's source location, and once realized its numpy value). Graph
leaves are realized nodes (function arguments when a graph is compiled) and
`Placeholder`s (arguments of a function being traced by `irc.jit`).
Shape rules are the dialect's own (`HLOp.infer`), so the frontend and the
verifier can never disagree.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import FileLineColLoc, IntAttr, ModuleOp, StringAttr, TensorType
from xdsl.ir import Attribute, Block, Region, SSAValue

from irc.errors import FrontendError
from irc.ir import hl
from irc.runtime.devices import to_host

_IRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_location() -> tuple[str, int, int]:
    """(file, line, column) of the innermost caller outside the irc package."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_IRC_DIR):
        frame = frame.f_back
    if frame is None:
        return ("<unknown>", 0, 0)
    positions = _positions(frame.f_code)
    pos = positions[frame.f_lasti // 2] if frame.f_lasti // 2 < len(positions) else None
    col = (pos[2] or 0) + 1 if pos else 0
    return (frame.f_code.co_filename, frame.f_lineno, col)


@functools.lru_cache(maxsize=512)
def _positions(code) -> tuple:
    """The source positions of `code`'s instructions (walking them per recorded op cost ~1 us per instruction)."""
    return tuple(code.co_positions())


_serials = itertools.count()


class GradMode:
    """Whether new nodes record gradient history (`irc.no_grad` turns it off)."""

    enabled = True


class Tracing:
    """The `irc.jit` traces running now (values cannot be realized inside one).

    While tracing, in-place updates and `.grad` writes on tensors are recorded
    (`mutated`), so the traced program can return them as extra outputs. A tensor
    the innermost trace made itself (its node is newer than `start`) is the
    program's own value, not state: its updates (`pe[:, 0::2] = ...`) are not recorded.
    """

    depth = 0
    mutated: dict[int, object] | None = None
    #: `irc.frontend.tracing.guard_grad` (set there: it needs the traces, which sit above the Tensor)
    guard_grad: Callable = staticmethod(lambda tensor: None)
    #: the node serial where the innermost trace started
    start = 0

    @classmethod
    def record_mutation(cls, tensor) -> None:
        if cls.mutated is None or id(tensor) in cls.mutated:
            return
        node = tensor._node
        if node.serial >= cls.start and not isinstance(node, Placeholder):
            return
        cls.mutated[id(tensor)] = (tensor, node, tensor._grad)


@dataclass(eq=False)
class Node:
    """One op application; `type` is its result TensorType."""

    op: type[hl.HLOp] | None
    inputs: tuple[Node, ...]
    attrs: dict
    type: TensorType
    loc: tuple[str, int, int] = ("<unknown>", 0, 0)
    #: the computed value, once realized (then the node is a leaf for later graphs)
    value: np.ndarray | None = None
    #: gradients flow through this node (set when recorded with grad mode on)
    requires_grad: bool = False
    #: an autograd leaf: gradients stop here and are stored on `owner`'s `.grad`
    leaf: bool = False
    #: weak reference to the Tensor whose `.grad` receives this leaf's gradient
    owner: object = None
    #: backward() has run through this node without retain_graph
    freed: bool = False
    #: for a leaf that `irc.jit` reads afresh on every call (a random key, an optimizer's learning
    #: rate): returns the value to feed; the trace's own value is only the first
    feed: Callable[[], np.ndarray] | None = None
    #: creation order (a traced function's own constants are newer than the trace)
    serial: int = field(default_factory=lambda: next(_serials))
    #: nodes to realize with this one while they are wanted: a gradient's forward value (`twin`)
    companions: tuple[Node, ...] = ()
    #: weak reference to the node this one computes the value of too (a backward pass's forward value:
    #: the loss, computed again by the gradient function), which takes this node's value when realized
    twin: object = None
    #: the other way round: weak reference to the node of a gradient function that computes this node's
    #: value (realizing this node realizes that one instead, so a step computes its forward pass once)
    primal: object = None
    #: what the node is apart from its inputs (op, attributes, result type) as a small number (`kind`),
    #: -1 until a graph key asks
    kind: int = -1
    #: `Tensor.register_hook` / `retain_grad` on this (non-leaf) node: called with its gradient in backward
    hooks: list | None = None
    #: for an output of a custom `irc.autograd.Function`: (its context, output index); backward() calls the
    #: Function's `backward` here and goes on from the Function's inputs
    function: tuple | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return type_info(self.type)[1]

    @property
    def dtype(self) -> str:
        return type_info(self.type)[2]


@dataclass(eq=False)
class Placeholder(Node):
    """Argument `index` of a function being traced."""

    index: int = 0


#: id(TensorType) -> (the type, its shape, its dtype name, its number): what the frontend asks of a
#: node's type, worked out once per type object (types are shared: `hl.tensor_type`, `_infer`'s memo,
#: a gradient function's result types), and the small number standing for the type in graph keys
#: (hashing an xDSL attribute walks it: a third of an eager step's graph key). The table holds each
#: type, so an id is never reused while it is in there.
_type_info: dict[int, tuple] = {}
#: TensorType -> its number: equal types have the same number (one entry per shape and dtype seen)
_type_numbers: dict[TensorType, int] = {}


def type_info(t: TensorType) -> tuple[TensorType, tuple[int, ...], str, int]:
    """(t, shape, dtype name, number) of a node's type; equal types have equal numbers."""
    info = _type_info.get(id(t))
    if info is None:
        if len(_type_info) >= 16384:  # types built afresh each time (not shared): keep the memo bounded
            _type_info.clear()
        number = _type_numbers.setdefault(t, len(_type_numbers))
        info = _type_info[id(t)] = (t, hl.shape_of(t), hl.dtype_name(t.element_type), number)
    return info


@functools.lru_cache(maxsize=1024)
def _leaf_type(shape: tuple[int, ...], dtype: np.dtype) -> TensorType:
    """The TensorType of a value (built once per shape and dtype: xDSL verifies every new attribute)."""
    return hl.tensor_type(shape, hl.element_type_of(dtype))


def data_node(value) -> Node:
    """A leaf holding a realized value (a numpy array or a DeviceArray)."""
    return Node(None, (), {}, _leaf_type(value.shape, value.dtype), value=value)


def is_leaf(node: Node) -> bool:
    return node.op is None or node.value is not None


def apply(
    op: type[hl.HLOp],
    inputs: Sequence[Node],
    result_type: Attribute | None = None,
    location: tuple[str, int, int] | None = None,
    **attrs,
) -> Node:
    """Record `op` on `inputs` (at `location`, default: the user's line); a shape error names the op and the line."""
    loc = location or user_location()
    kind = -1
    if result_type is None:
        result_type, kind = _infer(op, [n.type for n in inputs], attrs, loc)
    requires_grad = (
        GradMode.enabled
        and op.DIFFERENTIABLE
        and hl.is_float(result_type.element_type)
        and any(n.requires_grad for n in inputs)
    )
    return Node(op, tuple(inputs), attrs, result_type, loc, requires_grad=requires_grad, kind=kind)


#: (op, attribute key, result type number) -> a small number: what a node is apart from its inputs, one
#: entry per combination seen (graph keys compare these instead of ops, attributes and types)
_kinds: dict[tuple, int] = {}


def kind(op: type[hl.HLOp], attrs: dict, result_type: TensorType) -> int:
    """The number of (op, attributes, result type): equal for equal ones."""
    key = (op, tuple(sorted([(k, _attr_key(v)) for k, v in attrs.items()])) if attrs else (), type_info(result_type)[3])
    return _kinds.setdefault(key, len(_kinds))


#: (op, ids of the operand types, attributes) -> (operand types, result type, kind); see `_infer`
_inferred: dict[tuple, tuple] = {}


def _infer(
    op: type[hl.HLOp], types: list[TensorType], attrs: dict, loc: tuple[str, int, int]
) -> tuple[TensorType, int]:
    """`op.infer` and the node's `kind`, memoized: an eager loop records the same ops on the same types
    every step, and xDSL attributes are slow to compare. Keyed by the types' identities (TensorTypes are
    shared: `hl.tensor_type` builds one per shape); an entry holds its types, so while it is there no
    other object can have their ids."""
    key = (op, *map(id, types), *((k, _attr_key(v)) for k, v in attrs.items()))
    try:
        hit = _inferred.get(key)
    except TypeError:  # an unhashable attribute value: no memo
        key = hit = None
    if hit is not None:
        return hit[1], hit[2]
    full = op.with_defaults(attrs)
    try:
        result = op.infer(types, full)
    except hl.ShapeError as e:
        raise FrontendError(str(e), loc[:2]) from None
    if key is None:
        return result, -1
    if len(_inferred) >= 8192:
        _inferred.clear()
    number = kind(op, attrs, result)
    _inferred[key] = (tuple(types), result, number)
    return result, number


def topological_order(
    outputs: Sequence[Node],
    stop: Callable[[Node], bool] = is_leaf,
    inputs_of: Callable[[Node], Sequence[Node]] | None = None,
) -> list[Node]:
    """All nodes the outputs depend on, inputs first, not looking past `stop` nodes; `inputs_of(node)` in place
    of `node.inputs` where given (backward() goes from a custom Function's outputs to its inputs).

    Depth first, inputs in order: a node comes right after the last of its inputs that was new."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in outputs:
        if id(root) in seen:
            continue
        seen.add(id(root))
        if stop(root):
            order.append(root)
            continue
        stack = [(root, iter(root.inputs if inputs_of is None else inputs_of(root)))]
        while stack:
            node, inputs = stack[-1]
            for i in inputs:
                if id(i) not in seen:
                    seen.add(id(i))
                    if stop(i):
                        order.append(i)
                    else:
                        stack.append((i, iter(i.inputs if inputs_of is None else inputs_of(i))))
                        break
            else:
                stack.pop()
                order.append(node)
    return order


def _attr_key(v):
    """An attribute value as it goes into keys: hashable, and a float by its bits (`float.hex`): -0.0 and
    0.0 compare equal but are different constants (`1 / (x * -0.0)` is -inf), and NaN equals nothing,
    not even itself (a key holding one would never be found again)."""
    if isinstance(v, float):
        return ("float", v.hex())
    return tuple(map(_attr_key, v)) if isinstance(v, (list, tuple)) else v


def graph_key(
    outputs: Sequence[Node],
    stop: Callable[[Node], bool] = is_leaf,
    args: Sequence[Node] | None = None,
    order: list[Node] | None = None,
) -> tuple[tuple, list[Node]]:
    """A hashable structural key of the graph and its arguments in order.

    Two graphs with the same key compile to the same code (and have the same
    gradient function); the arguments' values are not part of the key. The
    graph ends at `stop` nodes; they are the arguments, in first-use order
    unless `args` orders them (as `build_module` does). `order`: `topological_order(outputs, stop)`
    where the caller has it already.
    """
    if order is None:
        order = topological_order(outputs, stop)
    index = {id(n): i for i, n in enumerate(order)}
    if args is None:
        args = [n for n in order if stop(n)]
    position = {id(a): k for k, a in enumerate(args)}
    items = []
    for n in order:
        k = position.get(id(n))
        if k is not None:
            items.append((None, k, type_info(n.type)[3]))
        else:
            number = n.kind
            if number < 0:
                number = n.kind = kind(n.op, n.attrs, n.type)
            items.append((number, tuple([index[id(i)] for i in n.inputs])))
    return (tuple(items), tuple([index[id(o)] for o in outputs])), list(args)


def build_module(
    outputs: Sequence[Node],
    name: str = "main",
    args: Sequence[Node] | None = None,
    constants: bool = False,
    arg_names: Sequence[str] | None = None,
    stop: Callable[[Node], bool] = is_leaf,
) -> tuple[ModuleOp, list[Node]]:
    """Emit the graph as `func.func @name` in a new module.

    `args` fixes the function arguments (tracing); otherwise every leaf becomes
    an argument in first-use order.  With `constants`, realized leaves that are
    not arguments are folded in as `hl.constant`s.  Returns the module and the
    argument nodes.
    """
    order = topological_order(outputs, stop)
    if args is None:
        args = [n for n in order if stop(n)]
    block = Block(arg_types=[a.type for a in args])
    for arg, arg_name in zip(block.args, arg_names or ()):
        if arg_name.isidentifier():
            arg.name_hint = arg_name
    values: dict[int, SSAValue] = {id(a): block.args[i] for i, a in enumerate(args)}
    for node in order:
        if id(node) in values:
            continue
        if stop(node):
            if not (constants and node.value is not None):
                raise FrontendError("a traced value from another function call is used here", node.loc[:2])
            op = hl.ConstantOp.from_array(to_host(node.value))
        else:
            op = node.op.make([values[id(i)] for i in node.inputs], node.type, **node.attrs)
        op.location = FileLineColLoc(StringAttr(node.loc[0]), IntAttr(node.loc[1]), IntAttr(node.loc[2]))
        block.add_op(op)
        values[id(node)] = op.results[0]
    block.add_op(func.ReturnOp(*(values[id(o)] for o in outputs)))
    fn = func.FuncOp(name, ([a.type for a in args], [o.type for o in outputs]), Region(block))
    return ModuleOp([fn]), list(args)


class Replay:
    """fn's hl ops, ready to be recorded as graph nodes again and again (an eager loop's backward
    replays the same gradient function every step): the walk over the xDSL ops, their attributes,
    locations and constants is done once, here.

    `Replay(fn)(inputs)` records the ops on `inputs` (one per argument) and returns the result nodes.
    Constants become realized leaves (each replay gets its own copy of the value); each node keeps the
    source location of its op; a node requires grad as `apply` would decide.
    """

    def __init__(self, fn: func.FuncOp):
        slots: dict[SSAValue, int] = {arg: k for k, arg in enumerate(fn.body.block.args)}
        self.arity = len(slots)
        #: per op: (None, value) for a constant; else (op class, operand slots, attrs, result type,
        #: location, whether its result can carry a gradient, its `kind`)
        self.steps: list[tuple] = []
        self.results: list[int] | None = None
        for op in fn.body.block.ops:
            if isinstance(op, func.ReturnOp):
                self.results = [slots[v] for v in op.arguments]
                break
            if isinstance(op, hl.ConstantOp):
                value = np.asarray(op.evaluate())
                value.flags.writeable = False
                self.steps.append((None, value))
            else:
                loc = op.location
                where = (loc.filename.data, loc.line.data, loc.column.data) if isinstance(loc, FileLineColLoc) else None
                attrs = {k: op.attr(k) for k in op.attributes}
                result_type = op.results[0].type
                can_grad = type(op).DIFFERENTIABLE and hl.is_float(result_type.element_type)
                number = kind(type(op), attrs, result_type)
                operands = [slots[v] for v in op.operands]
                self.steps.append((type(op), operands, attrs, result_type, where, can_grad, number))
            slots[op.results[0]] = len(slots)
        if self.results is None:
            raise ValueError(f"@{fn.sym_name.data} has no func.return")

    def __call__(self, inputs: Sequence[Node]) -> list[Node]:
        if len(inputs) != self.arity:
            raise ValueError(f"replay: {len(inputs)} inputs for a function of {self.arity} arguments")
        env = list(inputs)
        grad = GradMode.enabled
        for step in self.steps:
            if step[0] is None:
                env.append(data_node(step[1].copy()))
                continue
            op, operands, attrs, result_type, where, can_grad, number = step
            args = tuple([env[k] for k in operands])
            requires_grad = grad and can_grad and any(n.requires_grad for n in args)
            env.append(
                Node(op, args, attrs, result_type, where or user_location(), requires_grad=requires_grad, kind=number)
            )
        return [env[k] for k in self.results]


def replay(fn: func.FuncOp, inputs: Sequence[Node]) -> list[Node]:
    """Record fn's hl ops as graph nodes on `inputs` (one per argument); returns the result nodes (`Replay`)."""
    return Replay(fn)(inputs)
