"""The `hl` dialect: irc's high-level tensor dialect.

Every op works on ranked, statically shaped tensors of f32, f64, f16, bf16,
i32, i64 or i1 (an op on f16 or bf16 computes in f32 and rounds its result
once, as PyTorch's CPU kernels: see `evaluate_op`).  Each op class declares,
in one place:

* its operands, results and typed attributes (IRDL; ``dims = attribute(INTS)``),
* ``infer(operand_types, attrs) -> result type``: the shape/dtype rule, used
  both by builders (``HLOp.make``) and by the verifier,
* ``evaluate(*arrays)``: its numpy reference semantics (the oracle for every
  test, and the ``ref`` target).

Its other rules (VJP, JVP, decomposition, lowering to linalg) are registered
by op class in ``irc/ir/rules.py`` by the layers that use them.

Textual form (custom assembly, round-trips)::

    %2 = hl.add %0, %1 : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
    %3 = hl.sum %2 {dims = array<i64: 1>, keepdim = false} : (tensor<4x3xf32>) -> tensor<4xf32>
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    BFloat16Type,
    BoolAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float16Type,
    Float32Type,
    Float64Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    StringAttr,
    TensorType,
    bf16,
    f16,
    f32,
    f64,
    i1,
    i32,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    AttrConstraint,
    EqAttrConstraint,
    IRDLOperation,
    VerificationContext,
    irdl_op_definition,
    irdl_to_attr_constraint,
    operand_def,
    opt_attr_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import ParseError, VerifyException

from irc.ir import special_functions
from irc.runtime.dtypes import HALF_DTYPES, NUMPY_DTYPES, supported_dtype

# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------

DTYPES: dict[str, Attribute] = {"f32": f32, "f64": f64, "f16": f16, "bf16": bf16, "i32": i32, "i64": i64, "i1": i1}


_DTYPE_NAMES: dict[Attribute, str] = {t: name for name, t in DTYPES.items()}


def dtype_name(element_type: Attribute) -> str:
    """The short name ('f32', 'i1', ...) of an xDSL element type."""
    name = _DTYPE_NAMES.get(element_type)
    if name is None:
        raise VerifyException(f"unsupported element type {element_type}; hl supports {', '.join(DTYPES)}")
    return name


def numpy_dtype(element_type: Attribute) -> np.dtype:
    """The numpy dtype of an hl element type, or of `index` (int64; the loop stages' counters)."""
    if isinstance(element_type, IndexType):
        return np.dtype(np.int64)
    return NUMPY_DTYPES[dtype_name(element_type)]


def element_type_of(dtype: np.dtype | str) -> Attribute:
    """The xDSL element type for a numpy dtype (or a short name)."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    return _ELEMENT_TYPES[supported_dtype(dtype, "irc")]


_ELEMENT_TYPES: dict[np.dtype, Attribute] = {NUMPY_DTYPES[name]: t for name, t in DTYPES.items()}


def is_float(element_type: Attribute) -> bool:
    return isinstance(element_type, (Float32Type, Float64Type, Float16Type, BFloat16Type))


def is_16bit_float(element_type: Attribute) -> bool:
    """f16 or bf16: stored in 16 bits, computed in f32 (see `evaluate_op`)."""
    return isinstance(element_type, (Float16Type, BFloat16Type))


def tensor_type(shape: Sequence[int], element_type: Attribute) -> TensorType:
    return _tensor_type(tuple(int(s) for s in shape), element_type)


@functools.lru_cache(maxsize=4096)
def _tensor_type(shape: tuple[int, ...], element_type: Attribute) -> TensorType:
    """Built once per shape and dtype: xDSL verifies every new attribute (the eager graph builds thousands)."""
    return TensorType(element_type, list(shape))


def shape_of(t: Attribute) -> tuple[int, ...]:
    assert isinstance(t, TensorType), t
    return tuple(t.get_shape())


def fmt_type(t: Attribute) -> str:
    if isinstance(t, TensorType):
        return "x".join([*(str(s) for s in t.get_shape()), dtype_name(t.element_type)])
    return str(t)


# --------------------------------------------------------------------------
# attributes: every hl attribute has one of the kinds below; an op declares
# each of its attributes as a field, `dims = attribute(INTS)`: an xDSL
# attribute definition with the kind's constraint (printed in the attr-dict).
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class AttrKind:
    """The type of an hl attribute: its xDSL constraint, and how a Python value becomes one and back."""

    description: str
    constraint: AttrConstraint
    build: Callable[[object], Attribute]
    read: Callable[[Attribute], object]


def _read_scalar(attr: Attribute) -> int | float | bool:
    if isinstance(attr, FloatAttr):
        return attr.value.data
    return bool(attr.value.data) if attr.type == i1 else attr.value.data


def _build_scalar(value: object) -> Attribute:
    if isinstance(value, bool):
        return BoolAttr.from_bool(value)
    return IntegerAttr(value, i64) if isinstance(value, int) else FloatAttr(float(value), f64)


def _ints(values) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


_INT_ARRAY = DenseArrayBase.constr(i64)


@dataclass(frozen=True)
class _PairConstraint(AttrConstraint):
    """An i64 array of two elements."""

    def verify(self, attr: Attribute, constraint_context: VerificationContext) -> None:
        _INT_ARRAY.verify(attr, constraint_context)
        if len(attr.get_values()) != 2:
            raise VerifyException(f"{attr} has {len(attr.get_values())} elements, not 2")

    def mapping_type_vars(self, type_var_mapping) -> _PairConstraint:
        return self


INTS = AttrKind("an i64 array (array<i64: ...>)", _INT_ARRAY, _ints, lambda a: tuple(a.get_values()))
#: a (height, width) pair; an int v is built as (v, v)
PAIR = AttrKind("an i64 pair (array<i64: h, w>)", _PairConstraint(), lambda v: _ints(pair(v)), INTS.read)
INT = AttrKind("an i64 integer", IntegerAttr.constr(type=i64), lambda v: IntegerAttr(int(v), i64), _read_scalar)
BOOL = AttrKind("a bool (true or false)", irdl_to_attr_constraint(BoolAttr), BoolAttr.from_bool, _read_scalar)
FLOAT = AttrKind("an f64 float", FloatAttr.constr(f64), lambda v: FloatAttr(float(v), f64), _read_scalar)
STRING = AttrKind("a string", irdl_to_attr_constraint(StringAttr), StringAttr, lambda a: a.data)
#: a number of any dtype: a bool, an i64 integer or an f64 float
SCALAR = AttrKind(
    "a number (an f64 float, an i64 integer or a bool)",
    IntegerAttr.constr(type=EqAttrConstraint(i64) | EqAttrConstraint(i1)) | FloatAttr.constr(f64),
    _build_scalar,
    _read_scalar,
)
DENSE = AttrKind("a dense tensor", irdl_to_attr_constraint(DenseIntOrFPElementsAttr), lambda v: v, lambda a: a)


#: the default of an attribute that has none: it must be given
REQUIRED = object()


@dataclass(frozen=True)
class AttrSpec:
    """One attribute of an op: its kind, and its default (`REQUIRED`: none, the attribute must be given)."""

    kind: AttrKind
    default: object

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def attribute(kind: AttrKind, default: object = REQUIRED):
    """Declare an hl attribute of `kind`; with a `default`, it is optional and `op.attr` reads the default when absent.

    To xDSL every hl attribute is optional: `HLOp.verify_attributes` checks that the required ones are there,
    with a message naming the op and the attribute (xDSL checks a required one while parsing, and its message
    names neither).  Defaults are not xDSL's `default_value` either: its printer drops an attribute equal to it.
    """
    field = opt_attr_def(kind.constraint)
    field.hl_spec = AttrSpec(kind, default)
    return field


class ShapeError(VerifyException):
    """A shape or dtype rule of an hl op is broken."""


def _err(op: str, msg: str, types: Sequence[Attribute]) -> ShapeError:
    shapes = ", ".join(fmt_type(t) for t in types) or "none"
    return ShapeError(f"hl.{op}: {msg} (operands: {shapes})")


def broadcast_shapes(op: str, types: Sequence[Attribute]) -> tuple[int, ...]:
    """numpy broadcasting of the operand shapes, or a ShapeError naming the op.

    (In Python: `np.broadcast_shapes` costs ~100 us a call, and the eager graph makes thousands.)
    """
    shapes = [shape_of(t) for t in types]
    out = [1] * max(map(len, shapes), default=0)
    for shape in shapes:
        for i, d in enumerate(shape, len(out) - len(shape)):
            if d != 1:
                if out[i] not in (1, d):
                    raise _err(op, "shapes do not broadcast", types)
                out[i] = d
    return tuple(out)


def normalize_dim(op: str, dim: int, rank: int, types) -> int:
    if not -max(rank, 1) <= dim < max(rank, 1):
        raise _err(op, f"dim {dim} out of range for rank {rank}", types)
    return dim % max(rank, 1)


# --------------------------------------------------------------------------
# base class
# --------------------------------------------------------------------------

_FORMAT = "operands attr-dict `:` functional-type(operands, results)"


class HLOp(IRDLOperation):
    """Base of every hl op: the shape rule, verifier and numpy reference."""

    assembly_format = _FORMAT
    traits = traits_def(Pure())
    #: the op's attributes, name -> spec, collected from its `attribute(...)` fields by `hl_op`
    ATTRIBUTES: ClassVar[dict[str, AttrSpec]] = {}
    #: False for ops with no derivative (compare, argmax, iota, ...)
    DIFFERENTIABLE: ClassVar[bool] = True

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("hl.")

    def attr(self, key: str):
        """The Python value of attribute `key` (its default when absent): `op.attr("dims") == (1,)`."""
        spec = self.ATTRIBUTES[key]
        value = self.attributes.get(key)
        return spec.default if value is None else spec.kind.read(value)

    def attr_values(self) -> dict[str, object]:
        return {k: self.attr(k) for k in self.ATTRIBUTES}

    @classmethod
    def with_defaults(cls, attrs: dict[str, object]) -> dict[str, object]:
        """`attrs` (Python values) and the defaults of the others (None for a required one not given)."""
        for k in attrs:
            if k not in cls.ATTRIBUTES:
                raise TypeError(f"{cls.name} takes no attribute {k!r} (known: {', '.join(cls.ATTRIBUTES) or 'none'})")
        return {k: attrs.get(k, None if spec.required else spec.default) for k, spec in cls.ATTRIBUTES.items()}

    @classmethod
    def infer(cls, types: Sequence[Attribute], attrs: dict[str, object]) -> Attribute:
        raise NotImplementedError

    def evaluate(self, *args: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def make(cls, operands: Sequence[SSAValue | Operation], result_type: Attribute | None = None, **attrs) -> HLOp:
        """Build the op from Python attribute values; the result type is inferred unless given.

        >>> SumOp.make([x], dims=(1,), keepdim=False)
        """
        values = [SSAValue.get(o) for o in operands]
        full = cls.with_defaults(attrs)
        if result_type is None:
            result_type = cls.infer([v.type for v in values], full)
        attributes = {
            k: v if isinstance(v, Attribute) else cls.ATTRIBUTES[k].kind.build(v)
            for k, v in attrs.items()
            if v is not None
        }
        return cls.build(operands=cls._operand_groups(values), result_types=[result_type], attributes=attributes)

    @classmethod
    def _operand_groups(cls, values):
        return list(values)

    def verify_attributes(self) -> None:
        """Every attribute is one the op declares, of its kind; every required one is there."""
        for k, value in self.attributes.items():
            spec = self.ATTRIBUTES.get(k)
            if spec is None:
                known = ", ".join(self.ATTRIBUTES) or "none"
                raise VerifyException(f"{self.name}: unknown attribute '{k}' (known: {known})")
            try:
                spec.kind.constraint.verify(value, VerificationContext())
            except VerifyException:
                raise VerifyException(
                    f"{self.name}: attribute '{k}' must be {spec.kind.description}, got {value}"
                ) from None
        for k, spec in self.ATTRIBUTES.items():
            if spec.required and k not in self.attributes:
                raise VerifyException(f"{self.name}: missing attribute '{k}'")

    def verify_types(self) -> None:
        """Every operand and result is a tensor of an hl dtype."""
        for t in [*(o.type for o in self.operands), *(r.type for r in self.results)]:
            if not isinstance(t, TensorType):
                raise VerifyException(f"{self.name}: expected tensor types, got {t}")
            try:
                dtype_name(t.element_type)
            except VerifyException as e:
                raise VerifyException(f"{self.name}: {e}") from None

    def verify_(self) -> None:
        types = [o.type for o in self.operands]
        expected = self.infer(types, self.attr_values())
        actual = self.results[0].type
        if expected != actual:
            raise VerifyException(
                f"{self.name}: result type {fmt_type(actual)} does not match the inferred {fmt_type(expected)} "
                f"(operands: {', '.join(fmt_type(t) for t in types)})"
            )


def hl_op(cls: type[HLOp]) -> type[HLOp]:
    """`irdl_op_definition` for an hl op: it also collects the op's `attribute(...)` fields into
    `ATTRIBUTES`, checks attribute names and kinds and the operand and result types first, so that
    the verifier's message names the op and the attribute, and makes a parse error name the op."""
    attributes: dict[str, AttrSpec] = {}
    for klass in reversed(cls.__mro__):  # a base's fields first; a base already defined keeps them in ATTRIBUTES
        attributes.update(vars(klass).get("ATTRIBUTES", {}))
        attributes.update({name: field.hl_spec for name, field in vars(klass).items() if hasattr(field, "hl_spec")})
    op = irdl_op_definition(cls)
    op.ATTRIBUTES = attributes
    verify_, parse = op.verify_, op.parse.__func__

    def verify_attributes_first(self: HLOp) -> None:
        self.verify_attributes()
        self.verify_types()
        try:
            verify_(self)
        except VerifyException as e:  # xDSL's own checks (operand count) do not name the op
            if str(e).startswith(f"{self.name}: "):
                raise
            raise VerifyException(f"{self.name}: {e}") from None

    def parse_naming_the_op(cls, parser):
        # xDSL's custom-format parser checks the operand and result types while it parses, with a
        # VerifyException that has no position, and its ParseErrors do not name the op
        operands = parser._current_token.span
        try:
            return parse(cls, parser)
        except ParseError as e:
            raise ParseError(e.span, f"{cls.name}: {e.msg}") from None
        except VerifyException as e:
            parser.raise_error(f"{cls.name}: operand and result types must be tensors ({e})", operands)

    op.verify_ = verify_attributes_first
    op.parse = classmethod(parse_naming_the_op)
    return op


def _out_dtype(op: Operation):
    return numpy_dtype(op.results[0].type.element_type)


def evaluate_op(op: HLOp, *args: np.ndarray) -> np.ndarray:
    """`op.evaluate(*args)`, where f16 and bf16 compute in f32: their operands are widened, and the
    result is rounded once to the result type (PyTorch's CPU kernels; reductions and matmul
    accumulate in f32). A conversion to or from a 16-bit float goes through f32, as in PyTorch."""
    if not any(a.dtype in HALF_DTYPES for a in args) and _out_dtype(op) not in HALF_DTYPES:
        return op.evaluate(*args)
    wide = [a.astype(np.float32) if a.dtype in HALF_DTYPES else a for a in args]
    if isinstance(op, CastOp) and _out_dtype(op) in HALF_DTYPES:
        wide = [a.astype(np.float32) for a in wide]
    return np.asarray(op.evaluate(*wide)).astype(_out_dtype(op), copy=False)


# --------------------------------------------------------------------------
# elementwise unary
# --------------------------------------------------------------------------


class UnaryOp(HLOp):
    x = operand_def(TensorType)
    result = result_def(TensorType)
    FLOAT_ONLY: ClassVar[bool] = True
    FN: ClassVar = None

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        if cls.FLOAT_ONLY and not is_float(t.element_type):
            raise _err(cls.name[3:], "expects a floating-point tensor", types)
        return t

    def evaluate(self, x):
        return np.asarray(type(self).FN(x)).astype(_out_dtype(self), copy=False)


#: erf on [0, _ERF_END] as cubic pieces between grid points _ERF_STEP apart
_ERF_END, _ERF_STEP = 6.0, 2.0**-13


@functools.cache
def _erf_table() -> np.ndarray:
    """Per grid step, the coefficients (c0, c1, c2, c3) of erf(step start + u * _ERF_STEP) ~ c0 + u (c1 +
    u (c2 + u c3)), u in [0, 1]: the cubic Hermite interpolant of `math.erf` values and exact slopes at
    both ends (its error is below 1e-17)."""
    grid = np.arange(int(_ERF_END / _ERF_STEP) + 2) * _ERF_STEP
    y = np.array([math.erf(v) for v in grid.tolist()])
    d = 2 / math.sqrt(math.pi) * np.exp(-grid * grid) * _ERF_STEP  # d erf / du
    y0, y1, d0, d1 = y[:-1], y[1:], d[:-1], d[1:]
    return np.stack([y0, d0, 3 * (y1 - y0) - 2 * d0 - d1, 2 * (y0 - y1) + d0 + d1])


def _erf(x):
    """erf in float64, vectorized, from a table (`_erf_table`): within 5e-16 (2 ulp) of `math.erf`
    (tests/ir/test_hl_reference.py), 1 from 6 on (erfc(6) < 2^-54), odd, NaN for NaN. `math.erf`
    element by element took 100 ns per element: GELU's erf was half of a GPT step interpreted. Few
    temporaries: a fresh array of a MB or more comes from the OS with page faults."""
    c0, c1, c2, c3 = _erf_table()
    x64 = np.asarray(x, dtype=np.float64).reshape(-1)  # 1-d: `np.take` of a 0-d index gives no array
    u = np.fmin(np.abs(x64), _ERF_END)  # NaN -> _ERF_END, put right below
    u *= 1 / _ERF_STEP
    k = np.minimum(u.astype(np.int64), len(c0) - 1)
    u -= k
    y = np.take(c3, k)
    part = np.take(c2, k)
    y *= u
    y += part
    y *= u
    y += np.take(c1, k, out=part)
    y *= u
    y += np.take(c0, k, out=part)
    np.copysign(y, x64, out=y)  # erf(-0.0) is -0.0
    nan = np.isnan(x64)
    if nan.any():
        y[nan] = np.nan
    return y.reshape(np.shape(x)).astype(x.dtype, copy=False)


def _sigmoid(x):
    """1 / (1 + exp(-x)), with exp of -|x| only (exp(1000) would be inf)."""
    e = np.exp(-np.abs(x))
    return np.where(x > 0, 1 / (1 + e), e / (1 + e))


def _unary(op_name: str, fn, float_only: bool = True, doc: str = ""):
    cls = type(
        f"{op_name.capitalize()}Op",
        (UnaryOp,),
        {
            "name": f"hl.{op_name}",
            "FN": staticmethod(fn),
            "FLOAT_ONLY": float_only,
            "__doc__": doc,
            "__module__": __name__,
            "__annotations__": {"FN": ClassVar, "FLOAT_ONLY": ClassVar},
        },
    )
    return hl_op(cls)


NegOp = _unary("neg", np.negative, float_only=False, doc="-x")
AbsOp = _unary("abs", np.abs, float_only=False, doc="|x|")
ExpOp = _unary("exp", np.exp, doc="e**x")
LogOp = _unary("log", np.log, doc="natural logarithm")
SqrtOp = _unary("sqrt", np.sqrt, doc="square root")
RsqrtOp = _unary("rsqrt", lambda x: 1 / np.sqrt(x), doc="1 / sqrt(x) (a composite, see decompose.py)")
TanhOp = _unary("tanh", np.tanh, doc="hyperbolic tangent")
SigmoidOp = _unary("sigmoid", _sigmoid, doc="1 / (1 + exp(-x)) (a composite, see decompose.py)")
ReluOp = _unary(
    "relu",
    lambda x: np.maximum(x, np.zeros((), x.dtype)),
    float_only=False,
    doc="max(x, 0) (a composite, see decompose.py)",
)
SinOp = _unary("sin", np.sin, doc="sine")
CosOp = _unary("cos", np.cos, doc="cosine")
ErfOp = _unary("erf", _erf, doc="Gauss error function")
SoftplusOp = _unary("softplus", lambda x: np.logaddexp(0, x), doc="log(1 + exp(x)), without overflow")


@hl_op
class StopGradientOp(UnaryOp):
    """x, with no derivative: autodiff (`irc.grad`, `vjp`, `jvp`) takes it as a constant. `x.detach()`
    of a traced value records it; lowered, it is x itself."""

    name = "hl.stop_gradient"
    FLOAT_ONLY: ClassVar[bool] = False
    DIFFERENTIABLE: ClassVar[bool] = False
    FN: ClassVar = staticmethod(lambda x: x)


@hl_op
class BitwiseNotOp(UnaryOp):
    """~x: bitwise not of an integer tensor, logical not of a bool (i1) tensor."""

    name = "hl.bitwise_not"
    FLOAT_ONLY: ClassVar[bool] = False
    DIFFERENTIABLE: ClassVar[bool] = False
    FN: ClassVar = staticmethod(np.invert)

    @classmethod
    def infer(cls, types, attrs):
        if is_float(types[0].element_type):
            raise _err("bitwise_not", "expects an integer or bool tensor", types)
        return types[0]


@hl_op
class CastOp(HLOp):
    """Convert the element type; the result type names the target dtype."""

    name = "hl.cast"
    x = operand_def(TensorType)
    result = result_def(TensorType)
    DIFFERENTIABLE: ClassVar[bool] = True

    @classmethod
    def infer(cls, types, attrs):
        raise _err("cast", "needs an explicit result type", types)

    @classmethod
    def make(cls, operands, result_type=None, **attrs):
        if result_type is None:
            raise TypeError("hl.cast needs a result type")
        return super().make(operands, result_type, **attrs)

    def verify_(self):
        src, dst = self.x.type, self.result.type
        if shape_of(src) != shape_of(dst):
            raise VerifyException(f"hl.cast: shape changes from {fmt_type(src)} to {fmt_type(dst)}")

    def evaluate(self, x):
        return x.astype(_out_dtype(self))


# --------------------------------------------------------------------------
# elementwise binary (numpy broadcasting)
# --------------------------------------------------------------------------


class BinaryOp(HLOp):
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    FN: ClassVar = None

    @classmethod
    def infer(cls, types, attrs):
        a, b = types
        if a.element_type != b.element_type:
            raise _err(cls.name[3:], "operand dtypes differ", types)
        return tensor_type(broadcast_shapes(cls.name[3:], types), a.element_type)

    def evaluate(self, a, b):
        return np.asarray(type(self).FN(a, b)).astype(_out_dtype(self), copy=False)


def _div(a, b):
    if np.issubdtype(a.dtype, np.integer):
        # C semantics (truncation), which is what the compiled code does
        with np.errstate(divide="ignore"):
            return np.trunc(np.true_divide(a, np.where(b == 0, 1, b))).astype(a.dtype)
    return np.true_divide(a, b)


def _floor_divide(a, b):
    if np.issubdtype(a.dtype, np.integer):
        # x // 0 gives x, like hl.div (the compiled code must not trap)
        return np.floor_divide(a, np.where(b == 0, 1, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.floor_divide(a, b)  # Python's (and PyTorch's) rounding: 1.0 // 0.1 == 9.0


def power(a, b):
    """a ** b elementwise, as PyTorch's: integers wrap on overflow; a negative integer exponent gives 1 for base 1,
    +-1 for base -1 and 0 otherwise (numpy raises)."""
    if np.issubdtype(a.dtype, np.integer):
        negative = b < 0
        with np.errstate(over="ignore"):
            out = np.power(a, np.where(negative, 0, b))
        small = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 == 0, 1, -1), 0)).astype(a.dtype)
        return np.where(negative, small, out)
    return np.power(a, b)


