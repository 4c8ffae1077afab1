"""`convert-hl-to-linalg`: lower every hl op to linalg on tensors (stage 3).

The output uses only the stage-3 op set of ``docs/architecture.md``:
``arith.constant``, ``tensor.empty``, ``linalg.fill``, ``linalg.generic``
(bodies of ``arith``/``math``/``linalg.index``, and ``tensor.extract`` of a
tensor defined outside the generic: a gather), ``linalg.matmul``,
``tensor.collapse_shape``/``expand_shape``/``extract_slice``/``insert_slice``.

Each op's lowering is a rule registered for its op class with
`@lowering(hl.SomeOp)` (`irc/ir/rules.py`), or a scalar body registered with
`@elementwise(hl.SomeOp)`; the pass looks the rule up when it meets the op.
A rule builds the replacement with an `_Emitter`:

    %2 = hl.add %0, %1 : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>

becomes a ``linalg.generic`` whose second indexing map is ``(d0, d1) -> (d1)``
(numpy broadcasting is expressed by the indexing maps, size-1 dims read
index 0), with ``arith.addf`` in its body.
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, math, tensor
from xdsl.dialects.builtin import (
    AffineMapAttr,
    ArrayAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    ModuleOp,
    TensorType,
    i1,
    i32,
    i64,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.linalg.attrs import IteratorTypeAttr
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.ir.affine import AffineExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)
from xdsl.utils.exceptions import DiagnosticException

from irc.conversions.scalar_math import Scalar, ScalarMath
from irc.ir import hl, rules, special_functions
from irc.ir.context import RemFOp
from irc.ir.hl import dtype_name, fmt_type, is_float, shape_of, tensor_type
from irc.ir.rules import lowering
from irc.transforms.decompose import HLDecomposePass


class LoweringError(DiagnosticException):
    """An hl op (or dtype) that convert-hl-to-linalg cannot lower."""


def _unsupported(op: Operation, what: str) -> LoweringError:
    types = ", ".join(fmt_type(o.type) for o in op.operands)
    return LoweringError(f"convert-hl-to-linalg: {op.name} {what} (operands: {types or 'none'})")


# --------------------------------------------------------------------------
# scalars (used both outside and inside generic bodies)
# --------------------------------------------------------------------------


def scalar_attr(value: float | int | bool, et: Attribute) -> FloatAttr | IntegerAttr:
    if is_float(et):
        return FloatAttr(float(value), et)
    if et == i1:
        return IntegerAttr(int(bool(value)), i1)
    return IntegerAttr(int(value), et)


def lowest(et: Attribute) -> float | int:
    """The identity of max: -inf, the smallest integer, or false."""
    if is_float(et):
        return -pymath.inf
    return 0 if et == i1 else -(2 ** (et.width.data - 1))


def highest(et: Attribute) -> float | int:
    """The identity of min: +inf, the largest integer, or true."""
    if is_float(et):
        return pymath.inf
    return 1 if et == i1 else 2 ** (et.width.data - 1) - 1


def const(value: float | int | bool, et: Attribute) -> SSAValue:
    """An `arith.constant` (inserted by the implicit builder of a generic body)."""
    return arith.ConstantOp(scalar_attr(value, et)).result


def convert(x: SSAValue, dst: Attribute) -> SSAValue:
    """Scalar dtype conversion with numpy's astype semantics."""
    src = x.type
    if src == dst:
        return x
    if is_float(src) and is_float(dst):
        grow = src.bitwidth < dst.bitwidth
        return (arith.ExtFOp(x, dst) if grow else arith.TruncFOp(x, dst)).result
    if dst == i1:  # nonzero -> true
        if is_float(src):
            return arith.CmpfOp(x, const(0.0, src), "une").result
        return arith.CmpiOp(x, const(0, src), "ne").result
    if is_float(dst):
        return (arith.UIToFPOp(x, dst) if src == i1 else arith.SIToFPOp(x, dst)).result
    if is_float(src):
        return arith.FPToSIOp(x, dst).result
    if src == i1:
        return arith.ExtUIOp(x, dst).result
    grow = src.width.data < dst.width.data
    return (arith.ExtSIOp(x, dst) if grow else arith.TruncIOp(x, dst)).result


def maximum(a: SSAValue, b: SSAValue) -> SSAValue:
    """max; of bools it is `or` (TVM's LLVM codegen has no max of bools)."""
    et = a.type
    cls = arith.MaximumfOp if is_float(et) else arith.OrIOp if et == i1 else arith.MaxSIOp
    return cls(a, b).result


def minimum(a: SSAValue, b: SSAValue) -> SSAValue:
    """min; of bools it is `and`."""
    et = a.type
    cls = arith.MinimumfOp if is_float(et) else arith.AndIOp if et == i1 else arith.MinSIOp
    return cls(a, b).result


def add(a: SSAValue, b: SSAValue) -> SSAValue:
    return (arith.AddfOp(a, b) if is_float(a.type) else arith.AddiOp(a, b)).result


def mul(a: SSAValue, b: SSAValue) -> SSAValue:
    return (arith.MulfOp(a, b) if is_float(a.type) else arith.MuliOp(a, b)).result


