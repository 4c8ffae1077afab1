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

    @property
    def shape(self) -> tuple[int, ...]:
        return hl.shape_of(self.type)

    @property
    def dtype(self) -> str:
        return hl.dtype_name(self.type.element_type)


@dataclass(eq=False)
class Placeholder(Node):
    """Argument `index` of a function being traced."""

    index: int = 0


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
    if result_type is None:
        result_type = _infer(op, [n.type for n in inputs], attrs, loc)
    requires_grad = (
        GradMode.enabled
        and op.DIFFERENTIABLE
        and hl.is_float(result_type.element_type)
        and any(n.requires_grad for n in inputs)
    )
    return Node(op, tuple(inputs), attrs, result_type, loc, requires_grad=requires_grad)


#: (op, ids of the operand types, attributes) -> (operand types, result type); see `_infer`
_inferred: dict[tuple, tuple] = {}


def _infer(op: type[hl.HLOp], types: list[TensorType], attrs: dict, loc: tuple[str, int, int]) -> TensorType:
    """`op.infer`, memoized: an eager loop records the same ops on the same types every step, and
    xDSL attributes are slow to compare. Keyed by the types' identities (TensorTypes are shared:
    `hl.tensor_type` builds one per shape), checked against the stored types themselves."""
    key = (op, *map(id, types), *((k, _attr_key(v)) for k, v in attrs.items()))
    try:
        hit = _inferred.get(key)
    except TypeError:  # an unhashable attribute value: no memo
        key = hit = None
    if hit is not None and all(a is b for a, b in zip(hit[0], types, strict=True)):
        return hit[1]
    full = op.with_defaults(attrs)
    try:
        result = op.infer(types, full)
    except hl.ShapeError as e:
        raise FrontendError(str(e), loc[:2]) from None
    if key is not None:
        if len(_inferred) >= 8192:
            _inferred.clear()
        _inferred[key] = (tuple(types), result)
    return result


def topological_order(outputs: Sequence[Node], stop: Callable[[Node], bool] = is_leaf) -> list[Node]:
    """All nodes the outputs depend on, inputs first, not looking past `stop` nodes."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(n, False) for n in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        if not stop(node):
            stack.extend((i, False) for i in reversed(node.inputs) if id(i) not in seen)
    return order


def _attr_key(v):
    return tuple(v) if isinstance(v, (list, tuple)) else v


def graph_key(
    outputs: Sequence[Node], stop: Callable[[Node], bool] = is_leaf, args: Sequence[Node] | None = None
) -> tuple[tuple, list[Node]]:
    """A hashable structural key of the graph and its arguments in order.

    Two graphs with the same key compile to the same code (and have the same
    gradient function); the arguments' values are not part of the key. The
    graph ends at `stop` nodes; they are the arguments, in first-use order
    unless `args` orders them (as `build_module` does).
    """
    order = topological_order(outputs, stop)
    index = {id(n): i for i, n in enumerate(order)}
    if args is None:
        args = [n for n in order if stop(n)]
    position = {id(a): k for k, a in enumerate(args)}
    items = []
    for n in order:
        if id(n) in position:
            items.append(("arg", position[id(n)], n.type))
        else:
            attrs = tuple(sorted((k, _attr_key(v)) for k, v in n.attrs.items()))
            items.append((n.op.name, tuple(index[id(i)] for i in n.inputs), attrs, n.type))
    return (tuple(items), tuple(index[id(o)] for o in outputs)), list(args)


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


def replay(fn: func.FuncOp, inputs: Sequence[Node]) -> list[Node]:
    """Record fn's hl ops as graph nodes on `inputs` (one per argument); returns the result nodes.

    Constants become realized leaves; each node keeps the source location of its op.
    """
    env = dict(zip(fn.body.block.args, inputs))
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return [env[v] for v in op.arguments]
        if isinstance(op, hl.ConstantOp):
            node = data_node(op.evaluate())
        else:
            attrs = {k: op.attr(k) for k in op.attributes}
            loc = op.location
            where = (loc.filename.data, loc.line.data, loc.column.data) if isinstance(loc, FileLineColLoc) else None
            node = apply(type(op), [env[v] for v in op.operands], op.results[0].type, where, **attrs)
        env[op.results[0]] = node
    raise ValueError(f"@{fn.sym_name.data} has no func.return")