class BitwiseOp(BinaryOp):
    """A bitwise op: integer or bool (i1) operands only, no derivative."""

    DIFFERENTIABLE: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs):
        if is_float(types[0].element_type) or is_float(types[1].element_type):
            raise _err(cls.name[3:], "expects integer or bool tensors", types)
        return super().infer(types, attrs)


def _binary(op_name: str, fn, doc: str = "", base: type[BinaryOp] = BinaryOp):
    cls = type(
        "".join(part.capitalize() for part in op_name.split("_")) + "Op",
        (base,),
        {
            "name": f"hl.{op_name}",
            "FN": staticmethod(fn),
            "__doc__": doc,
            "__module__": __name__,
            "__annotations__": {"FN": ClassVar, "FLOAT_ONLY": ClassVar},
        },
    )
    return hl_op(cls)


AddOp = _binary("add", np.add, "a + b")
SubOp = _binary("sub", np.subtract, "a - b")
MulOp = _binary("mul", np.multiply, "a * b")
DivOp = _binary("div", _div, "a / b (integer division truncates)")
PowOp = _binary("pow", power, "a ** b (integers: wrapping; a negative exponent gives 0 unless the base is +-1)")
MaximumOp = _binary("maximum", np.maximum, "elementwise max")
MinimumOp = _binary("minimum", np.minimum, "elementwise min")
FloorDivideOp = _binary("floor_divide", _floor_divide, "floor(a / b), rounded as Python's // (integer x // 0 gives x)")
BitwiseAndOp = _binary("bitwise_and", np.bitwise_and, "a & b (logical and on i1)", BitwiseOp)
BitwiseOrOp = _binary("bitwise_or", np.bitwise_or, "a | b (logical or on i1)", BitwiseOp)
BitwiseXorOp = _binary("bitwise_xor", np.bitwise_xor, "a ^ b (logical xor on i1)", BitwiseOp)