def divide(a: SSAValue, b: SSAValue) -> SSAValue:
    """a / b; integers truncate, and x / 0 gives x (hl's reference semantics)."""
    if is_float(a.type):
        return arith.DivfOp(a, b).result
    is_zero = arith.CmpiOp(b, const(0, b.type), "eq").result
    return arith.DivSIOp(a, arith.SelectOp(is_zero, const(1, b.type), b)).result


def floor_divide(a: SSAValue, b: SSAValue) -> SSAValue:
    """a // b rounded like Python, numpy and PyTorch (floor of the exact quotient: 1.0 // 0.1 is 9);
    integer x // 0 gives x (hl's reference semantics), float x // 0 is x / 0."""
    if not is_float(a.type):
        is_zero = arith.CmpiOp(b, const(0, b.type), "eq").result
        return arith.FloorDivSIOp(a, arith.SelectOp(is_zero, const(1, b.type), b)).result
    zero, one = const(0.0, a.type), const(1.0, a.type)
    mod = RemFOp(a, b).result  # exact, so (a - mod) / b is the truncated quotient
    div = arith.DivfOp(arith.SubfOp(a, mod), b).result
    # a nonzero remainder whose sign differs from b's: floor is one below the truncated quotient
    signs_differ = arith.XOrIOp(arith.CmpfOp(b, zero, "olt"), arith.CmpfOp(mod, zero, "olt")).result
    fix = arith.AndIOp(arith.CmpfOp(mod, zero, "une"), signs_differ).result
    div = arith.SelectOp(fix, arith.SubfOp(div, one), div).result
    floor = math.FloorOp(div).result
    rounds_up = arith.CmpfOp(arith.SubfOp(div, floor), const(0.5, a.type), "ogt").result
    floor = arith.SelectOp(rounds_up, arith.AddfOp(floor, one), floor).result
    quotient = arith.DivfOp(a, b).result
    floor = arith.SelectOp(arith.CmpfOp(div, zero, "une"), floor, math.CopySignOp(zero, quotient)).result
    return arith.SelectOp(arith.CmpfOp(b, zero, "oeq"), quotient, floor).result


FLOAT_PREDICATES = {"eq": "oeq", "ne": "une", "lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge"}
INT_PREDICATES = {"eq": "eq", "ne": "ne", "lt": "slt", "le": "sle", "gt": "sgt", "ge": "sge"}
BOOL_PREDICATES = {"eq": "eq", "ne": "ne", "lt": "ult", "le": "ule", "gt": "ugt", "ge": "uge"}


def compare(a: SSAValue, b: SSAValue, predicate: str) -> SSAValue:
    """numpy comparison: ordered for floats except `ne` (NaN != NaN is true)."""
    if is_float(a.type):
        return arith.CmpfOp(a, b, FLOAT_PREDICATES[predicate]).result
    table = BOOL_PREDICATES if a.type == i1 else INT_PREDICATES
    return arith.CmpiOp(a, b, table[predicate]).result


# --------------------------------------------------------------------------
# elementwise ops: one scalar body each, (op, scalar args) -> scalar result
# --------------------------------------------------------------------------

Body = Callable[[hl.HLOp, Sequence[SSAValue]], SSAValue]

#: ops whose arithmetic numpy rejects on bool (i1) operands
_BOOL_ARITHMETIC = (hl.NegOp, hl.AbsOp, hl.AddOp, hl.SubOp, hl.MulOp, hl.DivOp, hl.FloorDivideOp, hl.PowOp)


def elementwise(*ops: type[hl.HLOp]) -> Callable[[Body], Body]:
    """Register the scalar `body(op, args) -> result` as the lowering of the elementwise `ops`:
    one parallel linalg.generic over the result, numpy broadcasting in its indexing maps."""

    def register(body: Body) -> Body:
        def lower(op: hl.HLOp, e: _Emitter) -> SSAValue:
            if isinstance(op, _BOOL_ARITHMETIC) and op.operands[0].type.element_type == i1:
                raise _unsupported(op, "does not take i1 operands")
            return e.elementwise(list(op.operands), op.results[0].type, lambda args: body(op, args))

        lowering(*ops)(lower)
        return body

    return register


def _float_math(cls) -> Body:
    return lambda op, args: cls(args[0]).result


for _op, _math_op in (
    (hl.ExpOp, math.ExpOp),
    (hl.LogOp, math.LogOp),
    (hl.SqrtOp, math.SqrtOp),
    (hl.TanhOp, math.TanhOp),
    (hl.SinOp, math.SinOp),
    (hl.CosOp, math.CosOp),
    (hl.ErfOp, math.ErfOp),
    # everyday math (issue 12)
    (hl.FloorOp, math.FloorOp),
    (hl.CeilOp, math.CeilOp),
    (hl.RoundOp, math.RoundEvenOp),  # half to even, as PyTorch; math.round rounds halves away from zero
    (hl.TruncOp, math.TruncOp),
    (hl.Log1pOp, math.Log1pOp),
    (hl.Expm1Op, math.ExpM1Op),
    (hl.Log2Op, math.Log2Op),
    (hl.Log10Op, math.Log10Op),
    (hl.Exp2Op, math.Exp2Op),
    (hl.TanOp, math.TanOp),
    (hl.AsinOp, math.AsinOp),
    (hl.AcosOp, math.AcosOp),
    (hl.AtanOp, math.AtanOp),
    (hl.SinhOp, math.SinhOp),
    (hl.CoshOp, math.CoshOp),
    (hl.AsinhOp, math.AsinhOp),
    (hl.AcoshOp, math.AcoshOp),
    (hl.AtanhOp, math.AtanhOp),
):
    elementwise(_op)(_float_math(_math_op))


