"""Stage 5 -> 6: translate a loops-stage `func.func` into a TVM TIR `PrimFunc`.

Every top-level loop nest (an `scf.parallel` over the parallel dims holding an
`scf.for` nest over the reduction dims) becomes one TIR block nest: the block
has a spatial iterator per `scf.parallel` iv and a reduce iterator per `scf.for`
iv, so TVM's schedule primitives apply to it. A fill nest directly followed by
a reduction into the same buffer becomes that reduction block's `T.init()`.

Buffers: the func's memref arguments (inputs, then outputs), then one extra
parameter per `memref.global` constant (the runtime passes its data), and one
block-allocated buffer per `memref.alloc`. Views (`collapse_shape`,
`expand_shape`, `subview`) are index rewrites onto the buffer they view.

Index width: a func whose memrefs all have fewer than `INT32_INDEX_LIMIT`
elements uses 32-bit index arithmetic (loop variables, buffer shapes, MLIR
`index` values): it vectorizes best. A func with a larger memref uses 64-bit
indices throughout, so flattened offsets and fused loop extents cannot wrap
past 2^31. The decision is per func, at compile time, from its static shapes.

    prim_func, constants = translate_func(func_op)
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T
from tvm.sym import iter_affine_map
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import (
    AnyFloat,
    BFloat16Type,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
)
from xdsl.ir import Attribute, Operation, SSAValue

from irc.conversions.written_size import tree_size

# Parameter buffers are declared with element alignment, so any numpy array
# (even one that is not 64-byte aligned) is a valid argument.
_ARG_OFFSET_FACTOR = 1


# Memrefs with at least this many elements need 64-bit indices. The margin below 2^31
# covers loop extents that schedules round up to a multiple of a tile size.
INT32_INDEX_LIMIT = 2**31 - 2**20

# The index width of the func being translated (see the module docstring): MLIR's `index`
# type has no width, so every scalar translation of an index value reads it from here.
_index_dtype: contextvars.ContextVar[str] = contextvars.ContextVar("irc_tir_index_dtype", default="int32")

# The extents of the block iterators of the func being translated (see `_opaque_index`).
_iter_extents: contextvars.ContextVar[dict[tirx.Var, int]] = contextvars.ContextVar("irc_tir_iter_extents")


class TranslationError(ValueError):
    """A loops-stage construct that the TIR translation does not support."""


def tir_dtype(type_: Attribute) -> str:
    """The TIR dtype string of an MLIR scalar type (`index` is the func's index width)."""
    if isinstance(type_, IndexType):
        return _index_dtype.get()
    if isinstance(type_, IntegerType):
        width = type_.width.data
        return "bool" if width == 1 else f"int{width}"
    if isinstance(type_, BFloat16Type):
        return "bfloat16"
    if isinstance(type_, AnyFloat):
        return {16: "float16", 32: "float32", 64: "float64"}[type_.bitwidth]
    raise TranslationError(f"no TIR dtype for MLIR type {type_}")


class Slot:
    """The TIR buffer that currently holds a memref's data.

    A `memref.alloc` reused by several nests (buffer reuse) gets a fresh TIR buffer
    each time a nest redefines all of it, so every block is the only writer of its
    output buffer: TVM's schedule primitives require that of complete and reduction
    blocks. Parameter buffers are never renamed.
    """

    def __init__(self, buffer: tirx.Buffer, renamable: bool = False):
        self.buffer = buffer
        self.renamable = renamable
        self.written = False


@dataclass(frozen=True)
class View:
    """A memref value: the slot holding its buffer and its index map onto that buffer (None: identity)."""

    slot: Slot
    to_base: Callable[[list[tirx.PrimExpr]], list[tirx.PrimExpr]] | None = None

    @property
    def buffer(self) -> tirx.Buffer:
        return self.slot.buffer

    def indices(self, idx: Sequence[tirx.PrimExpr]) -> list[tirx.PrimExpr]:
        return self.to_base(list(idx)) if self.to_base is not None else list(idx)

    def then(self, fn: Callable[[list[tirx.PrimExpr]], list[tirx.PrimExpr]]) -> View:
        """A view of this view: `fn` maps the new indices to this view's indices."""
        return View(self.slot, lambda idx: self.indices(fn(idx)))


# ----------------------------------------------------------------------------- views


def _collapse(view: View, op: memref.CollapseShapeOp) -> View:
    src_shape = op.src.type.get_shape()
    groups = [[d.value.data for d in g.data] for g in op.reassociation.data]

    def to_src(idx):
        if not groups:  # collapsed to rank 0: every source dim has size 1
            return [0] * len(src_shape)
        out = []
        for group, i in zip(groups, idx, strict=True):
            if len(group) > 1:
                i = _opaque_index(i)
            parts = []
            for d in reversed(group[1:]):
                parts.append(tirx.floormod(i, src_shape[d]))
                i = tirx.floordiv(i, src_shape[d])
            out += [i, *reversed(parts)]
        return out

    return view.then(to_src)


def _opaque_index(i: tirx.PrimExpr) -> tirx.PrimExpr:
    """`i` hidden from TVM's index simplifiers (as `i ^ -1 ^ -1`) unless it is a variable or constant.

    Works around a TVM 0.27 bug that gave silently wrong results. A collapsed index `i`
    splits into `i // n` and `i % n` over the source dims. s_tir.StmtSimplify rewrites the
    parts separately (correctly: for `i = v // 2 * 3 + v % 2 * 2`, v in 0..3, a reshape of
    a strided slice, into `(v + 1) // 2` and `v // 2`), and FlattenBuffer's iter-map
    simplification then recombines them wrongly. The minimal TVM case:

        iter_map_simplify([(v + 1) // 2 * 2 + v // 2], {v: Range(0, 4)}, "surjective")
        # (v + 1) // 2 * 3, so FlattenBuffer makes `a[(v + 1) // 2 * 3]` of a 3x2 `a[(v + 1) // 2, v // 2]`

    (padding the mark `v` on the left for `(v + 1) // 2`, it rewrites `v // 2` on the
    padded mark without the offset; tests/e2e/test_view_chains.py checks the bug is still
    there). Neither simplifier sees through the xor pair, so the parts stay `i // n` and
    `i % n` until FlattenBuffer folds `i // n * n + i % n` back to `i`; a constant `i` still
    folds, and LLVM removes the pair. (A pair of bit-casts would hide `i` too, but TVM's LLVM
    codegen fails on the bit-cast of a constant 0.) An index that enumerates its block
    iterators densely (a variable, or `i * 2048 + j` of a reshape with j < 2048) splits into
    clean parts with nothing to pad, and keeps its contiguous vector loads; a hidden index
    is gathered.
    """
    if isinstance(i, tirx.IntImm) or _dense(i):
        return i
    ones = tirx.IntImm(_dtype(i), -1)
    return tirx.bitwise_xor(tirx.bitwise_xor(i, ones), ones)


def _dense(i: tirx.PrimExpr) -> bool:
    """`i` maps the block iterators it uses one to one onto 0, 1, ..., the product of their extents."""
    extents = _iter_extents.get({})
    used = tirx.analysis.undefined_vars(i)
    if not used or any(v not in extents for v in used):
        return False
    domain = {v: tvm.ir.Range(0, extents[v]) for v in used}
    found = iter_affine_map.detect_iter_map([i], domain, check_level="bijective").indices
    if len(found) != 1 or len(found[0].args) != 1 or not _is_int(found[0].base, 0):
        return False
    return _is_int(found[0].args[0].scale, 1)  # not `i * 6 + j * 2`: one to one, with gaps


def _is_int(x: tirx.PrimExpr, value: int) -> bool:
    return isinstance(x, tirx.IntImm) and x.value == value


def _expand(view: View, op: memref.ExpandShapeOp) -> View:
    shape = op.result.type.get_shape()
    groups = [[d.value.data for d in g.data] for g in op.reassociation.data]

    def to_src(idx):
        out = []
        for group in groups:
            flat = idx[group[0]]
            for d in group[1:]:
                flat = flat * shape[d] + idx[d]
            out.append(flat)
        return out

    return view.then(to_src)


def _subview(view: View, op: memref.SubviewOp) -> View:
    if op.offsets or op.sizes or op.strides:
        raise TranslationError(f"memref.subview with dynamic offsets/sizes/strides is not supported: {op}")
    offsets, sizes, strides = (list(a.get_values()) for a in (op.static_offsets, op.static_sizes, op.static_strides))
    result_shape = op.result.type.get_shape()
    kept, j = [], 0
    for d, size in enumerate(sizes):  # rank-reducing subviews drop unit dims
        if j < len(result_shape) and size == result_shape[j] and len(sizes) - d > len(result_shape) - j - 1:
            kept.append(d)
            j += 1

    def to_src(idx):
        out = list(offsets)
        for d, i in zip(kept, idx, strict=True):
            out[d] = offsets[d] + strides[d] * i
        return out

    return view.then(to_src)


_VIEWS = {"memref.collapse_shape": _collapse, "memref.expand_shape": _expand, "memref.subview": _subview}

# ----------------------------------------------------------------------------- scalar ops


def _const(op: arith.ConstantOp) -> tirx.PrimExpr:
    value, dtype = op.value, tir_dtype(op.result.type)
    if isinstance(value, FloatAttr):
        return float_const(dtype, value.value.data)
    if isinstance(value, IntegerAttr):
        if dtype == "bool":
            return tirx.IntImm("bool", value.value.data & 1)
        return tirx.IntImm(dtype, value.value.data)
    raise TranslationError(f"arith.constant of {value} is not a scalar (loops stage keeps tensors in memref.global)")


def _isnan(a: tirx.PrimExpr, b: tirx.PrimExpr) -> tirx.PrimExpr:
    checks = [tirx.isnan(x) for x in (a, b) if not (isinstance(x, tirx.FloatImm) and not math.isnan(x.value))]
    return tirx.Or(*checks) if len(checks) == 2 else checks[0] if checks else tirx.IntImm("bool", 0)


_ORDERED = {"eq": tirx.EQ, "gt": tirx.GT, "ge": tirx.GE, "lt": tirx.LT, "le": tirx.LE}


def _cmpf(op, a, b) -> tirx.PrimExpr:
    pred = arith.CMPF_COMPARISON_OPERATIONS[op.predicate.value.data]
    if pred in ("false", "true"):
        return tirx.IntImm("bool", int(pred == "true"))
    if tvm_ffi.structural_equal(a, b) and pred not in ("ord", "uno"):
        # TVM's simplifier folds `x == x` to true, also for a float that is NaN: say it with isnan
        nan = tirx.isnan(a)
        reflexive = pred[1:] in ("eq", "ge", "le")
        if pred == "one":
            return tirx.IntImm("bool", 0)
        if pred == "une":
            return nan
        if pred[0] == "o":
            return tirx.Not(nan) if reflexive else tirx.IntImm("bool", 0)
        return tirx.IntImm("bool", 1) if reflexive else nan
    if pred == "ord":
        return tirx.Not(_isnan(a, b))
    if pred == "uno":
        return _isnan(a, b)
    if pred == "one":
        return tirx.And(tirx.Not(_isnan(a, b)), tirx.Not(tirx.EQ(a, b)))
    if pred == "une":  # not Not(EQ): TVM turns that into NE, which LLVM codegen emits as the ordered `fcmp one`
        return tirx.Or(tirx.NE(a, b), _isnan(a, b))
    compare = _ORDERED[pred[1:]](a, b)
    return compare if pred[0] == "o" else tirx.Or(compare, _isnan(a, b))


def _is_constant(x) -> bool:
    """`x` is a constant: a `FloatImm`, an `IntImm`, or a float constant's bits (`float_const`)."""
    if isinstance(x, tvm.ir.expr.Call) and getattr(x.op, "name", "") == "tirx.reinterpret":
        x = x.args[0]
    return isinstance(x, tirx.FloatImm | tirx.IntImm)


def _dtype(x: tirx.PrimExpr) -> str:
    return str(x.ty.dtype)


def _unsigned(x: tirx.PrimExpr) -> tirx.PrimExpr:
    """A signed integer's bits as the unsigned type of its width (a constant folded: TVM's LLVM codegen
    reinterprets a constant 0 as a null pointer)."""
    if not _dtype(x).startswith("int"):
        return x
    if isinstance(x, tirx.IntImm):
        return tirx.IntImm("u" + _dtype(x), x.value & ((1 << int(_dtype(x)[3:])) - 1))
    return tirx.reinterpret("u" + _dtype(x), x)


def _bool_as_int(x: tirx.PrimExpr) -> tirx.PrimExpr:
    """bool as int8 0/1: TVM's LLVM codegen compares bools with fcmp, which does not verify."""
    return tirx.Cast("int8", x) if _dtype(x) == "bool" else x


def _cmpi(op, a, b) -> tirx.PrimExpr:
    pred = arith.CMPI_COMPARISON_OPERATIONS[op.predicate.value.data]
    a, b = _bool_as_int(a), _bool_as_int(b)
    if pred[0] == "u":
        a, b, pred = _unsigned(a), _unsigned(b), "s" + pred[1:]
    return {"eq": tirx.EQ, "ne": tirx.NE, "slt": tirx.LT, "sle": tirx.LE, "sgt": tirx.GT, "sge": tirx.GE}[pred](a, b)


def _cast(op, x) -> tirx.PrimExpr:
    return tirx.Cast(tir_dtype(op.result.type), x)


def _extf(op, x) -> tirx.PrimExpr:
    """bf16 -> f32 shifts the bits up: TVM's bf16 legalization converts a bf16 value cast to f32 inside a
    let-bound expression (`_bound_args`, the large bodies of the special functions) as the integer its
    storage bits spell."""
    if _dtype(x) != "bfloat16" or tir_dtype(op.result.type) != "float32":
        return _cast(op, x)
    return tirx.reinterpret("float32", tirx.Cast("uint32", tirx.reinterpret("uint16", x)) << tirx.const(16, "uint32"))


def _truncf(op, x) -> tirx.PrimExpr:
    """f32 -> bf16 rounds to nearest even in the bits: TVM's bf16 legalization drops the rounding of
    a value cast to bf16 and back to f32 inside an expression (it computes bf16 in f32), and irc
    rounds each op's result (torch's `round_to_nearest_even`, NaN -> 0x7FC0)."""
    if tir_dtype(op.result.type) != "bfloat16" or _dtype(x) != "float32":
        return _cast(op, x)
    bits = tirx.reinterpret("uint32", x)
    rounded = (bits + tirx.const(0x7FFF, "uint32") + ((bits >> 16) & tirx.const(1, "uint32"))) >> 16
    rounded = tirx.Select(x != x, tirx.const(0x7FC0, "uint32"), rounded)
    return tirx.reinterpret("bfloat16", tirx.Cast("uint16", rounded))


def _ucast(op, x) -> tirx.PrimExpr:
    return tirx.Cast(tir_dtype(op.result.type), _unsigned(x))


def _extsi(op, x) -> tirx.PrimExpr:
    dtype = tir_dtype(op.result.type)
    if _dtype(x) == "bool":  # sign-extending i1 gives 0 / -1
        return tirx.Select(x, tirx.IntImm(dtype, -1), tirx.IntImm(dtype, 0))
    return tirx.Cast(dtype, x)


def _udiv(a, b) -> tirx.PrimExpr:
    return tirx.Cast(_dtype(a), tirx.truncdiv(_unsigned(a), _unsigned(b)))


def _unsigned_op(fn):
    """`fn` on the operands reinterpreted as unsigned, the result back in the signed type."""
    return lambda a, *rest: tirx.reinterpret(_dtype(a), fn(_unsigned(a), *(_unsigned(x) for x in rest)))


def _maxnum(a, b):
    return tirx.Select(tirx.isnan(a), b, tirx.Select(tirx.isnan(b), a, tirx.Max(a, b)))


def _minnum(a, b):
    return tirx.Select(tirx.isnan(a), b, tirx.Select(tirx.isnan(b), a, tirx.Min(a, b)))


def _subf(a: tirx.PrimExpr, b: tirx.PrimExpr) -> tirx.PrimExpr:
    """`a - b`, safe from TVM's float cancellation.

    TVM's simplifier rewrites float `x - x` to 0 and `(x + y) - y` to `x` as if floats were
    reals: NaN and inf no longer propagate and rounding is lost (`(t + 1e20) - 1e20` gave `t`).
    Where `b` repeats (part of) `a`, it goes through a pair of bit-casts the simplifier cannot
    see through; LLVM folds the pair away and keeps the IEEE subtraction.
    """
    if _shares_term(a, b):
        bits = _dtype(b).replace("float", "int")
        b = tirx.reinterpret(_dtype(b), tirx.reinterpret(bits, b))
    return a - b


def _shares_term(a: tirx.PrimExpr, b: tirx.PrimExpr) -> bool:
    """`a` and `b` match one of TVM's float cancellation rules: x - x, (x + y) - y, x - (x + y)."""
    terms_a = [a, *((a.a, a.b) if isinstance(a, tirx.Add) else ())]
    terms_b = [b, *((b.a, b.b) if isinstance(b, tirx.Add) else ())]
    return any(tvm_ffi.structural_equal(x, y) for x in terms_a for y in terms_b)


def _f(a: tirx.PrimExpr, value: float) -> tirx.PrimExpr:
    return float_const(_dtype(a), value)


#: float dtype -> (the integer dtype of its bits, numpy's type of each)
_BITS = {"float32": ("uint32", np.float32, np.uint32), "float64": ("int64", np.float64, np.int64)}


def float_const(dtype: str, value: float) -> tirx.PrimExpr:
    """A float constant: a `FloatImm`, or its bits reinterpreted (`reinterpret(int constant)`) where TVM's
    GPU code generators would print it rounded. TVM's OpenCL (C) code prints every float with 7 significant
    digits (`std::scientific`), its CUDA code a float64 with 15 digits after the point: a float64 program on
    OpenCL computed `1 / 3` as 0.3333333 (errors of 4e-8 where numpy's were 6e-17), a CUDA one `1e-20` as 0,
    and a float32 1/3 on OpenCL was an ulp off. The integer prints exactly in every language, and LLVM folds
    the reinterpret away; constants that print exactly (0, 1, 0.5, 0.1, 1e-5, ...) stay readable."""
    if dtype not in _BITS or not math.isfinite(value):
        return tirx.FloatImm(dtype, value)
    int_dtype, float_type, int_type = _BITS[dtype]
    exact = float_type(value)
    printed = [f"{value:.6e}"] + ([f"{value:.15f}"] if dtype == "float64" else [])
    if all(float_type(text) == exact for text in printed):
        return tirx.FloatImm(dtype, value)
    return tirx.reinterpret(dtype, tirx.IntImm(int_dtype, int(np.array(exact).view(int_type))))


# TVM's expm1/asinh/acosh/atanh are the textbook formulas (exp(x) - 1, log(x + sqrt(x * x + 1)), ...), which
# lose every digit near 0 (or 1) and overflow early; these keep a few ulps with exp, log and log1p only.
def _expm1(a: tirx.PrimExpr) -> tirx.PrimExpr:
    """Kahan's expm1: (u - 1) * x / log(u) with u = exp(x); x itself where u rounds to 1 (keeps -0.0)."""
    u = tirx.exp(a)
    um1 = u - _f(a, 1.0)
    exact = tirx.Div(um1 * a, tirx.log(u))
    return tirx.Select(u == _f(a, 1.0), a, tirx.Select(um1 == _f(a, -1.0), um1, tirx.Select(tirx.isinf(u), u, exact)))


def _asinh(a: tirx.PrimExpr) -> tirx.PrimExpr:
    """sign(x) * log1p(|x| + x * x / (1 + sqrt(1 + x * x))); log(|x|) + log(2) for |x| > 1e10 (x * x overflows)."""
    m = tirx.abs(a)
    small = tirx.log1p(m + tirx.Div(m * m, _f(a, 1.0) + tirx.sqrt(_f(a, 1.0) + m * m)))
    r = tirx.Select(m > _f(a, 1e10), tirx.log(m) + _f(a, math.log(2.0)), small)
    return tirx.copysign(r, a)


def _acosh(a: tirx.PrimExpr) -> tirx.PrimExpr:
    """log1p(t + sqrt(2 t + t * t)) with t = x - 1; log(x) + log(2) for x > 1e10; nan below 1."""
    t = a - _f(a, 1.0)
    small = tirx.log1p(t + tirx.sqrt(_f(a, 2.0) * t + t * t))
    large = tirx.Select(a > _f(a, 1e10), tirx.log(a) + _f(a, math.log(2.0)), small)
    return tirx.Select(a < _f(a, 1.0), _f(a, math.nan), large)


def _atanh(a: tirx.PrimExpr) -> tirx.PrimExpr:
    """sign(x) * 0.5 * log1p(2 |x| / (1 - |x|)): exact near 0 and near +-1, keeps -0.0, +-inf at +-1."""
    m = tirx.abs(a)
    return tirx.copysign(_f(a, 0.5) * tirx.log1p(tirx.Div(_f(a, 2.0) * m, _f(a, 1.0) - m)), a)


def _ipowi(a: tirx.PrimExpr, b: tirx.PrimExpr) -> tirx.PrimExpr:
    """a ** b of integers, PyTorch's: a negative exponent gives 1 for base 1, +-1 for base -1, else 0.
    A constant exponent up to 16 (`x ** 2`: the constant reaches the body, `linalg-fuse-elementwise`)
    multiplies: exact, wrapping on overflow as PyTorch. In an elementwise nest another exponent is
    exponentiation by squaring (`_FuncTranslator._ipowi_by_squaring`, its squares stored in scratch
    buffers: as one expression each square is written out twice, and a LetStmt did not help, TVM's
    simplifier substitutes its value). Elsewhere (a rank-0 value outside a nest) it goes through
    float64 `pow`, rounded: exact wherever |a ** b| < 2 ** 53 (PyTorch wraps past the dtype's range;
    this does not)."""
    dt = _dtype(a)
    if isinstance(b, tirx.IntImm) and 0 <= b.value <= 16:
        product = tirx.IntImm(dt, 1)
        for _ in range(b.value):
            product = _int_times(product, a)
        return product
    power = tirx.Cast(dt, tirx.round(tirx.power(tirx.Cast("float64", a), tirx.Cast("float64", b))))
    return _with_negative_exponents(a, b, power)


def _int_times(x: tirx.PrimExpr, y: tirx.PrimExpr) -> tirx.PrimExpr:
    """x * y of integers, wrapping as PyTorch: int32 in int64 (TVM's LLVM multiplies assume no overflow),
    a chain of them one int64 expression (`_widened`); int64 as it is."""
    dt = _dtype(x)
    return tirx.Cast(dt, _wrapped(_widened(x) * _widened(y), dt)) if dt == "int32" else x * y


def _with_negative_exponents(a: tirx.PrimExpr, b: tirx.PrimExpr, power: tirx.PrimExpr) -> tirx.PrimExpr:
    """`power` (a ** b for b >= 0), and PyTorch's a ** b of integers for b < 0: 1 for base 1, +-1 (by the
    exponent's parity) for base -1, else 0."""
    dt = _dtype(a)
    one, zero = tirx.IntImm(dt, 1), tirx.IntImm(dt, 0)
    odd = tirx.NE(tirx.bitwise_and(b, one), zero)
    negative = tirx.Select(tirx.EQ(a, one), one, tirx.Select(tirx.EQ(a, -one), tirx.Select(odd, -one, one), zero))
    return tirx.Select(tirx.LT(b, zero), negative, power)


def _nan_propagating(fn):
    return lambda a, b: tirx.Select(_isnan(a, b), a + b, fn(a, b))


#: the nodes an int32 op that wraps adds around its operands (`_wrapped`: casts to int64 and back, the mask)
_WRAP_NODES = 8
#: the expression size above which `_FuncTranslator._bound_args` binds operands to variables
_BIND_ABOVE = 256
#: the expression size above which `_FuncTranslator._bound_args` stores operands in a scratch buffer
#: (`_materialized`), in the body of an elementwise nest
_MATERIALIZE_ABOVE = 32

# op name -> f(*operand exprs); ops needing attributes take the op first (see _SCALAR_WITH_OP).
_SCALAR: dict[str, Callable[..., tirx.PrimExpr]] = {
    "arith.addf": lambda a, b: a + b,
    "arith.subf": _subf,
    "arith.mulf": lambda a, b: a * b,
    "arith.divf": lambda a, b: tirx.Div(a, b),
    "arith.remf": tirx.fmod,
    "arith.negf": lambda a: a * tirx.FloatImm(_dtype(a), -1.0),  # 0 - a would give +0.0 for a = +0.0
    "arith.maximumf": _nan_propagating(tirx.Max),
    "arith.minimumf": _nan_propagating(tirx.Min),
    "arith.maxnumf": _maxnum,
    "arith.minnumf": _minnum,
    "arith.addi": lambda a, b: a + b,
    "arith.subi": lambda a, b: a - b,
    "arith.muli": lambda a, b: a * b,
    "arith.divsi": tirx.truncdiv,
    "arith.remsi": tirx.truncmod,
    "arith.divui": _udiv,
    "arith.floordivsi": tirx.floordiv,
    "arith.ceildivsi": tirx.ceildiv,
    "arith.maxsi": tirx.Max,
    "arith.minsi": tirx.Min,
    "arith.andi": lambda a, b: tirx.And(a, b) if _dtype(a) == "bool" else tirx.bitwise_and(a, b),
    "arith.ori": lambda a, b: tirx.Or(a, b) if _dtype(a) == "bool" else tirx.bitwise_or(a, b),
    "arith.xori": lambda a, b: (
        tirx.NE(_bool_as_int(a), _bool_as_int(b)) if _dtype(a) == "bool" else tirx.bitwise_xor(a, b)
    ),
    "arith.shli": tirx.shift_left,
    "arith.shrsi": tirx.shift_right,
    "arith.shrui": _unsigned_op(tirx.shift_right),
    "arith.remui": _unsigned_op(tirx.truncmod),
    "arith.maxui": _unsigned_op(tirx.Max),
    "arith.minui": _unsigned_op(tirx.Min),
    "arith.select": tirx.Select,
    "math.exp": tirx.exp,
    "math.exp2": tirx.exp2,
    "math.expm1": lambda a: _expm1(a),
    "math.log": tirx.log,
    "math.log2": tirx.log2,
    "math.log10": tirx.log10,
    "math.log1p": tirx.log1p,
    "math.sqrt": tirx.sqrt,
    "math.rsqrt": tirx.rsqrt,
    "math.tanh": tirx.tanh,
    "math.erf": tirx.erf,
    "math.sin": tirx.sin,
    "math.cos": tirx.cos,
    "math.tan": tirx.tan,
    "math.atan": tirx.atan,
    "math.atan2": tirx.atan2,
    "math.asin": tirx.asin,
    "math.acos": tirx.acos,
    "math.sinh": tirx.sinh,
    "math.cosh": tirx.cosh,
    "math.asinh": lambda a: _asinh(a),
    "math.acosh": lambda a: _acosh(a),
    "math.atanh": lambda a: _atanh(a),
    "math.absf": tirx.abs,
    "math.absi": tirx.abs,
    "math.floor": tirx.floor,
    "math.ceil": tirx.ceil,
    "math.round": tirx.round,
    "math.roundeven": tirx.nearbyint,
    "math.trunc": tirx.trunc,
    "math.powf": tirx.power,
    "math.ipowi": _ipowi,
    "math.copysign": tirx.copysign,
}
# Integer ops that wrap around in numpy and torch (two's complement) where C, OpenCL C and LLVM leave
# overflow undefined: TVM's LLVM code marks int32/int64 arithmetic `nsw` (and uint32/uint64 `nuw`, so
# unsigned arithmetic does not wrap there either), and the compilers fold on it: `(x + 1) > x` compiled to
# true for x = 2**31 - 1. On int8/int16/int32 data they run in int64, where they cannot overflow, and the
# result is truncated back (two's complement wrap-around on every target; `_wraps`). int64 data keeps
# the plain form (there is no wider type), as do index arithmetic and a reduction's combine (TVM's reducer
# matching wants `acc + x`).
_WRAPPING = {"arith.addi", "arith.subi", "arith.muli"}


def _widened(x: tirx.PrimExpr) -> tirx.PrimExpr:
    """A narrow integer `x` in int64; the int64 expression itself where `x` is a wrapped op's result.

    A chain of wrapped ops is one int64 expression with one cast at its end: TVM's simplifier takes time
    exponential in nested int32 <-> int64 casts (9 chained int32 additions compiled in 10 s, 12 in minutes)."""
    if isinstance(x, tirx.Cast) and _dtype(x.value) == "int64":
        return x.value
    return tirx.Cast("int64", x)


def _wrapped(wide: tirx.PrimExpr, dtype: str) -> tirx.PrimExpr:
    """The int64 `wide` reduced to `dtype`'s range as two's complement does, still in int64: a mask and two
    additions, no casts (((wide + 2^(w-1)) & (2^w - 1)) - 2^(w-1))."""
    bits = int(dtype[3:])
    bias = tirx.IntImm("int64", 1 << (bits - 1))
    return tirx.bitwise_and(wide + bias, tirx.IntImm("int64", (1 << bits) - 1)) - bias


def _wraps(op: Operation) -> bool:
    """`op` computes on a signed integer type of 8 to 32 bits (not `index`, not i1, not i64)."""
    t = op.results[0].type
    return isinstance(t, IntegerType) and t.width.data in (8, 16, 32) and tir_dtype(t).startswith("int")


# Binary ops whose operands may be swapped: a reduction's accumulator goes first, the
# form TVM's reducer matching (rfactor) expects.
_COMMUTATIVE = {
    "arith.addf",
    "arith.mulf",
    "arith.maximumf",
    "arith.minimumf",
    "arith.maxnumf",
    "arith.minnumf",
    "arith.addi",
    "arith.muli",
    "arith.maxsi",
    "arith.minsi",
    "arith.andi",
    "arith.ori",
    "arith.xori",
}
_SCALAR_WITH_OP: dict[str, Callable[..., tirx.PrimExpr]] = {
    "arith.cmpf": _cmpf,
    "arith.cmpi": _cmpi,
    "arith.sitofp": _cast,
    "arith.fptosi": _cast,
    "arith.extf": _extf,
    "arith.truncf": _truncf,
    "arith.trunci": _cast,
    "arith.index_cast": _cast,
    "arith.extsi": _extsi,
    "arith.uitofp": _ucast,
    "arith.fptoui": _cast,
    "arith.extui": _ucast,
    "arith.index_castui": _ucast,
    "arith.bitcast": lambda op, x: tirx.reinterpret(tir_dtype(op.result.type), x),
}

# ----------------------------------------------------------------------------- nests


@dataclass
class _Nest:
    """One top-level loop nest, flattened: spatial ivs, reduce ivs, the ops of its bodies."""

    op: Operation
    spatial: list[tuple[SSAValue, int, int, int]]  # (iv, lower bound, extent, step)
    reduce: list[tuple[SSAValue, int, int, int]]
    body: list[Operation]  # every non-loop op of the nest, in program order

    @property
    def stores(self) -> list[memref.StoreOp]:
        return [op for op in self.body if isinstance(op, memref.StoreOp)]


def _int(values: dict[SSAValue, object], v: SSAValue, what: str) -> int:
    expr = values.get(v)
    if not isinstance(expr, tirx.IntImm):
        raise TranslationError(f"loop {what} must be an arith.constant : index, got {v}")
    return int(expr.value)


def _loop_dims(values, lbs, ubs, steps, ivs) -> list[tuple[SSAValue, int, int, int]]:
    dims = []
    for iv, lb, ub, step in zip(ivs, lbs, ubs, steps, strict=True):
        lo, hi, st = _int(values, lb, "lower bound"), _int(values, ub, "upper bound"), _int(values, step, "step")
        dims.append((iv, lo, max(0, -(-(hi - lo) // st)), st))
    return dims


def _flatten_nest(op: Operation, values) -> _Nest:
    nest = _Nest(op, [], [], [])
    if isinstance(op, scf.ParallelOp):
        block = op.body.block
        nest.spatial = _loop_dims(values, op.lowerBound, op.upperBound, op.step, block.args)
        ops = list(block.ops)
    else:
        ops = [op]
    while ops:
        loops = [o for o in ops if isinstance(o, scf.ForOp)]
        rest = [o for o in ops if not isinstance(o, scf.ForOp | scf.ReduceOp | scf.YieldOp)]
        if len(loops) > 1 or (loops and any(isinstance(o, memref.StoreOp) for o in rest)):
            raise TranslationError(f"{op.name} at the top level is not a perfect loop nest (one nest per linalg op)")
        nest.body += rest
        for const in rest:  # loop bounds may be defined inside the enclosing loop
            if isinstance(const, arith.ConstantOp):
                values[const.result] = _const(const)
        if not loops:
            break
        loop = loops[0]
        if loop.iter_args:
            raise TranslationError("scf.for with iter_args is not supported: reductions go through memory")
        nest.reduce += _loop_dims(values, [loop.lb], [loop.ub], [loop.step], [loop.body.block.args[0]])
        ops = list(loop.body.block.ops)
    return nest


class _FuncTranslator:
    """Walks one loops-stage func and emits its PrimFunc with the TVMScript IR builder."""

    def __init__(self, func_op: func.FuncOp, globals_: dict[str, memref.GlobalOp], scratch_scope: str = "global"):
        self.func_op = func_op
        self.scratch_scope = scratch_scope
        self.globals = globals_
        self.values: dict[SSAValue, object] = {}
        self.constants: list[np.ndarray] = []
        self.nests = 0
        self.accumulators: set[SSAValue] = set()  # memrefs the reduction being emitted stores to
        #: SSA value -> the size of its expression tree as written out (`_bound_args`)
        self.sizes: dict[SSAValue, int] = {}
        #: emitting a nest's body, inside its block: where a LetStmt may go (not the func's top level, whose
        #: scalar values later blocks read)
        self.in_body = False
        #: ... and the nest is elementwise (no reduction, not an init): where a value may be materialized
        self.in_spatial_body = False
        self.materialized = 0
        #: the elementwise nest being emitted: its number of elements, and the current one's (row-major)
        self.position: tuple[int, tirx.PrimExpr] = (1, tirx.IntImm("int32", 0))

    # -- buffers

    def _extents(self, shape: Sequence[int]) -> list[tirx.IntImm]:
        """Buffer dims or loop extents in the func's index width."""
        index = _index_dtype.get()
        return [tirx.IntImm(index, int(n)) for n in shape]

    def _param(self, name: str, type_: MemRefType) -> tirx.Buffer:
        buffer = T.buffer(
            self._extents(type_.get_shape()),
            tir_dtype(type_.element_type),
            buffer_name=name,
            align=_element_bytes(type_),
            offset_factor=_ARG_OFFSET_FACTOR,
        )
        return T.arg(name, buffer)

    def _declare_params(self) -> None:
        body_ops = list(self.func_op.body.block.ops)
        for i, arg in enumerate(self.func_op.body.block.args):
            if not isinstance(arg.type, MemRefType):
                raise TranslationError(f"@{self.func_op.sym_name.data}: argument {i} is {arg.type}, not a memref")
            self.values[arg] = View(Slot(self._param(arg.name_hint or f"arg{i}", arg.type)))
        for op in body_ops:
            if isinstance(op, memref.GetGlobalOp):
                name = op.name_.root_reference.data
                buffer = self._param(name, op.memref.type)
                self.values[op.memref] = View(Slot(buffer))
                self.constants.append(_global_data(self.globals[name]))

    # -- scalar expressions

    def _scalar(self, op: Operation) -> None:
        name = op.name
        if isinstance(op, arith.ConstantOp):
            self.values[op.result] = _const(op)
            return
        if isinstance(op, memref.LoadOp):
            view = self.values[op.memref]
            self.values[op.res] = tirx.BufferLoad(view.buffer, view.indices([self.values[i] for i in op.indices]))
            return
        args = self._bound_args(op)
        if name in _COMMUTATIVE and self._accumulates(op.operands[1]) and not self._accumulates(op.operands[0]):
            args.reverse()
        if name in _WRAPPING and _wraps(op) and not any(self._accumulates(v) for v in op.operands):
            dtype = _dtype(args[0])
            self.values[op.results[0]] = tirx.Cast(dtype, _wrapped(_SCALAR[name](*map(_widened, args)), dtype))
        elif name == "math.ipowi" and self.in_spatial_body and not isinstance(args[1], tirx.IntImm):
            self.values[op.results[0]] = self._ipowi_by_squaring(*args)
        elif name in _SCALAR:
            self.values[op.results[0]] = _SCALAR[name](*args)
        elif name in _SCALAR_WITH_OP:
            self.values[op.results[0]] = _SCALAR_WITH_OP[name](op, *args)
        else:
            raise TranslationError(f"{name} has no TIR translation (in @{self.func_op.sym_name.data})")

    def _bound_args(self, op: Operation) -> list[tirx.PrimExpr]:
        """The operands' expressions; those of a large one stored in a scratch buffer or bound to a
        variable (a LetStmt) first.

        TIR expressions are trees: an SSA value used twice is written out twice, and some ops write
        an operand out more than once themselves (`irc.conversions.written_size`: the NaN-aware
        min/max three times), so a chain of them grows as 3^n: the max pooling of a 3x3 window, 8
        chained maximums, made a 2 MB expression on which TVM's simplifier ran for hours. A LetStmt
        keeps the tree small but TVM's simplifier and its LLVM code generator look through the
        variable to its value, entering each select's condition as a constraint on the way: a chain of ten `where(p > 3, p * 2, p + 1)` still compiled for minutes
        (docs/compile-time.md). A value in a buffer is opaque to them, and LLVM turns the buffer back
        into a register. So in an elementwise nest an operand whose tree would pass `_MATERIALIZE_ABOVE`
        nodes is stored first (`_materialized`); in a reduction or an init, whose schedules want the
        block's body to be one store, one passing `_BIND_ABOVE` is bound (small expressions, the usual
        case, are emitted as before)."""
        args = [self.values[v] for v in op.operands]
        sizes = [self.sizes.get(v, 1) for v in op.operands]
        extra = _WRAP_NODES if op.name in _WRAPPING and _wraps(op) else 0
        size = tree_size(op.name, sizes) + extra
        if (self.in_spatial_body and size > _MATERIALIZE_ABOVE) or (self.in_body and size > _BIND_ABOVE):
            for k, (arg, arg_size) in enumerate(zip(args, sizes)):
                if arg_size > 1:
                    args[k] = self._materialized(arg) if self.in_spatial_body else T.Bind(arg)
                    sizes[k] = 1
        for result in op.results:
            self.sizes[result] = tree_size(op.name, sizes) + extra
        return args

    def _materialized(self, value: tirx.PrimExpr) -> tirx.PrimExpr:
        """`value` stored in a local buffer of the current block, and loaded back (a bool as int8).

        The buffer is declared over the nest's iteration space (`position`), which TVM compacts to the
        region its allocating block uses: one element, which LLVM keeps in a register. Where the CPU
        schedule vectorizes the nest, the allocation moves around the vectorized loop and the buffer
        holds one element per lane (`irc.targets.schedules.widen_lane_buffers`)."""
        dtype = _dtype(value)
        stored = tirx.Cast("int8", value) if dtype == "bool" else value
        size, index = self.position
        buffer = T.sblock_alloc_buffer(self._extents([size]), _dtype(stored), scope=self.scratch_scope)
        IRBuilder.name(f"t{self.materialized}", buffer)
        self.materialized += 1
        T.buffer_store(buffer, stored, [index])
        loaded = tirx.BufferLoad(buffer, [index])
        return tirx.NE(loaded, tirx.IntImm("int8", 0)) if dtype == "bool" else loaded

    def _ipowi_by_squaring(self, a: tirx.PrimExpr, b: tirx.PrimExpr) -> tirx.PrimExpr:
        """Integer `a ** b` for a computed exponent in an elementwise nest: exponentiation by squaring
        over the exponent's bits (31 of int32, 63 of int64), every product wrapping as PyTorch's, each
        square and partial product stored (`_materialized`) so that no statement nests them. Exact
        where float64 `pow` (`_ipowi`, used elsewhere) is only exact below 2 ** 53 and saturates on
        overflow. A negative exponent as `_ipowi`."""
        dt = _dtype(a)
        one, zero = tirx.IntImm(dt, 1), tirx.IntImm(dt, 0)
        bits = 31 if dt == "int32" else 63
        exponent = b if isinstance(b, TensorLoad | tirx.Var) else self._materialized(b)
        result = one
        a = base = self._materialized(a)
        for k in range(bits):
            bit = tirx.NE(tirx.bitwise_and(tirx.shift_right(exponent, tirx.IntImm(dt, k)), one), zero)
            result = self._materialized(tirx.Select(bit, _int_times(result, base), result))
            if k < bits - 1:
                base = self._materialized(_int_times(base, base))
        return _with_negative_exponents(a, exponent, result)

    def _accumulates(self, value: SSAValue) -> bool:
        return isinstance(value.owner, memref.LoadOp) and value.owner.memref in self.accumulators

    def _store(self, op: memref.StoreOp, value) -> None:
        view = self.values[op.memref]
        T.buffer_store(view.buffer, value, view.indices([self.values[i] for i in op.indices]))

    def _emit_body(
        self, ops: list[Operation], before_stores: Callable[[], None] | None = None, spatial: bool = False
    ) -> None:
        """Scalar ops become expressions; with several stores, loads are bound first so
        a later store still sees the values loaded before the earlier ones.
        `before_stores` runs between the two (an in-place nest switches to its fresh buffer).
        `spatial`: the body of an elementwise nest's block, where `_bound_args` may materialize."""
        stores = [op for op in ops if isinstance(op, memref.StoreOp)]
        self.in_body, self.in_spatial_body = True, spatial
        for op in ops:
            if not isinstance(op, memref.StoreOp):
                self._scalar(op)
        self.in_body = self.in_spatial_body = False
        if before_stores is not None:
            before_stores()
        if len(stores) == 1:
            self._store(stores[0], self.values[stores[0].value])
            return
        bound = [T.Bind(self.values[s.value]) for s in stores]
        for store, value in zip(stores, bound, strict=True):
            self._store(store, value)

    # -- nests

    def _fill_init(self, fill: _Nest, nest: _Nest) -> memref.StoreOp | None:
        """The store of `fill` when it only initializes what reduction `nest` accumulates into."""
        if fill.reduce or not nest.reduce or len(fill.stores) != 1 or len(nest.stores) != 1:
            return None
        fstore, rstore = fill.stores[0], nest.stores[0]
        fill_ivs = [d[0] for d in fill.spatial]
        red_ivs = [d[0] for d in nest.spatial]
        if (
            fstore.memref is not rstore.memref
            or list(fstore.indices) != fill_ivs
            or list(rstore.indices) != red_ivs
            or [d[1:] for d in fill.spatial] != [d[1:] for d in nest.spatial]
            or any(isinstance(o, memref.LoadOp) for o in fill.body)
        ):
            return None
        for load in nest.body:  # the reduction may read its output only where it writes
            if isinstance(load, memref.LoadOp) and load.memref is rstore.memref and list(load.indices) != red_ivs:
                return None
        return fstore

    def _redefined(self, nest: _Nest, init: tuple[_Nest, memref.StoreOp] | None) -> Slot | None:
        """The already written alloc that `nest` overwrites entirely, reading it at most in place."""
        if len(nest.stores) != 1 or (nest.reduce and init is None):
            return None
        store = nest.stores[0]
        view = self.values[store.memref]
        slot, ivs = view.slot, [d[0] for d in nest.spatial]
        if not (slot.renamable and slot.written and view.to_base is None and list(store.indices) == ivs):
            return None
        if [d[1:] for d in nest.spatial] != [(0, int(n), 1) for n in slot.buffer.shape]:
            return None
        for op in nest.body + (init[0].body if init else []):
            if isinstance(op, memref.LoadOp) and self.values[op.memref].slot is slot:
                if self.values[op.memref].to_base is not None or list(op.indices) != ivs:
                    return None
        return slot

    def _alloc(self, shape: Sequence[int], dtype: str, name: str) -> tirx.Buffer:
        return IRBuilder.name(name, T.sblock_alloc_buffer(self._extents(shape), dtype, align=64))

    def _emit_nest(self, nest: _Nest, init: tuple[_Nest, memref.StoreOp] | None) -> None:
        if any(d[2] == 0 for d in nest.spatial):  # zero-size output: nothing to compute, no block
            return
        if any(d[2] == 0 for d in nest.reduce):  # a reduction over nothing leaves its init
            if init is not None:
                self._emit_nest(init[0], None)
            return
        dims = nest.spatial + nest.reduce
        name = f"nest{self.nests}_{_buffer_name(self.values, nest)}"
        self.nests += 1
        slot = self._redefined(nest, init)
        fresh = self._alloc(slot.buffer.shape, slot.buffer.dtype, slot.buffer.name) if slot else None

        def switch() -> None:
            slot.buffer = fresh

        # A reduction accumulates in its fresh buffer; an elementwise nest reads the old one in place.
        before_stores = switch if slot is not None and not nest.reduce else None
        self.accumulators = {store.memref for store in nest.stores} if nest.reduce else set()
        if not dims:
            with T.sblock(name):
                self.position = (1, tirx.IntImm(_index_dtype.get(), 0))
                self._emit_body(nest.body, before_stores, spatial=True)
        else:
            with T.grid(*self._extents([d[2] for d in dims])) as loops:
                loops = [loops] if len(dims) == 1 else loops
                flat = tirx.IntImm(_index_dtype.get(), 0)
                with T.sblock(name):
                    for k, ((iv, lo, extent, step), loop) in enumerate(zip(dims, loops, strict=True)):
                        axis = T.axis.spatial if k < len(nest.spatial) else T.axis.reduce
                        label = _iv_name(iv, k)
                        IRBuilder.name(label, loop)
                        v = IRBuilder.name("v" + label, axis(tirx.IntImm(_index_dtype.get(), extent), loop))
                        _iter_extents.get()[v] = extent
                        self.values[iv] = v * step + lo if (lo, step) != (0, 1) else v
                        flat = flat * tirx.IntImm(_index_dtype.get(), extent) + v
                    self.position = (math.prod(d[2] for d in dims), flat)
                    if slot is not None and nest.reduce:
                        switch()
                    if init is not None:
                        fill, fstore = init
                        for (fiv, *_), (iv, *_) in zip(fill.spatial, nest.spatial, strict=True):
                            self.values[fiv] = self.values[iv]
                        with T.init():
                            self._emit_body(fill.body)
                    self._emit_body(nest.body, before_stores, spatial=not nest.reduce)
        self.accumulators = set()
        for store in nest.stores:
            self.values[store.memref].slot.written = True

    def _emit_copy(self, op: memref.CopyOp) -> None:
        """`memref.copy` (not lowered to a nest): one spatial block over the destination."""
        src, dst = self.values[op.source], self.values[op.destination]
        shape = op.destination.type.get_shape()
        if 0 in shape:  # nothing to copy
            return
        name = f"nest{self.nests}_copy_{dst.buffer.name}"
        self.nests += 1
        if not shape:
            with T.sblock(name):
                T.buffer_store(dst.buffer, tirx.BufferLoad(src.buffer, src.indices([])), dst.indices([]))
        else:
            extents = self._extents(shape)
            with T.grid(*extents) as loops:
                loops = [loops] if len(shape) == 1 else loops
                with T.sblock(name):
                    idx = [T.axis.spatial(n, loop) for n, loop in zip(extents, loops, strict=True)]
                    _iter_extents.get().update((v, int(n)) for v, n in zip(idx, extents, strict=True))
                    T.buffer_store(dst.buffer, tirx.BufferLoad(src.buffer, src.indices(idx)), dst.indices(idx))
        dst.slot.written = True

    def translate(self) -> tirx.PrimFunc:
        name = self.func_op.sym_name.data
        with IRBuilder() as builder:
            with T.prim_func(s_tir=True):
                T.func_name(name)
                T.func_attr({"global_symbol": name, "tirx.noalias": True})
                self._declare_params()
                with T.sblock("root"):
                    self._emit_ops(list(self.func_op.body.block.ops))
        return builder.get()

    def _may_be_fill(self, nest: _Nest) -> bool:
        """A nest that may become the init of the next reduction: a spatial nest with one
        store, or a top-level store of a constant (the init of a rank-0 reduction)."""
        if nest.reduce or len(nest.stores) != 1:
            return False
        if nest.spatial:
            return True
        return _is_constant(self.values.get(nest.stores[0].value))

    def _emit_ops(self, ops: list[Operation]) -> None:
        pending: _Nest | None = None  # a fill nest that may become the next reduction's init
        for op in ops:
            if isinstance(op, scf.ParallelOp | scf.ForOp) or isinstance(op, memref.StoreOp):
                nest = _flatten_nest(op, self.values) if not isinstance(op, memref.StoreOp) else _Nest(op, [], [], [op])
                if pending is not None:
                    fstore = self._fill_init(pending, nest)
                    if fstore is not None:
                        self._emit_nest(nest, (pending, fstore))
                        pending = None
                        continue
                    self._emit_nest(pending, None)
                    pending = None
                if self._may_be_fill(nest):
                    pending = nest
                else:
                    self._emit_nest(nest, None)
                continue
            if pending is not None and not isinstance(op, arith.ConstantOp):
                self._emit_nest(pending, None)
                pending = None
            if isinstance(op, memref.CopyOp):
                self._emit_copy(op)
            elif isinstance(op, memref.AllocOp):
                if op.dynamic_sizes:
                    raise TranslationError(f"memref.alloc with dynamic sizes is not supported: {op.memref.type}")
                type_ = op.memref.type
                buffer = self._alloc(type_.get_shape(), tir_dtype(type_.element_type), op.memref.name_hint or "alloc")
                self.values[op.memref] = View(Slot(buffer, renamable=True))
            elif op.name in _VIEWS:
                self.values[op.results[0]] = _VIEWS[op.name](self.values[op.operands[0]], op)
            elif isinstance(op, memref.GetGlobalOp | func.ReturnOp | memref.DeallocOp):
                pass
            else:
                self._scalar(op)
        if pending is not None:
            self._emit_nest(pending, None)


def _iv_name(iv: SSAValue, k: int) -> str:
    return iv.name_hint if iv.name_hint and iv.name_hint.isidentifier() else f"i{k}"


def _buffer_name(values, nest: _Nest) -> str:
    stores = nest.stores
    return values[stores[0].memref].buffer.name if stores else "empty"


def _element_bytes(type_: MemRefType) -> int:
    return max(1, np.dtype(tir_dtype(type_.element_type)).itemsize)


def _global_data(op: memref.GlobalOp) -> np.ndarray:
    value = op.initial_value
    if not isinstance(value, DenseIntOrFPElementsAttr):
        raise TranslationError(f"memref.global @{op.sym_name.data} has no dense initial value")
    type_ = op.type
    dtype = np.dtype(tir_dtype(type_.element_type))
    data = np.asarray(value.get_values(), dtype=dtype)
    shape = type_.get_shape()
    if data.size == 1 and math.prod(shape) != 1:
        data = np.full(shape, data.reshape(()), dtype)
    return np.asarray(data.reshape(shape), order="C")


@dataclass(frozen=True)
class TranslatedFunc:
    """One loops-stage func as TIR, with what the runtime needs to call it."""

    name: str
    prim_func: tirx.PrimFunc
    num_outputs: int
    arg_types: list[tuple[tuple[int, ...], str]]  # (shape, dtype) of inputs then outputs
    constants: list[np.ndarray]  # data of the trailing constant parameters


def index_dtype(func_op: func.FuncOp) -> str:
    """The TIR index dtype of `func_op`: int64 when one of its memrefs has `INT32_INDEX_LIMIT` elements or more."""
    types = [a.type for a in func_op.body.block.args]
    types += [r.type for op in func_op.walk() for r in op.results]
    wide = any(isinstance(t, MemRefType) and math.prod(t.get_shape()) >= INT32_INDEX_LIMIT for t in types)
    return "int64" if wide else "int32"


def translate_func(
    func_op: func.FuncOp, globals_: dict[str, memref.GlobalOp], scratch_scope: str = "global"
) -> TranslatedFunc:
    """Translate one loops-stage `func.func` (see the module docstring). `scratch_scope`: the storage
    scope of materialized values (`_FuncTranslator._materialized`): "global" on a CPU, where TVM
    puts a small buffer on the stack ("local" went to its heap workspace), "local" on a GPU."""
    translator = _FuncTranslator(func_op, globals_, scratch_scope)
    token = _index_dtype.set(index_dtype(func_op))
    extents_token = _iter_extents.set({})
    try:
        prim_func = translator.translate()
    finally:
        _index_dtype.reset(token)
        _iter_extents.reset(extents_token)
    num_outputs = func_op.attributes.get("irc.num_outputs")
    arg_types = [(tuple(a.type.get_shape()), tir_dtype(a.type.element_type)) for a in func_op.body.block.args]
    return TranslatedFunc(
        func_op.sym_name.data,
        prim_func,
        num_outputs.value.data if num_outputs is not None else 1,
        arg_types,
        translator.constants,
    )


def translate_module(module: ModuleOp, scratch_scope: str = "global") -> list[TranslatedFunc]:
    """Every `func.func` of a loops-stage module, translated (`scratch_scope`: see `translate_func`)."""
    globals_ = {op.sym_name.data: op for op in module.ops if isinstance(op, memref.GlobalOp)}
    return [translate_func(op, globals_, scratch_scope) for op in module.ops if isinstance(op, func.FuncOp)]