class ShiftOp(BitwiseOp):
    """A shift of integers (not i1) by integers, torch's semantics at every shift count."""

    @classmethod
    def infer(cls, types, attrs):
        if types[0].element_type == i1 or types[1].element_type == i1:
            raise _err(cls.name[3:], "expects integer tensors", types)
        return super().infer(types, attrs)


def _shift_left(a, b):
    """a << b, wrapping; 0 where b is negative or the width or more."""
    inside = (b >= 0) & (b < a.dtype.itemsize * 8)
    return np.where(inside, np.left_shift(a, np.where(inside, b, 0)), 0)


def _shift_right(a, b):
    """a >> b, arithmetic; a shift that is negative or the width or more gives the sign (b = width - 1)."""
    width = a.dtype.itemsize * 8
    return np.right_shift(a, np.where((b < 0) | (b >= width), width - 1, b))


ShiftLeftOp = _binary("shift_left", _shift_left, _shift_left.__doc__, ShiftOp)
ShiftRightOp = _binary("shift_right", _shift_right, _shift_right.__doc__, ShiftOp)

COMPARE_PREDICATES = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}


@hl_op
class CompareOp(HLOp):
    """Elementwise comparison with broadcasting; the result is i1."""

    name = "hl.compare"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    predicate = attribute(STRING)
    DIFFERENTIABLE: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs):
        a, b = types
        if attrs["predicate"] not in COMPARE_PREDICATES:
            raise _err(
                "compare", f"unknown predicate {attrs['predicate']!r} (known: {', '.join(COMPARE_PREDICATES)})", types
            )
        if a.element_type != b.element_type:
            raise _err("compare", "operand dtypes differ", types)
        return tensor_type(broadcast_shapes("compare", types), i1)

    def evaluate(self, a, b):
        return COMPARE_PREDICATES[self.attr("predicate")](a, b)