@elementwise(hl.NegOp)
def _neg(op, args):
    (x,) = args
    return arith.NegfOp(x).result if is_float(x.type) else arith.SubiOp(const(0, x.type), x).result


@elementwise(hl.AbsOp)
def _abs(op, args):
    (x,) = args
    return math.AbsFOp(x).result if is_float(x.type) else maximum(x, arith.SubiOp(const(0, x.type), x).result)


@elementwise(hl.SoftplusOp)
def _softplus(op, args):
    """max(x, 0) + log1p(exp(-|x|)): log(1 + exp(x)) would overflow to inf for large x."""
    (x,) = args
    tail = math.Log1pOp(math.ExpOp(arith.NegfOp(math.AbsFOp(x))))
    return arith.AddfOp(arith.MaximumfOp(x, const(0.0, x.type)), tail).result


@elementwise(hl.PowOp)
def _pow(op, args):
    a, b = args
    return (math.PowFOp(a, b) if is_float(a.type) else math.IPowIOp(a, b)).result


@elementwise(hl.SubOp)
def _sub(op, args):
    a, b = args
    return (arith.SubfOp(a, b) if is_float(a.type) else arith.SubiOp(a, b)).result


elementwise(hl.CastOp)(lambda op, args: convert(args[0], op.result.type.element_type))
elementwise(hl.AddOp)(lambda op, args: add(*args))
elementwise(hl.MulOp)(lambda op, args: mul(*args))
elementwise(hl.DivOp)(lambda op, args: divide(*args))
elementwise(hl.FloorDivideOp)(lambda op, args: floor_divide(*args))
elementwise(hl.BitwiseAndOp)(lambda op, args: arith.AndIOp(*args).result)
elementwise(hl.BitwiseOrOp)(lambda op, args: arith.OrIOp(*args).result)
elementwise(hl.BitwiseXorOp)(lambda op, args: arith.XOrIOp(*args).result)


def _shift_count(b: SSAValue, outside_value: int) -> tuple[SSAValue, SSAValue]:
    """(b outside [0, width), b with `outside_value` there): arith's shifts are poison past the width."""
    zero, width = const(0, b.type), const(b.type.width.data, b.type)
    outside = arith.OrIOp(arith.CmpiOp(b, zero, "slt"), arith.CmpiOp(b, width, "sge")).result
    return outside, arith.SelectOp(outside, const(outside_value, b.type), b).result


@elementwise(hl.ShiftLeftOp)
def _shift_left(op, args):
    a, b = args
    outside, count = _shift_count(b, 0)
    return arith.SelectOp(outside, const(0, a.type), arith.ShLIOp(a, count)).result


@elementwise(hl.ShiftRightOp)
def _shift_right(op, args):
    a, b = args
    return arith.ShRSIOp(a, _shift_count(b, b.type.width.data - 1)[1]).result


elementwise(hl.BitwiseNotOp)(lambda op, args: arith.XOrIOp(args[0], const(-1, args[0].type)).result)
elementwise(hl.MaximumOp)(lambda op, args: maximum(*args))
elementwise(hl.MinimumOp)(lambda op, args: minimum(*args))
elementwise(hl.CompareOp)(lambda op, args: compare(*args, op.attr("predicate")))
elementwise(hl.SelectOp)(lambda op, args: arith.SelectOp(*args).result)


# --------------------------------------------------------------------------
# affine maps and reassociations
# --------------------------------------------------------------------------


def dims_map(num_dims: int, exprs: Sequence[AffineExpr | int]) -> AffineMap:
    """A map over `num_dims` loops; ints in `exprs` name loop dims."""
    results = tuple(AffineExpr.dimension(e) if isinstance(e, int) else e for e in exprs)
    return AffineMap(num_dims, 0, results)


def broadcast_map(src: Sequence[int], dst: Sequence[int]) -> AffineMap:
    """numpy broadcasting of shape `src` into the loops of shape `dst`."""
    off = len(dst) - len(src)
    exprs = [AffineExpr.constant(0) if s == 1 and dst[off + i] != 1 else off + i for i, s in enumerate(src)]
    return dims_map(len(dst), exprs)


def reassociation(big: Sequence[int], small: Sequence[int]) -> list[list[int]] | None:
    """Groups of consecutive `big` dims whose products are the `small` dims, or None."""
    if not small:
        return [] if all(d == 1 for d in big) else None
    groups, i = [], 0
    for s in small:
        group, prod = [], 1
        while not group or prod != s:
            if i >= len(big) or (prod > s and s != 0):
                return None
            group.append(i)
            prod *= big[i]
            i += 1
        groups.append(group)
    if any(d != 1 for d in big[i:]):
        return None
    groups[-1].extend(range(i, len(big)))
    return groups


def _reassoc_attr(groups: list[list[int]]) -> ArrayAttr:
    return ArrayAttr([ArrayAttr([IntegerAttr(d, i64) for d in g]) for g in groups])


def _iterators(kinds: Sequence[str]) -> list[IteratorTypeAttr]:
    return [IteratorTypeAttr.parallel() if k == "parallel" else IteratorTypeAttr.reduction() for k in kinds]