@hl_op
class SelectOp(HLOp):
    """where(cond, a, b) with broadcasting of all three."""

    name = "hl.select"
    cond = operand_def(TensorType)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)

    @classmethod
    def infer(cls, types, attrs):
        c, a, b = types
        if c.element_type != i1:
            raise _err("select", "condition must be i1", types)
        if a.element_type != b.element_type:
            raise _err("select", "value dtypes differ", types)
        return tensor_type(broadcast_shapes("select", types), a.element_type)

    def evaluate(self, c, a, b):
        return np.where(c, a, b).astype(_out_dtype(self), copy=False)


# --------------------------------------------------------------------------
# reductions
# --------------------------------------------------------------------------


def reduced_shape(op: str, shape, dims, keepdim, types) -> tuple[int, ...]:
    rank = len(shape)
    nd = sorted({normalize_dim(op, d, rank, types) for d in dims})
    if keepdim:
        return tuple(1 if i in nd else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in nd)


class ReduceOp(HLOp):
    x = operand_def(TensorType)
    result = result_def(TensorType)
    dims = attribute(INTS)
    keepdim = attribute(BOOL, default=False)
    FN: ClassVar = None
    #: max and min have no identity: reducing over a dim of size 0 is an error (as in PyTorch)
    NEEDS_ELEMENTS: ClassVar[bool] = False
    #: mean has no integer result (as in PyTorch)
    FLOAT_ONLY: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        if cls.FLOAT_ONLY and not is_float(t.element_type):
            raise _err(cls.name[3:], "expects a floating-point tensor", types)
        dims = attrs["dims"]
        if len(set(d % max(len(shape_of(t)), 1) for d in dims)) != len(dims):
            raise _err(cls.name[3:], f"repeated dims {list(dims)}", types)
        shape = reduced_shape(cls.name[3:], shape_of(t), dims, attrs["keepdim"], types)
        if cls.NEEDS_ELEMENTS:
            check_nonempty_reduction(cls.name[3:], dims, types)
        return tensor_type(shape, t.element_type)

    def reduced_dims(self) -> tuple[int, ...]:
        """The reduced dims, normalized and sorted (none for a 0-d operand: it is its own one element)."""
        rank = len(shape_of(self.x.type))
        return tuple(sorted({d % rank for d in self.attr("dims")})) if rank else ()

    def evaluate(self, x):
        out = type(self).FN(x, axis=self.reduced_dims(), keepdims=bool(self.attr("keepdim")))
        return np.asarray(out).astype(_out_dtype(self), copy=False)


def check_nonempty_reduction(op: str, dims, types) -> None:
    """max/min/argmax/argmin over a dim of size 0 have no value: a ShapeError (PyTorch raises too)."""
    shape = shape_of(types[0])
    for d in dims:
        if shape and shape[d % len(shape)] == 0:
            raise _err(op, f"cannot reduce over dim {d} of size 0 (the {op} of no elements is undefined)", types)


def _reduce(op_name: str, fn, doc: str, needs_elements: bool = False, float_only: bool = False):
    cls = type(
        f"{op_name.capitalize()}Op",
        (ReduceOp,),
        {
            "name": f"hl.{op_name}",
            "FN": staticmethod(fn),
            "NEEDS_ELEMENTS": needs_elements,
            "FLOAT_ONLY": float_only,
            "__doc__": doc,
            "__module__": __name__,
            "__annotations__": {"FN": ClassVar, "FLOAT_ONLY": ClassVar, "NEEDS_ELEMENTS": ClassVar},
        },
    )
    return hl_op(cls)


def _mean(x, axis, keepdims):
    count = math.prod(x.shape[d] for d in axis)
    with np.errstate(invalid="ignore"):  # the mean of no elements is 0 / 0 = nan, as in PyTorch
        return np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype) / x.dtype.type(count)


SumOp = _reduce(
    "sum", lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype), "sum over dims"
)
MeanOp = _reduce("mean", _mean, "mean over dims (a composite, see decompose.py)", float_only=True)
MaxOp = _reduce("max", np.max, "max over dims (none of them of size 0)", needs_elements=True)
MinOp = _reduce("min", np.min, "min over dims (none of them of size 0)", needs_elements=True)
ProdOp = _reduce(
    "prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype), "product over dims"
)


class ArgReduceOp(HLOp):
    x = operand_def(TensorType)
    result = result_def(TensorType)
    dim = attribute(INT)
    keepdim = attribute(BOOL, default=False)
    DIFFERENTIABLE: ClassVar[bool] = False
    FN: ClassVar = None

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        shape = reduced_shape(cls.name[3:], shape_of(t), [attrs["dim"]], attrs["keepdim"], types)
        check_nonempty_reduction(cls.name[3:], [attrs["dim"]], types)
        return tensor_type(shape, i64)

    def evaluate(self, x):
        if x.ndim == 0:  # its own one element
            return np.zeros((), np.int64)
        dim = self.attr("dim") % x.ndim
        return type(self).FN(x, axis=dim, keepdims=bool(self.attr("keepdim"))).astype(np.int64)


@hl_op
class ArgmaxOp(ArgReduceOp):
    """Index (i64) of the first maximum along `dim`."""

    name = "hl.argmax"
    FN: ClassVar = staticmethod(np.argmax)


@hl_op
class ArgminOp(ArgReduceOp):
    """Index (i64) of the first minimum along `dim`."""

    name = "hl.argmin"
    FN: ClassVar = staticmethod(np.argmin)


# --------------------------------------------------------------------------
# shape ops
# --------------------------------------------------------------------------


@hl_op
class ReshapeOp(HLOp):
    """Row-major reshape; the result type gives the new shape."""

    name = "hl.reshape"
    x = operand_def(TensorType)
    result = result_def(TensorType)
    shape = attribute(INTS)

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        shape = tuple(attrs["shape"])
        if math.prod(shape) != math.prod(shape_of(t)) or any(s < 0 for s in shape):
            raise _err("reshape", f"cannot reshape to {list(shape)}", types)
        return tensor_type(shape, t.element_type)

    def evaluate(self, x):
        return x.reshape(self.attr("shape"))


@hl_op
class TransposeOp(HLOp):
    """Permute dims: result dim i is operand dim perm[i]."""

    name = "hl.transpose"
    x = operand_def(TensorType)
    result = result_def(TensorType)
    perm = attribute(INTS)

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        perm = tuple(attrs["perm"])
        shape = shape_of(t)
        if sorted(perm) != list(range(len(shape))):
            raise _err("transpose", f"perm {list(perm)} is not a permutation of {len(shape)} dims", types)
        return tensor_type([shape[p] for p in perm], t.element_type)

    @property
    def is_matrix_transpose(self) -> bool:
        """It swaps the last two dims only (transposes every matrix of a batch)."""
        perm = tuple(self.attr("perm"))
        return len(perm) >= 2 and perm == matrix_transpose_perm(len(perm))

    def evaluate(self, x):
        # a view: numpy's matmul hands a transposed operand to BLAS as such (copying the weights of
        # `x @ W.T` was a third of an interpreted MLP training step); an output is copied by its caller
        return np.transpose(x, self.attr("perm"))


def matrix_transpose_perm(rank: int) -> tuple[int, ...]:
    """The hl.transpose perm of rank `rank` that swaps the last two dims."""
    return (*range(rank - 2), rank - 1, rank - 2)


@hl_op
class FlipOp(HLOp):
    """Reverse the order of elements along `dims` (torch.flip, numpy.flip)."""

    name = "hl.flip"
    x = operand_def(TensorType)
    result = result_def(TensorType)
    dims = attribute(INTS)

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        rank = len(shape_of(t))
        dims = [normalize_dim("flip", d, rank, types) for d in attrs["dims"]]
        if rank == 0 and dims:
            raise _err("flip", "cannot flip a 0-d tensor", types)
        if len(set(dims)) != len(dims):
            raise _err("flip", f"dims {list(attrs['dims'])} repeat a dim", types)
        return t

    def evaluate(self, x):
        return np.ascontiguousarray(np.flip(x, tuple(self.attr("dims")))) if x.ndim else x.copy()


@hl_op
class BroadcastToOp(HLOp):
    """numpy.broadcast_to."""

    name = "hl.broadcast_to"
    x = operand_def(TensorType)
    result = result_def(TensorType)
    shape = attribute(INTS)

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        shape = tuple(attrs["shape"])
        src = shape_of(t)
        ok = len(shape) >= len(src) and all(s in (1, d) for s, d in zip(reversed(src), reversed(shape)))
        ok = ok and min(shape, default=0) >= 0
        if not ok:
            raise _err("broadcast_to", f"cannot broadcast to {list(shape)}", types)
        return tensor_type(shape, t.element_type)

    def evaluate(self, x):
        return np.asarray(np.broadcast_to(x, self.attr("shape")), order="C")