# --------------------------------------------------------------------------
# the emitter: tensor-level building blocks
# --------------------------------------------------------------------------


class _Emitter:
    """Collects, in order, the ops that replace one hl op."""

    def __init__(self) -> None:
        self.ops: list[Operation] = []

    def add(self, op: Operation) -> Operation:
        self.ops.append(op)
        return op

    def scalar(self, value: float | int | bool, et: Attribute) -> SSAValue:
        return self.add(arith.ConstantOp(scalar_attr(value, et))).result

    def empty(self, shape: Sequence[int], et: Attribute) -> SSAValue:
        # a fresh tensor.empty per use: bufferization gives each its own buffer
        return self.add(tensor.EmptyOp([], tensor_type(shape, et))).tensor

    def filled(self, value: float | int | bool, shape: Sequence[int], et: Attribute) -> SSAValue:
        init = self.empty(shape, et)
        return self.add(linalg.FillOp([self.scalar(value, et)], [init])).results[0]

    def generic(
        self,
        inputs: Sequence[tuple[SSAValue, AffineMap]],
        outputs: Sequence[tuple[SSAValue, AffineMap]],
        iterators: Sequence[str],
        body: Callable[[Sequence[SSAValue]], Sequence[SSAValue]],
    ) -> list[SSAValue]:
        """A linalg.generic; `body(block args)` builds the scalar ops and returns the yielded values."""
        operands = [v for v, _ in (*inputs, *outputs)]
        arg_types = [v.type.element_type for v in operands]

        @Builder.implicit_region(arg_types)
        def region(args) -> None:
            linalg.YieldOp(*body(args))

        op = linalg.GenericOp(
            [v for v, _ in inputs],
            [v for v, _ in outputs],
            region,
            [AffineMapAttr(m) for _, m in (*inputs, *outputs)],
            _iterators(iterators),
            [v.type for v, _ in outputs],
        )
        return list(self.add(op).results)

    def elementwise(self, inputs: Sequence[SSAValue], out_type: TensorType, body) -> SSAValue:
        """A parallel generic over `out_type` with numpy-broadcast inputs."""
        shape = shape_of(out_type)
        ins = [(v, broadcast_map(shape_of(v.type), shape)) for v in inputs]
        out = (self.empty(shape, out_type.element_type), AffineMap.identity(len(shape)))
        return self.generic(ins, [out], ["parallel"] * len(shape), lambda args: [body(args[: len(inputs)])])[0]

    def reshape(self, x: SSAValue, shape: Sequence[int]) -> SSAValue:
        """Row-major reshape: one collapse/expand where a reassociation exists, else via 1-D."""
        src = shape_of(x.type)
        shape = tuple(shape)
        if src == shape:
            return x
        out_type = tensor_type(shape, x.type.element_type)
        if not src:  # xDSL's verifier rejects expand_shape of a 0-d tensor: broadcast instead
            return self.elementwise([x], out_type, lambda args: args[0])
        if len(shape) > len(src) and (groups := reassociation(shape, src)) is not None:
            return self.add(tensor.ExpandShapeOp(x, [], _reassoc_attr(groups), shape, out_type)).result
        if len(shape) < len(src) and (groups := reassociation(src, shape)) is not None:
            op = tensor.CollapseShapeOp.build(
                operands=[x], result_types=[out_type], properties={"reassociation": _reassoc_attr(groups)}
            )
            return self.add(op).result
        return self.reshape(self.reshape(x, (pymath.prod(src),)), shape)

    def insert(self, source: SSAValue, dest: SSAValue, offsets: Sequence[int]) -> SSAValue:
        op = tensor.InsertSliceOp.from_static_parameters(source, dest, list(offsets), list(shape_of(source.type)))
        return self.add(op).result

    def pad(self, x: SSAValue, low: Sequence[int], high: Sequence[int], value: float) -> SSAValue:
        """`x` padded with `value`: a filled tensor of the padded shape and an insert_slice."""
        if not any(low) and not any(high):
            return x
        shape = [n + a + b for n, a, b in zip(shape_of(x.type), low, high, strict=True)]
        return self.insert(x, self.filled(value, shape, x.type.element_type), low)


# --------------------------------------------------------------------------
# patterns
# --------------------------------------------------------------------------


class LowerByRule(RewritePattern):
    """Replace an hl op (of the classes `only`, if given) by what its lowering rule emits."""

    def __init__(self, only: tuple[type[hl.HLOp], ...] = ()):
        self.only = only or (hl.HLOp,)

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, self.only):
            return
        rule = rules.lowering.get(op)
        if rule is None:
            if op in rules.decomposition:
                raise _unsupported(op, f"has no lowering: {HLDecomposePass.name} decomposes it, run that pass first")
            raise LoweringError(f"{ConvertHLToLinalgPass.name}: {rules.lowering.missing(op)}")
        e = _Emitter()
        result = rule(op, e)
        for new in e.ops:
            new.location = op.location
        rewriter.replace(op, e.ops, [result])


#: reductions: (init value for the element type, combine(x, acc))
REDUCTIONS: dict[type[hl.HLOp], tuple[Callable[[Attribute], float | int], Callable]] = {
    hl.SumOp: (lambda et: 0, add),
    hl.ProdOp: (lambda et: 1, mul),
    hl.MaxOp: (lowest, maximum),
    hl.MinOp: (highest, minimum),
}