@hl_op
class SliceOp(HLOp):
    """x[start:stop:step] per dim (normalized: 0 <= start <= stop, step >= 1)."""

    name = "hl.slice"
    x = operand_def(TensorType)
    result = result_def(TensorType)
    start = attribute(INTS)
    stop = attribute(INTS)
    step = attribute(INTS)

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        shape = shape_of(t)
        start, stop, step = (tuple(attrs[k]) for k in ("start", "stop", "step"))
        if not len(start) == len(stop) == len(step) == len(shape):
            raise _err("slice", "start/stop/step need one entry per dim", types)
        out = []
        for d, (a, b, s, n) in enumerate(zip(start, stop, step, shape)):
            if s < 1 or not 0 <= a <= n or not a <= b <= n:
                raise _err("slice", f"bad range {a}:{b}:{s} for dim {d} of size {n}", types)
            out.append(max(0, -(-(b - a) // s)))
        return tensor_type(out, t.element_type)

    def evaluate(self, x):
        idx = tuple(slice(a, b, s) for a, b, s in zip(self.attr("start"), self.attr("stop"), self.attr("step")))
        return np.asarray(x[idx], order="C")


@hl_op
class ConcatOp(HLOp):
    """Concatenate the operands along `dim`."""

    name = "hl.concat"
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    dim = attribute(INT)

    @classmethod
    def _operand_groups(cls, values):
        return [list(values)]

    @classmethod
    def infer(cls, types, attrs):
        if not types:
            raise _err("concat", "needs at least one operand", types)
        shapes = [shape_of(t) for t in types]
        rank = len(shapes[0])
        dim = normalize_dim("concat", attrs["dim"], rank, types)
        for s, t in zip(shapes, types):
            if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != dim):
                raise _err("concat", f"shapes differ outside dim {dim}", types)
            if t.element_type != types[0].element_type:
                raise _err("concat", "operand dtypes differ", types)
        out = list(shapes[0])
        out[dim] = sum(s[dim] for s in shapes)
        return tensor_type(out, types[0].element_type)

    def evaluate(self, *xs):
        return np.concatenate(xs, axis=self.attr("dim") % xs[0].ndim)


@hl_op
class PadOp(HLOp):
    """Constant padding: `low[i]` before and `high[i]` after dim i."""

    name = "hl.pad"
    x = operand_def(TensorType)
    result = result_def(TensorType)
    low = attribute(INTS)
    high = attribute(INTS)
    value = attribute(FLOAT, default=0.0)

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        shape = shape_of(t)
        low, high = tuple(attrs["low"]), tuple(attrs["high"])
        if len(low) != len(shape) or len(high) != len(shape) or min((*low, *high), default=0) < 0:
            raise _err("pad", f"low {list(low)} / high {list(high)} must be non-negative, one per dim", types)
        return tensor_type([n + a + b for n, a, b in zip(shape, low, high)], t.element_type)

    def evaluate(self, x):
        return np.pad(x, list(zip(self.attr("low"), self.attr("high"))), constant_values=self.attr("value")).astype(
            x.dtype
        )


@hl_op
class GatherOp(HLOp):
    """torch.gather: ``result[i][j][k] = x[i][index[i][j][k]][k]`` for `dim` = 1.

    `index` (i32 or i64) has x's rank, and outside `dim` x's sizes or 1: a
    size-1 dim broadcasts, so an index of shape (J, 1) picks whole rows
    (index_select, embedding).  The result has x's shape with index's size at
    `dim`, and x's dtype.  An index outside ``[0, x.shape[dim])`` is an
    IndexError in the reference; compiled code cannot raise and clamps it
    into that range instead.
    """

    name = "hl.gather"
    x = operand_def(TensorType)
    index = operand_def(TensorType)
    result = result_def(TensorType)
    dim = attribute(INT)

    @classmethod
    def infer(cls, types, attrs):
        t, i = types
        shape, ishape = shape_of(t), shape_of(i)
        if i.element_type not in (i32, i64):
            raise _err("gather", "index must be an i32 or i64 tensor", types)
        if len(ishape) != len(shape):
            raise _err("gather", f"index has rank {len(ishape)}, x has rank {len(shape)}", types)
        dim = normalize_dim("gather", attrs["dim"], len(shape), types)
        if any(a not in (1, b) for d, (a, b) in enumerate(zip(ishape, shape)) if d != dim):
            raise _err("gather", f"index sizes outside dim {dim} must be x's or 1", types)
        return tensor_type([ishape[d] if d == dim else n for d, n in enumerate(shape)], t.element_type)

    def evaluate(self, x, index):
        if x.ndim == 0:
            return x.copy()
        dim = self.attr("dim") % x.ndim
        n = x.shape[dim]
        bad = (index < 0) | (index >= n)
        if bad.any():
            raise IndexError(f"hl.gather: index {int(index[bad].flat[0])} is out of bounds for dim {dim} with size {n}")
        return np.take_along_axis(x, index.astype(np.intp), axis=dim)  # broadcasts the size-1 dims of index


#: hl.scatter's reductions: numpy's in-place ufunc, and its identity for numbers of dtype `dt`
SCATTER_REDUCTIONS: dict[str, np.ufunc] = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


@hl_op
class ScatterOp(HLOp):
    """torch.scatter_reduce (include_self): ``result = x``, then ``result[i][index[i][j][k]][k] op= src[i][j][k]``
    for `dim` = 1, `reduce` one of sum (scatter_add), prod, amax, amin.

    The adjoint of `hl.gather`: `src` has the shape of a gather from x (x's sizes with any size at
    `dim`) and x's dtype, `index` (i32 or i64) src's rank and sizes, a size-1 dim outside `dim`
    broadcasting (index_add: one index row).  The result has x's type.  An index outside
    ``[0, x.shape[dim])`` is an IndexError in the reference; compiled code cannot raise and drops
    that element instead.
    """

    name = "hl.scatter"
    x = operand_def(TensorType)
    index = operand_def(TensorType)
    src = operand_def(TensorType)
    result = result_def(TensorType)
    dim = attribute(INT)
    reduce = attribute(STRING, default="sum")

    @classmethod
    def infer(cls, types, attrs):
        t, i, s = types
        shape, ishape, sshape = shape_of(t), shape_of(i), shape_of(s)
        if attrs["reduce"] not in SCATTER_REDUCTIONS:
            known = ", ".join(SCATTER_REDUCTIONS)
            raise _err("scatter", f"unknown reduce {attrs['reduce']!r} (known: {known})", types)
        if i.element_type not in (i32, i64):
            raise _err("scatter", "index must be an i32 or i64 tensor", types)
        if not shape or len(ishape) != len(shape) or len(sshape) != len(shape):
            raise _err("scatter", "x, index and src must have one rank, at least 1", types)
        dim = normalize_dim("scatter", attrs["dim"], len(shape), types)
        if s.element_type != t.element_type:
            raise _err("scatter", "src must have x's dtype", types)
        if t.element_type == i1:
            raise _err("scatter", "x must be a number tensor, not i1 (scatter its i32 cast)", types)
        if any(a != b for d, (a, b) in enumerate(zip(sshape, shape)) if d != dim):
            raise _err("scatter", f"src sizes outside dim {dim} must be x's", types)
        if ishape[dim] != sshape[dim] or any(a not in (1, b) for a, b in zip(ishape, sshape)):
            raise _err("scatter", "index sizes must be src's or 1 (src's at dim)", types)
        return t

    def evaluate(self, x, index, src):
        dim = self.attr("dim") % x.ndim
        n = x.shape[dim]
        bad = (index < 0) | (index >= n)
        if bad.any():
            raise IndexError(
                f"hl.scatter: index {int(index[bad].flat[0])} is out of bounds for dim {dim} with size {n}"
            )
        at = list(np.indices(src.shape, sparse=True))
        at[dim] = np.broadcast_to(index, src.shape).astype(np.intp)
        out = x.copy()
        SCATTER_REDUCTIONS[self.attr("reduce")].at(out, tuple(at), src)
        return out


# --------------------------------------------------------------------------
# contractions
# --------------------------------------------------------------------------


@hl_op
class MatmulOp(HLOp):
    """numpy.matmul for operands of rank >= 2 (batch dims broadcast)."""

    name = "hl.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)

    @classmethod
    def infer(cls, types, attrs):
        a, b = types
        sa, sb = shape_of(a), shape_of(b)
        if len(sa) < 2 or len(sb) < 2:
            raise _err("matmul", "operands need rank >= 2 (reshape vectors first)", types)
        if a.element_type != b.element_type:
            raise _err("matmul", "operand dtypes differ", types)
        if sa[-1] != sb[-2]:
            raise _err("matmul", f"contracting dims differ ({sa[-1]} vs {sb[-2]})", types)
        try:
            batch = np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise _err("matmul", "batch dims do not broadcast", types) from None
        return tensor_type([*batch, sa[-2], sb[-1]], a.element_type)

    def evaluate(self, a, b):
        return np.matmul(a, b).astype(_out_dtype(self), copy=False)


def conv_out_size(n: int, k: int, stride: int, pad: int, dilation: int = 1) -> int:
    return (n + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def receptive_fields(x: np.ndarray, kernel, stride, out, dilation=(1, 1)) -> np.ndarray:
    """Each output pixel's input window of an NCHW array (padded already) as a view (N, C, OH, OW, KH, KW)."""
    (kh, kw), (sh, sw), (oh, ow), (dh, dw) = kernel, stride, out, dilation
    fields = np.lib.stride_tricks.sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    return fields[:, :, : sh * (oh - 1) + 1 : sh, : sw * (ow - 1) + 1 : sw, ::dh, ::dw]


def pair(v) -> tuple[int, int]:
    """A size given as one int or two (`kernel_size=3`, `stride=(2, 1)`, `padding=(1,)`) as (height, width)."""
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (int(v[0]), int(v[0]))
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


@hl_op
class Conv2dOp(HLOp):
    """2-D convolution, input NCHW, weight OIHW (O = out channels, I = C/groups)."""

    name = "hl.conv2d"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    result = result_def(TensorType)
    stride = attribute(PAIR, default=(1, 1))
    padding = attribute(PAIR, default=(0, 0))
    dilation = attribute(PAIR, default=(1, 1))
    groups = attribute(INT, default=1)

    @classmethod
    def infer(cls, types, attrs):
        x, w = types
        sx, sw = shape_of(x), shape_of(w)
        if len(sx) != 4 or len(sw) != 4:
            raise _err("conv2d", "input must be NCHW and weight OIHW", types)
        if x.element_type != w.element_type or not is_float(x.element_type):
            raise _err("conv2d", "operands must share a float dtype", types)
        (sh, sw_), (ph, pw), (dh, dw), g = (
            pair(attrs["stride"]),
            pair(attrs["padding"]),
            pair(attrs["dilation"]),
            attrs["groups"],
        )
        n, c, h, wd = sx
        o, ci, kh, kw = sw
        if g < 1 or c % g or o % g or ci != c // g:
            raise _err("conv2d", f"channels: input C={c}, weight I={ci}, O={o}, groups={g}", types)
        if min(sh, sw_, dh, dw) < 1 or min(ph, pw) < 0:
            raise _err(
                "conv2d", f"stride {[sh, sw_]} and dilation {[dh, dw]} must be >= 1, padding {[ph, pw]} >= 0", types
            )
        oh, ow = conv_out_size(h, kh, sh, ph, dh), conv_out_size(wd, kw, sw_, pw, dw)
        if oh < 1 or ow < 1:
            raise _err(
                "conv2d",
                f"kernel {kh}x{kw} (dilation {dh}x{dw}) larger than the padded input {h + 2 * ph}x{wd + 2 * pw}",
                types,
            )
        return tensor_type([n, o, oh, ow], x.element_type)

    def evaluate(self, x, w):
        (sh, sw), (ph, pw), (dh, dw) = (
            pair(self.attr("stride")),
            pair(self.attr("padding")),
            pair(self.attr("dilation")),
        )
        g = self.attr("groups")
        n, c, h, wd = x.shape
        o, ci, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        oh, ow = conv_out_size(h, kh, sh, ph, dh), conv_out_size(wd, kw, sw, pw, dw)
        out = np.empty((n, o, oh, ow), dtype=np.float64)
        og = o // g
        for gi in range(g):
            xs = xp[:, gi * ci : (gi + 1) * ci].astype(np.float64)
            ws = w[gi * og : (gi + 1) * og].astype(np.float64)
            # one contraction of every receptive field with the weights, in float64 through BLAS (einsum's
            # tensordot path), instead of one per kernel position
            fields = receptive_fields(xs, (kh, kw), (sh, sw), (oh, ow), (dh, dw))
            out[:, gi * og : (gi + 1) * og] = np.einsum("nchwij,ocij->nohw", fields, ws, optimize=True)
        return out.astype(x.dtype)


class PoolOp(HLOp):
    x = operand_def(TensorType)
    result = result_def(TensorType)
    kernel = attribute(PAIR)
    stride = attribute(PAIR)
    padding = attribute(PAIR, default=(0, 0))

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        s = shape_of(t)
        if len(s) != 4:
            raise _err(cls.name[3:], "input must be NCHW", types)
        (kh, kw), (sh, sw), (ph, pw) = pair(attrs["kernel"]), pair(attrs["stride"]), pair(attrs["padding"])
        if min(kh, kw, sh, sw) < 1 or min(ph, pw) < 0:
            raise _err(
                cls.name[3:], f"kernel {[kh, kw]} and stride {[sh, sw]} must be >= 1, padding {[ph, pw]} >= 0", types
            )
        if ph > kh // 2 or pw > kw // 2:
            raise _err(cls.name[3:], "padding must be at most half the kernel size", types)
        oh, ow = conv_out_size(s[2], kh, sh, ph), conv_out_size(s[3], kw, sw, pw)
        if oh < 1 or ow < 1:
            raise _err(
                cls.name[3:], f"kernel {kh}x{kw} larger than the padded input {s[2] + 2 * ph}x{s[3] + 2 * pw}", types
            )
        return tensor_type([s[0], s[1], oh, ow], t.element_type)

    def windows(self, x: np.ndarray, pad_value) -> np.ndarray:
        """All pooling windows as a view (N, C, OH, OW, KH, KW), padding with `pad_value`."""
        (ph, pw) = pair(self.attr("padding"))
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value) if ph or pw else x
        kernel, stride = pair(self.attr("kernel")), pair(self.attr("stride"))
        return receptive_fields(xp, kernel, stride, self.results[0].type.get_shape()[2:])


@hl_op
class MaxPool2dOp(PoolOp):
    """Max pooling (padding counts as -inf)."""

    name = "hl.max_pool2d"

    def evaluate(self, x):
        # the elementwise maximum over the kernel positions, one strided slice of the windows each (max is
        # exact: the values of `.max(axis=(4, 5))`, which reduced the strided view slowly, 1.5 ms for a
        # 64x16x8x8 input against ~0.1 ms)
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min if x.dtype.kind in "iu" else False
        windows = self.windows(x, low)
        out = windows[..., 0, 0].copy()
        for i, j in np.ndindex(*windows.shape[4:]):
            np.maximum(out, windows[..., i, j], out=out)
        return out.astype(x.dtype, copy=False)


@hl_op
class AvgPool2dOp(PoolOp):
    """Average pooling; padding counts as zeros in the divisor (PyTorch's count_include_pad=True)."""

    name = "hl.avg_pool2d"

    def evaluate(self, x):
        return self.windows(x, 0.0).mean(axis=(4, 5)).astype(x.dtype)


# --------------------------------------------------------------------------
# creation
# --------------------------------------------------------------------------


@hl_op
class ConstantOp(HLOp):
    """A dense constant tensor."""

    name = "hl.constant"
    result = result_def(TensorType)
    value = attribute(DENSE)
    assembly_format = "attr-dict `:` type($result)"
    DIFFERENTIABLE: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs):
        return attrs["value"].type

    def verify_(self):
        if self.attributes["value"].type != self.result.type:
            raise VerifyException(f"hl.constant: value must be a dense attribute of type {fmt_type(self.result.type)}")

    @staticmethod
    def from_array(array: np.ndarray) -> ConstantOp:
        array = np.asarray(array)
        et = element_type_of(array.dtype)
        t = tensor_type(array.shape, et)
        flat = array.ravel().tolist()
        if array.dtype == np.bool_:
            flat = [int(v) for v in flat]
        value = DenseIntOrFPElementsAttr.from_list(t, flat)
        return ConstantOp.build(result_types=[t], attributes={"value": value})

    def evaluate(self):
        value = self.attributes["value"]
        dt = _out_dtype(self)
        return np.array(value.get_values(), dtype=dt).reshape(shape_of(self.result.type))


@hl_op
class FullOp(HLOp):
    """A tensor filled with one value."""

    name = "hl.full"
    result = result_def(TensorType)
    value = attribute(SCALAR)
    assembly_format = "attr-dict `:` type($result)"
    DIFFERENTIABLE: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs):
        raise _err("full", "needs an explicit result type", types)

    def verify_(self):
        """The result type is all the shape there is (and `value` is checked with the attributes)."""

    def evaluate(self):
        dt = _out_dtype(self)
        value = np.float32(self.attr("value")) if dt in HALF_DTYPES else self.attr("value")  # via f32, as torch
        return np.full(shape_of(self.result.type), value, dtype=dt)