@lowering(*tuple(REDUCTIONS))
def lower_reduction(op, e: _Emitter) -> SSAValue:
    """sum/prod/max/min: a filled init and a generic with reduction loops."""
    shape, et = shape_of(op.x.type), op.x.type.element_type
    dims = op.reduced_dims()
    init_value, combine = REDUCTIONS[type(op)]
    kept = [d for d in range(len(shape)) if d not in dims]
    init = e.filled(init_value(et), [shape[d] for d in kept], et)
    result = e.generic(
        [(op.x, AffineMap.identity(len(shape)))],
        [(init, dims_map(len(shape), kept))],
        ["reduction" if d in dims else "parallel" for d in range(len(shape))],
        lambda args: [combine(args[0], args[1])],
    )[0]
    return e.reshape(result, shape_of(op.result.type))


@lowering(hl.ArgmaxOp, hl.ArgminOp)
def lower_arg_reduction(op, e: _Emitter) -> SSAValue:
    """argmax/argmin: a two-output generic (running value, running index); the first extreme wins, NaN wins."""
    shape, et = shape_of(op.x.type), op.x.type.element_type
    if not shape:  # a 0-d tensor is its own one element: index 0
        return e.filled(0, (), i64)
    dim = op.attr("dim") % len(shape)
    is_max = isinstance(op, hl.ArgmaxOp)
    kept = [d for d in range(len(shape)) if d != dim]
    out_shape = [shape[d] for d in kept]
    out_map = dims_map(len(shape), kept)
    values = e.filled(lowest(et) if is_max else highest(et), out_shape, et)
    indices = e.filled(0, out_shape, i64)

    def body(args):
        x, best, best_index = args
        better = compare(x, best, "gt" if is_max else "lt")
        if is_float(et):  # numpy: the first NaN is the extreme
            x_nan = arith.CmpfOp(x, x, "uno")
            best_ok = arith.CmpfOp(best, best, "ord")
            better = arith.OrIOp(better, arith.AndIOp(x_nan, best_ok)).result
        index = arith.IndexCastOp(linalg.IndexOp(dim), i64)
        return [arith.SelectOp(better, x, best).result, arith.SelectOp(better, index, best_index).result]

    kinds = ["reduction" if d == dim else "parallel" for d in range(len(shape))]
    result = e.generic([(op.x, AffineMap.identity(len(shape)))], [(values, out_map), (indices, out_map)], kinds, body)
    return e.reshape(result[1], shape_of(op.result.type))


def _copy(args):
    return [args[0]]


@lowering(hl.ReshapeOp)
def lower_reshape(op, e: _Emitter) -> SSAValue:
    """reshape: tensor.collapse_shape / expand_shape."""
    return e.reshape(op.x, shape_of(op.result.type))


@lowering(hl.StopGradientOp)
def lower_stop_gradient(op, e: _Emitter) -> SSAValue:
    """x itself (no copy): the op only matters to autodiff, which has run before lowering."""
    return op.x


@lowering(hl.TransposeOp)
def lower_transpose(op, e: _Emitter) -> SSAValue:
    """transpose: a copy generic whose input map is the inverse permutation."""
    perm = op.attr("perm")
    out = op.result.type
    rank = len(perm)
    in_map = dims_map(rank, [perm.index(j) for j in range(rank)])
    init = (e.empty(shape_of(out), out.element_type), AffineMap.identity(rank))
    return e.generic([(op.x, in_map)], [init], ["parallel"] * rank, _copy)[0]


@lowering(hl.FlipOp)
def lower_flip(op, e: _Emitter) -> SSAValue:
    """flip: a copy generic whose input map reads index `n - 1 - i` along the flipped dims."""
    out = op.result.type
    shape = shape_of(out)
    rank = len(shape)
    flipped = {d % rank for d in op.attr("dims")}
    exprs = [
        AffineExpr.dimension(d) * -1 + (n - 1) if d in flipped else AffineExpr.dimension(d) for d, n in enumerate(shape)
    ]
    init = (e.empty(shape, out.element_type), AffineMap.identity(rank))
    return e.generic([(op.x, dims_map(rank, exprs))], [init], ["parallel"] * rank, _copy)[0]


@lowering(hl.BroadcastToOp)
def lower_broadcast_to(op, e: _Emitter) -> SSAValue:
    """broadcast_to: a copy generic with a broadcast input map."""
    if op.x.type == op.result.type:
        return op.x
    return e.elementwise([op.x], op.result.type, lambda args: args[0])


@lowering(hl.SliceOp)
def lower_slice(op, e: _Emitter) -> SSAValue:
    """slice: tensor.extract_slice for unit steps, else a generic reading start + step * i."""
    start, step = op.attr("start"), op.attr("step")
    out = op.result.type
    shape = shape_of(out)
    if all(s == 1 for s in step):
        return e.add(tensor.ExtractSliceOp(op.x, list(start), list(shape), [1] * len(shape), out)).result
    # the box the slice spans first: a unit-step dim's map is the plain d, from which linalg infers the
    # loop's extent, so an operand larger than the slice there would not verify (x[0, ::2])
    rank, x = len(shape), op.x
    box = [(n - 1) * s + 1 if n else 0 for n, s in zip(shape, step, strict=True)]
    if list(start) != [0] * rank or box != list(shape_of(x.type)):
        box_type = TensorType(out.element_type, box)
        x = e.add(tensor.ExtractSliceOp(x, list(start), box, [1] * rank, box_type)).result
    exprs = [AffineExpr.dimension(d) * s for d, s in enumerate(step)]
    init = (e.empty(shape, out.element_type), AffineMap.identity(rank))
    return e.generic([(x, dims_map(rank, exprs))], [init], ["parallel"] * rank, _copy)[0]