@hl_op
class IotaOp(HLOp):
    """Indices 0, 1, ... along `dim`, broadcast over the other dims."""

    name = "hl.iota"
    result = result_def(TensorType)
    dim = attribute(INT, default=0)
    assembly_format = "attr-dict `:` type($result)"
    DIFFERENTIABLE: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs):
        raise _err("iota", "needs an explicit result type", types)

    def verify_(self):
        normalize_dim("iota", self.attr("dim"), len(shape_of(self.result.type)), [self.result.type])

    def evaluate(self):
        shape = shape_of(self.result.type)
        dim = self.attr("dim") % max(len(shape), 1)
        idx = np.arange(shape[dim]).reshape([-1 if i == dim else 1 for i in range(len(shape))])
        return np.asarray(np.broadcast_to(idx, shape), order="C").astype(_out_dtype(self))


def random_bits(key: int, n: int) -> np.ndarray:
    """The counter-based hash behind `hl.random_uniform`: uint32 bits of (key, 0..n-1).

    x = i + key * 0x9E3779B9, then the "lowbias32" integer hash; all arithmetic
    is modulo 2**32, so every target computes the same bits.
    """
    with np.errstate(over="ignore"):
        x = np.arange(n, dtype=np.uint32) + np.uint32(key & 0xFFFFFFFF) * np.uint32(0x9E3779B9)
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x7FEB352D)
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x846CA68B)
        x ^= x >> np.uint32(16)
    return x


@hl_op
class RandomUniformOp(HLOp):
    """Uniform [0, 1) floats from a counter-based hash of (key, flat index).

    The key is a rank-0 i64 tensor (an input, so a new key does not change the
    graph); element i is ``(random_bits(key, n)[i] >> 8) * 2**-24``.  Same key,
    same values, on every target.
    """

    name = "hl.random_uniform"
    key = operand_def(TensorType)
    result = result_def(TensorType)
    DIFFERENTIABLE: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs):
        raise _err("random_uniform", "needs an explicit result type", types)

    def verify_(self):
        if self.key.type != tensor_type((), i64):
            raise VerifyException(f"hl.random_uniform: key must be tensor<i64>, got {fmt_type(self.key.type)}")
        if not is_float(self.result.type.element_type):
            raise VerifyException(f"hl.random_uniform: result must be a float tensor, got {fmt_type(self.result.type)}")

    def evaluate(self, key):
        shape = shape_of(self.result.type)
        bits = random_bits(int(key), math.prod(shape))
        return ((bits >> np.uint32(8)).astype(np.float64) * 2.0**-24).astype(_out_dtype(self)).reshape(shape)


# --------------------------------------------------------------------------
# composites: relu, sigmoid, rsqrt and mean above, softmax, log_softmax and argsort here have a
# decomposition (irc/transforms/decompose.py) instead of a lowering and derivative rules
# --------------------------------------------------------------------------


class SoftmaxLikeOp(HLOp):
    x = operand_def(TensorType)
    result = result_def(TensorType)
    dim = attribute(INT, default=-1)

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        if not is_float(t.element_type):
            raise _err(cls.name[3:], "expects a floating-point tensor", types)
        normalize_dim(cls.name[3:], attrs["dim"], len(shape_of(t)), types)
        return t


@hl_op
class SoftmaxOp(SoftmaxLikeOp):
    """exp(x - max) / sum(exp(x - max)) along `dim`."""

    name = "hl.softmax"

    def evaluate(self, x):
        if x.size == 0:  # no rows (and no max to subtract)
            return x.copy()
        d = () if x.ndim == 0 else self.attr("dim") % x.ndim
        e = np.exp(x - x.max(axis=d, keepdims=True))
        return (e / e.sum(axis=d, keepdims=True)).astype(x.dtype)


@hl_op
class LogSoftmaxOp(SoftmaxLikeOp):
    """x - max - log(sum(exp(x - max))) along `dim`."""

    name = "hl.log_softmax"

    def evaluate(self, x):
        if x.size == 0:
            return x.copy()
        d = () if x.ndim == 0 else self.attr("dim") % x.ndim
        s = x - x.max(axis=d, keepdims=True)
        return (s - np.log(np.exp(s).sum(axis=d, keepdims=True))).astype(x.dtype)


@hl_op
class ArgsortOp(HLOp):
    """The (i64) indices that sort `x` stably along its last dim, the first `k` of them (all when absent).

    torch's order: ascending, NaN after every number (`descending`: numbers descending, NaN before
    them); NaNs tie with each other, and -0.0 with 0.0; ties keep their input order in both directions
    (so `descending` is not the reverse of ascending).  i1 sorts as 0 < 1.  A composite: its
    decomposition (irc/transforms/decompose.py) is rank-based, O(n^2) per row; the reference is numpy's
    O(n log n) stable sort.
    """

    name = "hl.argsort"
    x = operand_def(TensorType)
    result = result_def(TensorType)
    descending = attribute(BOOL, default=False)
    k = attribute(INT, default=None)
    DIFFERENTIABLE: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs):
        (t,) = types
        shape = shape_of(t)
        if not shape:
            raise _err("argsort", "expects a tensor of rank >= 1 (it sorts the last dim)", types)
        n, k = shape[-1], attrs["k"]
        if k is not None and not 0 <= k <= n:
            raise _err("argsort", f"k = {k} out of range [0, {n}] for the last dim", types)
        return tensor_type((*shape[:-1], n if k is None else k), i64)

    def evaluate(self, x):
        k = self.attr("k")
        return stable_argsort(x, bool(self.attr("descending")))[..., : x.shape[-1] if k is None else k]