@lowering(hl.ConcatOp)
def lower_concat(op, e: _Emitter) -> SSAValue:
    """concat: insert_slice of each operand into one tensor.empty."""
    out = op.result.type
    dim = op.attr("dim") % len(shape_of(out))
    result = e.empty(shape_of(out), out.element_type)
    offset = 0
    for x in op.inputs:
        offsets = [offset if d == dim else 0 for d in range(len(shape_of(out)))]
        result = e.insert(x, result, offsets)
        offset += shape_of(x.type)[dim]
    return result


@lowering(hl.PadOp)
def lower_pad(op, e: _Emitter) -> SSAValue:
    """pad: linalg.fill of the padded shape and an insert_slice of the operand."""
    value = op.attr("value")
    if op.x.type.element_type != i1 and not is_float(op.x.type.element_type):
        value = int(value)
    return e.pad(op.x, op.attr("low"), op.attr("high"), value)


def _swaps_last_two(op: Operation | None) -> bool:
    """`op` is an hl.transpose that swaps only the last two dims (a matrix transpose)."""
    return isinstance(op, hl.TransposeOp) and op.is_matrix_transpose


@lowering(hl.MatmulOp)
def lower_matmul(op, e: _Emitter) -> SSAValue:
    """matmul: linalg.matmul for 2-D, else one generic over (batch..., m, n, k) with broadcast batch maps.

    An operand that is a matrix transpose (`x @ w.T`, the gradients of a matmul) is
    read through the transposed map instead: no transposed copy is made.
    """
    out, et = op.result.type, op.result.type.element_type
    if et == i1:
        raise _unsupported(op, "does not take i1 operands")
    shape = shape_of(out)
    init = e.filled(0, shape, et)
    transposed = [_swaps_last_two(x.owner) for x in (op.lhs, op.rhs)]
    if len(shape_of(op.lhs.type)) == len(shape_of(op.rhs.type)) == 2 and not any(transposed):
        return e.add(linalg.MatmulOp([op.lhs, op.rhs], [init])).results[0]
    nb = len(shape) - 2
    m, n, k = nb, nb + 1, nb + 2

    def operand(x: SSAValue, rows: int, cols: int) -> tuple[SSAValue, AffineMap]:
        if _swaps_last_two(x.owner):
            x, rows, cols = x.owner.x, cols, rows
        batch = broadcast_map(shape_of(x.type)[:-2], shape[:-2]).results
        return x, dims_map(nb + 3, [*batch, rows, cols])

    ins = [operand(op.lhs, m, k), operand(op.rhs, k, n)]
    outs = [(init, dims_map(nb + 3, [*range(nb), m, n]))]
    kinds = ["parallel"] * (nb + 2) + ["reduction"]
    return e.generic(ins, outs, kinds, lambda args: [add(args[2], mul(args[0], args[1]))])[0]


def _window_expr(out_dim: int, win_dim: int, stride: int, dilation: int) -> AffineExpr:
    return AffineExpr.dimension(out_dim) * stride + AffineExpr.dimension(win_dim) * dilation


@lowering(hl.Conv2dOp)
def lower_conv2d(op, e: _Emitter) -> SSAValue:
    """conv2d: pad, then a generic over (n, o, oh, ow, c, kh, kw); groups pick channels o // (O/g) * (C/g) + c."""
    (sh, sw), (ph, pw), (dh, dw) = (hl.pair(op.attr(k)) for k in ("stride", "padding", "dilation"))
    groups = op.attr("groups")
    out = op.result.type
    o, ci = shape_of(op.weight.type)[:2]
    x = e.pad(op.input, [0, 0, ph, pw], [0, 0, ph, pw], 0.0)
    channel = AffineExpr.dimension(4)
    if groups > 1:
        channel = (AffineExpr.dimension(1) // (o // groups)) * ci + channel
    x_map = dims_map(7, [0, channel, _window_expr(2, 5, sh, dh), _window_expr(3, 6, sw, dw)])
    ins = [(x, x_map), (op.weight, dims_map(7, [1, 4, 5, 6]))]
    outs = [(e.filled(0.0, shape_of(out), out.element_type), dims_map(7, [0, 1, 2, 3]))]
    kinds = ["parallel"] * 4 + ["reduction"] * 3
    return e.generic(ins, outs, kinds, lambda args: [add(args[2], mul(args[0], args[1]))])[0]


@lowering(hl.MaxPool2dOp, hl.AvgPool2dOp)
def lower_pool2d(op, e: _Emitter) -> SSAValue:
    """max/avg pooling: pad, then a generic over (n, c, oh, ow, kh, kw); an empty KHxKW tensor bounds the window loops."""
    (kh, kw), (sh, sw), (ph, pw) = (hl.pair(op.attr(k)) for k in ("kernel", "stride", "padding"))
    out, et = op.result.type, op.result.type.element_type
    is_max = isinstance(op, hl.MaxPool2dOp)
    pad_value = lowest(et) if is_max else 0
    x = e.pad(op.x, [0, 0, ph, pw], [0, 0, ph, pw], pad_value)
    x_map = dims_map(6, [0, 1, _window_expr(2, 4, sh, 1), _window_expr(3, 5, sw, 1)])
    ins = [(x, x_map), (e.empty([kh, kw], et), dims_map(6, [4, 5]))]
    outs = [(e.filled(pad_value, shape_of(out), et), dims_map(6, [0, 1, 2, 3]))]
    combine = maximum if is_max else add
    kinds = ["parallel"] * 4 + ["reduction"] * 2
    result = e.generic(ins, outs, kinds, lambda args: [combine(args[0], args[2])])[0]
    if not is_max:  # the divisor counts padding (count_include_pad)
        result = e.elementwise([result], out, lambda args: divide(args[0], const(kh * kw, et)))
    return result


def _index(value: int) -> SSAValue:
    return arith.ConstantOp(IntegerAttr(value, IndexType())).result


@lowering(hl.GatherOp)
def lower_gather(op, e: _Emitter) -> SSAValue:
    """gather: a generic over the result reading `x` with `tensor.extract` at the loaded index along `dim`.

    The index is read through a broadcast map (its size-1 dims) and clamped into [0, n): compiled
    code cannot raise (the reference raises IndexError).
    """
    out = op.result.type
    shape = shape_of(out)
    rank = len(shape)
    dim = op.attr("dim") % max(rank, 1)
    last = shape_of(op.x.type)[dim] - 1 if rank else 0

    def body(args):
        at = arith.IndexCastOp(args[0], IndexType()).result
        at = arith.MinSIOp(arith.MaxSIOp(at, _index(0)), _index(last)).result
        indices = [at if d == dim else linalg.IndexOp(d).result for d in range(rank)]
        return [tensor.ExtractOp(op.x, indices, out.element_type).result]

    index = (op.index, broadcast_map(shape_of(op.index.type), shape))
    init = (e.empty(shape, out.element_type), AffineMap.identity(rank))
    return e.generic([index], [init], ["parallel"] * rank, body)[0]


#: hl.scatter's reductions: how a hit combines with the running value
_SCATTER_COMBINE = {"sum": add, "prod": mul, "amax": maximum, "amin": minimum}


@lowering(hl.ScatterOp)
def lower_scatter(op, e: _Emitter) -> SSAValue:
    """scatter: a generic over (x's dims, j) whose init is a copy of x, j running along src's `dim`:
    each result element combines the src elements whose index equals its position along `dim`.

    No write position depends on data (linalg cannot express one), so the loops visit every
    (element, j) pair: O(x.size * src.shape[dim]) compares, no one-hot tensor in memory.
    An index out of range matches nothing and is dropped: compiled code cannot raise (the
    reference raises IndexError).
    """
    out = op.result.type
    shape = shape_of(out)
    rank = len(shape)
    dim = op.attr("dim") % rank
    combine = _SCATTER_COMBINE[op.attr("reduce")]
    src_exprs = [rank if d == dim else d for d in range(rank)]  # loop j (number `rank`) at dim
    index_exprs = [
        AffineExpr.constant(0) if n == 1 and d != dim else x
        for d, (x, n) in enumerate(zip(src_exprs, shape_of(op.index.type)))
    ]
    ishape = shape_of(op.index.type)
    kinds = ["parallel"] * rank + ["reduction"]
    out_map = dims_map(rank + 1, list(range(rank)))
    src_in = (op.src, dims_map(rank + 1, src_exprs))
    if op.attr("reduce") == "sum" and all(n == 1 for d, n in enumerate(ishape) if d != dim):
        # one index row (index_add, index_put): out += src's rows selected by a one-hot mask of the index along
        # dim, a contraction that the targets tile and vectorize like a matmul (the compare-select body below is
        # ~4x slower). It selects (C += hot ? src : 0) rather than multiplies by a 0/1 matrix: 0 * inf would
        # make every other row's sum nan where one src value is inf (an inf gradient of an embedding row).
        et = out.element_type
        rows = e.reshape(op.index, (ishape[dim],))
        n = shape[dim]

        def one_hot(args):
            return [arith.CmpiOp(arith.IndexCastOp(args[0], IndexType()), linalg.IndexOp(0), "eq").result]

        hot = e.generic(
            [(rows, dims_map(2, [1]))],
            [(e.empty((n, ishape[dim]), i1), AffineMap.identity(2))],
            ["parallel", "parallel"],
            one_hot,
        )[0]
        hot_in = (hot, dims_map(rank + 1, [dim, rank]))
        zeros = e.filled(0, shape, et)  # a filled init, as a matmul's: the targets recognize C = 0; C += A ? B : 0

        def select_add(args):
            return [add(args[2], arith.SelectOp(args[0], args[1], const(0, et)).result)]

        summed = e.generic([hot_in, src_in], [(zeros, out_map)], kinds, select_add)
        return e.elementwise([op.x, summed[0]], out, lambda args: add(*args))

    init = e.elementwise([op.x], out, lambda args: args[0])  # the generic updates a copy, not x's buffer

    def body(args):
        at, src, acc = args
        hit = arith.CmpiOp(arith.IndexCastOp(at, IndexType()), linalg.IndexOp(dim), "eq").result
        return [arith.SelectOp(hit, combine(acc, src), acc).result]

    return e.generic([(op.index, dims_map(rank + 1, index_exprs)), src_in], [(init, out_map)], kinds, body)[0]


@lowering(hl.ConstantOp)
def lower_constant(op, e: _Emitter) -> SSAValue:
    """constant: arith.constant with the dense value."""
    return e.add(arith.ConstantOp(op.attributes["value"], op.result.type)).result


@lowering(hl.FullOp)
def lower_full(op, e: _Emitter) -> SSAValue:
    """full: linalg.fill of a tensor.empty."""
    out = op.result.type
    return e.filled(op.attr("value"), shape_of(out), out.element_type)


@lowering(hl.IotaOp)
def lower_iota(op, e: _Emitter) -> SSAValue:
    """iota: a generic with no inputs yielding linalg.index of `dim`, cast to the dtype."""
    out, et = op.result.type, op.result.type.element_type
    shape = shape_of(out)
    dim = op.attr("dim") % max(len(shape), 1)
    if et == i1:
        raise _unsupported(op, f"cannot produce {dtype_name(et)}")

    def body(args):
        index = linalg.IndexOp(dim).result
        if is_float(et):
            return [arith.SIToFPOp(arith.IndexCastOp(index, i64), et).result]
        return [arith.IndexCastOp(index, et).result]

    init = (e.empty(shape, et), AffineMap.identity(len(shape)))
    return e.generic([], [init], ["parallel"] * len(shape), body)[0]


def _i32(value: int) -> SSAValue:
    """An i32 constant from a uint32 bit pattern."""
    return const(value - 2**32 if value >= 2**31 else value, i32)


@lowering(hl.RandomUniformOp)
def lower_random_uniform(op, e: _Emitter) -> SSAValue:
    """random_uniform: a generic hashing (key, flat index) with i32 wrap-around arithmetic, like `hl.random_bits`."""
    out, et = op.result.type, op.result.type.element_type
    shape = shape_of(out)
    strides = [pymath.prod(shape[d + 1 :]) for d in range(len(shape))]

    def body(args):
        flat = _i32(0)
        for d, stride in enumerate(strides):
            index = arith.IndexCastOp(linalg.IndexOp(d), i32)
            flat = arith.AddiOp(flat, arith.MuliOp(index, _i32(stride))).result
        x = arith.AddiOp(flat, arith.MuliOp(arith.TruncIOp(args[0], i32), _i32(0x9E3779B9))).result
        for shift, factor in ((16, 0x7FEB352D), (15, 0x846CA68B)):
            x = arith.MuliOp(arith.XOrIOp(x, arith.ShRUIOp(x, _i32(shift))), _i32(factor)).result
        x = arith.XOrIOp(x, arith.ShRUIOp(x, _i32(16))).result
        top24 = arith.UIToFPOp(arith.ShRUIOp(x, _i32(8)), et)
        return [arith.MulfOp(top24, const(2.0**-24, et)).result]

    key = (op.key, dims_map(len(shape), []))
    init = (e.empty(shape, et), AffineMap.identity(len(shape)))
    return e.generic([key], [init], ["parallel"] * len(shape), body)[0]


class ConvertHLToLinalgPass(ModulePass):
    """Lower every hl op to linalg on tensors; an op left over is an error naming it."""

    name = "convert-hl-to-linalg"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # matmuls first, while the transposes they read through are still hl ops (see lower_matmul)
        PatternRewriteWalker(LowerByRule(only=(hl.MatmulOp,)), apply_recursively=False).rewrite_module(op)
        for dead in reversed([t for t in op.walk() if isinstance(t, hl.TransposeOp) and not t.result.uses]):
            dead.detach()
            dead.erase()
        PatternRewriteWalker(LowerByRule(), apply_recursively=False).rewrite_module(op)


# --------------------------------------------------------------------------
# everyday math (issue 12): atan2 and fmod (the unary ones are in the table above)
# --------------------------------------------------------------------------

elementwise(hl.Atan2Op)(lambda op, args: math.Atan2Op(*args).result)


@elementwise(hl.FmodOp)
def _fmod(op, args):
    """C's remainder (arith.remf / remsi); an integer x fmod 0 gives 0 (compiled code must not trap)."""
    a, b = args
    if is_float(a.type):
        return RemFOp(a, b).result
    if a.type == i1:
        raise _unsupported(op, "does not take i1 operands")
    is_zero = arith.CmpiOp(b, const(0, b.type), "eq").result
    return arith.RemSIOp(a, arith.SelectOp(is_zero, const(1, b.type), b)).result


# --------------------------------------------------------------------------
# special functions: their scalar algorithms (irc/ir/special_functions.py) emit the body, in the op's dtype
# --------------------------------------------------------------------------


def _special(algorithm: Callable, *attributes: str) -> Body:
    def body(op, args):
        return algorithm(ScalarMath, Scalar(args[0]), *(op.attr(a) for a in attributes)).value

    return body


elementwise(hl.LgammaOp)(_special(special_functions.lgamma))
elementwise(hl.PolygammaOp)(_special(special_functions.polygamma, "n"))
elementwise(hl.ErfinvOp)(_special(special_functions.erfinv))
elementwise(hl.NdtriOp)(_special(special_functions.ndtri))
elementwise(hl.I0eOp)(_special(special_functions.i0e))
elementwise(hl.I1eOp)(_special(special_functions.i1e))