def stable_argsort(x: np.ndarray, descending: bool) -> np.ndarray:
    """The i64 indices that sort `x` stably along its last dim, in torch's order (see `ArgsortOp`)."""
    if x.dtype == np.bool_:
        x = x.astype(np.int8)
    if not descending:  # numpy's order: NaNs last, tying with each other; -0.0 ties with 0.0
        return np.argsort(x, axis=-1, kind="stable").astype(np.int64)
    if not np.issubdtype(x.dtype, np.floating):
        return np.argsort(~x, axis=-1, kind="stable").astype(np.int64)  # ~x = -x - 1 reverses, no overflow
    order = np.argsort(-x, axis=-1, kind="stable")  # numbers descending, then the NaNs in input order
    nan_last = np.isnan(np.take_along_axis(x, order, axis=-1))
    return np.take_along_axis(order, np.argsort(~nan_last, axis=-1, kind="stable"), axis=-1).astype(np.int64)


HL_OPS: list[type[HLOp]] = [
    StopGradientOp,
    NegOp, AbsOp, ExpOp, LogOp, SqrtOp, RsqrtOp, TanhOp, SigmoidOp, ReluOp, SinOp, CosOp, ErfOp, SoftplusOp,
    BitwiseNotOp, CastOp,
    AddOp, SubOp, MulOp, DivOp, FloorDivideOp, PowOp, MaximumOp, MinimumOp, CompareOp, SelectOp,
    BitwiseAndOp, BitwiseOrOp, BitwiseXorOp, ShiftLeftOp, ShiftRightOp,
    SumOp, MeanOp, MaxOp, MinOp, ProdOp, ArgmaxOp, ArgminOp,
    ReshapeOp, TransposeOp, FlipOp, BroadcastToOp, SliceOp, ConcatOp, PadOp, GatherOp, ScatterOp,
    MatmulOp, Conv2dOp, MaxPool2dOp, AvgPool2dOp,
    ConstantOp, FullOp, IotaOp, RandomUniformOp,
    SoftmaxOp, LogSoftmaxOp, ArgsortOp,
]  # fmt: skip


# --------------------------------------------------------------------------
# everyday math (issue 12): rounding, inverse trig/hyperbolic, log/exp variants, atan2, fmod
# --------------------------------------------------------------------------


def _fmod(a, b):
    if np.issubdtype(a.dtype, np.integer):
        # C's %, truncated; x % 0 gives 0 here (the compiled code must not trap; the frontend refuses it)
        return np.fmod(a, np.where(b == 0, 1, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.fmod(a, b)


def _quiet(fn):
    """fn with numpy's warnings off: asin(2) is nan and log1p(-1) is -inf, as in PyTorch."""

    def call(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return call


FloorOp = _unary("floor", np.floor, doc="round toward -inf")
CeilOp = _unary("ceil", np.ceil, doc="round toward +inf")
RoundOp = _unary("round", np.rint, doc="round half to even (PyTorch's and numpy's rounding)")
TruncOp = _unary("trunc", np.trunc, doc="round toward zero")
Log1pOp = _unary("log1p", _quiet(np.log1p), doc="log(1 + x), exact for small x")
Expm1Op = _unary("expm1", _quiet(np.expm1), doc="exp(x) - 1, exact for small x")
Log2Op = _unary("log2", _quiet(np.log2), doc="base-2 logarithm")
Log10Op = _unary("log10", _quiet(np.log10), doc="base-10 logarithm")
Exp2Op = _unary("exp2", _quiet(np.exp2), doc="2**x")
TanOp = _unary("tan", np.tan, doc="tangent")
AsinOp = _unary("asin", _quiet(np.arcsin), doc="inverse sine (nan outside [-1, 1])")
AcosOp = _unary("acos", _quiet(np.arccos), doc="inverse cosine (nan outside [-1, 1])")
AtanOp = _unary("atan", np.arctan, doc="inverse tangent")
SinhOp = _unary("sinh", _quiet(np.sinh), doc="hyperbolic sine")
CoshOp = _unary("cosh", _quiet(np.cosh), doc="hyperbolic cosine")
AsinhOp = _unary("asinh", np.arcsinh, doc="inverse hyperbolic sine")
AcoshOp = _unary("acosh", _quiet(np.arccosh), doc="inverse hyperbolic cosine (nan below 1)")
AtanhOp = _unary("atanh", _quiet(np.arctanh), doc="inverse hyperbolic tangent (+-inf at +-1, nan beyond)")


class FloatBinaryOp(BinaryOp):
    """A binary op on floating-point operands only."""

    @classmethod
    def infer(cls, types, attrs):
        if not is_float(types[0].element_type):
            raise _err(cls.name[3:], "expects floating-point tensors", types)
        return super().infer(types, attrs)


Atan2Op = _binary("atan2", np.arctan2, "atan(a / b) in the quadrant of (b, a)", FloatBinaryOp)
FmodOp = _binary("fmod", _fmod, "C's remainder: a - trunc(a / b) * b, with a's sign (integer x fmod 0 gives 0)")

MATH_OPS: list[type[HLOp]] = [
    FloorOp, CeilOp, RoundOp, TruncOp, Log1pOp, Expm1Op, Log2Op, Log10Op, Exp2Op,
    TanOp, AsinOp, AcosOp, AtanOp, SinhOp, CoshOp, AsinhOp, AcoshOp, AtanhOp, Atan2Op, FmodOp,
]  # fmt: skip
#: ops with a zero derivative everywhere (PyTorch's convention for the rounding functions)
ROUNDING_OPS = (FloorOp, CeilOp, RoundOp, TruncOp)
HL_OPS += MATH_OPS


# --------------------------------------------------------------------------
# special functions: the gamma family, erfinv, ndtri, scaled Bessel functions (irc/ir/special_functions.py)
# --------------------------------------------------------------------------

#: the arithmetic of the special functions' references: numpy, in float64
NUMPY_MATH = SimpleNamespace(
    where=np.where, abs=np.abs, copysign=np.copysign, floor=np.floor, ceil=np.ceil, rint=np.rint, log=np.log,
    log1p=np.log1p, sqrt=np.sqrt, sin=np.sin, tan=np.tan, pow=np.power,
)  # fmt: skip


def special_reference(algorithm: Callable, *args) -> Callable[[np.ndarray], np.ndarray]:
    """The reference of a special function: `algorithm` (of irc/ir/special_functions.py) on numpy, in float64."""

    def reference(x):
        with np.errstate(all="ignore"):
            return algorithm(NUMPY_MATH, np.asarray(x, dtype=np.float64), *args)

    return reference


LgammaOp = _unary("lgamma", special_reference(special_functions.lgamma), doc="log |gamma(x)| (inf at 0, -1, -2, ...)")
ErfinvOp = _unary("erfinv", special_reference(special_functions.erfinv), doc="inverse error function")
NdtriOp = _unary("ndtri", special_reference(special_functions.ndtri), doc="standard normal quantile")
I0eOp = _unary("i0e", special_reference(special_functions.i0e), doc="exp(-|x|) I0(x), modified Bessel, order 0")
I1eOp = _unary("i1e", special_reference(special_functions.i1e), doc="exp(-|x|) I1(x), modified Bessel, order 1")


@hl_op
class PolygammaOp(UnaryOp):
    """psi^(n)(x), the n-th derivative of digamma; n = 0 (the default) is digamma itself."""

    name = "hl.polygamma"
    n = attribute(INT, default=0)

    @classmethod
    def infer(cls, types, attrs):
        if attrs["n"] < 0:
            raise _err("polygamma", f"needs n >= 0, got {attrs['n']}", types)
        return super().infer(types, attrs)

    def evaluate(self, x):
        y = special_reference(special_functions.polygamma, self.attr("n"))(x)
        return y.astype(_out_dtype(self), copy=False)


SPECIAL_OPS: list[type[HLOp]] = [LgammaOp, PolygammaOp, ErfinvOp, NdtriOp, I0eOp, I1eOp]
HL_OPS += SPECIAL_OPS

OPS_BY_NAME: dict[str, type[HLOp]] = {op.name: op for op in HL_OPS}

HL = Dialect("hl", HL_OPS, [])

__all__ = ["HL", "HL_OPS", "OPS_BY_NAME", "HLOp"]
