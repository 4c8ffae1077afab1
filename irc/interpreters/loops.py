"""Execute the `linalg`, `buffers` and `loops` stages on numpy arrays.

    outputs = run_stage(module, [x, w])          # list of np.ndarray

This is a direct numpy interpreter rather than xDSL's: xDSL 0.74 interprets
one scalar at a time (seconds for a small matmul), and its `linalg.fill`,
multi-output `linalg.generic`, `linalg.index`, views and `scf.parallel` are
wrong or missing. Here the scalar ops run on whole numpy arrays:

* a `linalg` op runs its body once per point of its reduction dims, on arrays
  that span all its parallel dims at once (gathered through the indexing maps);
* an `scf.parallel` runs its body once, with the induction variables as
  broadcastable `arange`s, so `memref.load`/`store` become fancy indexing;
  `scf.for` is an ordinary Python loop.

Tensors are immutable arrays, memrefs are arrays mutated in place and views
(`memref.subview`, `collapse_shape`, `expand_shape`) are numpy views, so the
aliasing of the IR is the aliasing of the arrays. Fresh buffers
(`tensor.empty`, `memref.alloc`, output arguments) are filled with NaN (or the
most negative integer), so a read of an unwritten element shows in the result.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    ShapedType,
)
from xdsl.dialects.linalg.abstract_ops import LinalgStructuredOperation
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.ir.affine import (
    AffineBinaryOpExpr,
    AffineBinaryOpKind,
    AffineConstantExpr,
    AffineDimExpr,
    AffineExpr,
    AffineMap,
)

from irc.interpreters.reference import find_entry
from irc.ir.hl import numpy_dtype, power
from irc.runtime.dtypes import is_float_dtype

Value = np.ndarray | np.generic


class InterpretError(RuntimeError):
    """The interpreter met an op or a value it cannot execute."""


def _poison(t: ShapedType) -> np.ndarray:
    dtype = numpy_dtype(t.get_element_type())
    fill = np.nan if is_float_dtype(dtype) else (np.iinfo(dtype).min if dtype.kind == "i" else True)
    return np.full(t.get_shape(), fill, dtype=dtype)


def dense_array(value: DenseIntOrFPElementsAttr, t: ShapedType) -> np.ndarray:
    """The numpy array of a dense elements attribute (splats broadcast)."""
    values = np.array(value.get_values(), dtype=numpy_dtype(t.get_element_type())).reshape(-1)
    shape = tuple(t.get_shape())
    return np.full(shape, values[0]) if values.size == 1 else values.reshape(shape)


def eval_affine(expr: AffineExpr, dims: Sequence[Value]) -> Value:
    """An affine expression on (arrays of) loop indices."""
    if isinstance(expr, AffineDimExpr):
        return dims[expr.position]
    if isinstance(expr, AffineConstantExpr):
        return np.int64(expr.value)
    if isinstance(expr, AffineBinaryOpExpr):
        lhs, rhs = eval_affine(expr.lhs, dims), eval_affine(expr.rhs, dims)
        return _AFFINE_OPS[expr.kind](lhs, rhs)
    raise InterpretError(f"unsupported affine expression {expr}")


_AFFINE_OPS = {
    AffineBinaryOpKind.Add: np.add,
    AffineBinaryOpKind.Mul: np.multiply,
    AffineBinaryOpKind.Mod: np.mod,
    AffineBinaryOpKind.FloorDiv: np.floor_divide,
    AffineBinaryOpKind.CeilDiv: lambda a, b: -np.floor_divide(-a, b),
}


def _apply_map(m: AffineMap, dims: Sequence[Value]) -> tuple[Value, ...]:
    return tuple(eval_affine(e, dims) for e in m.results)


def _static_slices(op: Operation) -> tuple[slice, ...]:
    """The numpy slices of a static tensor.extract_slice/insert_slice/memref.subview."""
    if op.offsets or op.sizes or op.strides:
        raise InterpretError(f"{op.name} with dynamic offsets, sizes or strides is not supported")
    offsets, sizes, strides = (p.get_values() for p in (op.static_offsets, op.static_sizes, op.static_strides))
    return tuple(slice(o, o + s * st, st) for o, s, st in zip(offsets, sizes, strides))


def _view(array: np.ndarray, shape: Sequence[int], op: Operation) -> np.ndarray:
    try:
        return np.reshape(array, tuple(shape), copy=False)
    except ValueError:
        raise InterpretError(
            f"{op.name}: a {array.shape} buffer with strides {array.strides} has no view of shape {tuple(shape)}"
        ) from None


class Frame:
    """One function activation: SSA values and the enclosing loop context."""

    def __init__(self, interpreter: Interpreter):
        self.interpreter = interpreter
        self.env: dict[SSAValue, object] = {}
        self.linalg_indices: Sequence[Value] = ()
        self.parallel_rank = 0  # numpy axes taken by enclosing scf.parallel loops

    def run_block(self, block: Block, args: Sequence[object]) -> list:
        """Run a block with its arguments bound; returns the terminator's operand values."""
        env = self.env
        for arg, value in zip(block.args, args, strict=True):
            env[arg] = value
        for op in block.ops:
            impl = _impl_for(op)
            if impl is None:
                raise InterpretError(f"the interpreter does not support {op.name}")
            results = impl(self, op, [env[v] for v in op.operands])
            if results is _TERMINATE:
                return [env[v] for v in op.operands]
            for res, value in zip(op.results, results, strict=True):
                env[res] = value
        return []

    def run_region(self, region: Region, args: Sequence[object]) -> list:
        return self.run_block(region.block, args)


class Interpreter:
    """Runs the functions of one module; `memref.global`s are materialized once."""

    def __init__(self, module: ModuleOp):
        self.functions = {op.sym_name.data: op for op in module.ops if isinstance(op, func.FuncOp)}
        self.globals = {
            op.sym_name.data: op for op in module.ops if op.name == "memref.global" and op.initial_value is not None
        }
        self._global_arrays: dict[str, np.ndarray] = {}

    def call(self, function: func.FuncOp, args: Sequence[object]) -> list:
        with np.errstate(all="ignore"):
            return Frame(self).run_region(function.body, args)

    def global_array(self, name: str) -> np.ndarray:
        if name not in self._global_arrays:
            op = self.globals[name]
            array = dense_array(op.initial_value, op.type)
            array.flags.writeable = False  # a write into a constant is a compiler bug
            self._global_arrays[name] = array
        return self._global_arrays[name]


_TERMINATE = object()
Impl = Callable[[Frame, Operation, list], Sequence[object] | object]


def _result_dtype(op: Operation) -> np.dtype:
    return numpy_dtype(op.results[0].type)


def _elementwise(fn: Callable) -> Impl:
    def impl(frame: Frame, op: Operation, args: list) -> Sequence[object]:
        return (np.asarray(fn(*args)).astype(_result_dtype(op), copy=False)[()],)

    return impl


def _constant(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    value = op.value
    if isinstance(value, DenseIntOrFPElementsAttr):
        return (dense_array(value, op.result.type),)
    if isinstance(value, IntegerAttr | FloatAttr):
        return (_result_dtype(op).type(value.value.data),)
    raise InterpretError(f"arith.constant with value {value} is not supported")


def _divsi(a: Value, b: Value) -> Value:
    """Integer division rounding toward zero (C semantics); x / 0 gives 0 instead of trapping."""
    b = np.where(b == 0, 1, b)
    q = np.floor_divide(a, b)
    return np.where((q < 0) & (q * b != a), q + 1, q)


def _cmpf(predicate: int) -> Callable:
    unordered = predicate in (8, 9, 10, 11, 12, 13)  # ueq ugt uge ult ule une
    base = {
        1: np.equal,
        2: np.greater,
        3: np.greater_equal,
        4: np.less,
        5: np.less_equal,
        6: np.not_equal,
        8: np.equal,
        9: np.greater,
        10: np.greater_equal,
        11: np.less,
        12: np.less_equal,
        13: np.not_equal,
    }

    def compare(a: Value, b: Value) -> Value:
        nan = np.isnan(a) | np.isnan(b)
        if predicate in (0, 15):
            return np.full(np.broadcast(a, b).shape, predicate == 15)
        if predicate == 7:
            return ~nan
        if predicate == 14:
            return nan
        return (base[predicate](a, b) | nan) if unordered else (base[predicate](a, b) & ~nan)

    return compare


_UNSIGNED = {np.dtype(f"int{w}"): np.dtype(f"uint{w}") for w in (8, 16, 32, 64)} | {
    np.dtype(np.bool_): np.dtype(np.uint8)
}


def _unsigned(fn: Callable) -> Callable:
    """`fn` on the operands reinterpreted as unsigned integers of the same width."""

    def apply(*xs: Value) -> Value:
        return fn(*(np.asarray(x).astype(_UNSIGNED.get(np.asarray(x).dtype, np.asarray(x).dtype)) for x in xs))

    return apply


_CMPI = [np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal]
_CMPI += [_unsigned(fn) for fn in _CMPI[2:]]  # ult ule ugt uge


def _cmp(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    predicate = op.predicate.value.data
    fn = _cmpf(predicate) if op.name == "arith.cmpf" else _CMPI[predicate]
    return (np.asarray(fn(*args))[()],)


def _erf(x: Value) -> Value:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


_BINARY: dict[str, Callable] = {
    "arith.addf": np.add,
    "arith.addi": np.add,
    "arith.subf": np.subtract,
    "arith.subi": np.subtract,
    "arith.mulf": np.multiply,
    "arith.muli": np.multiply,
    "arith.divf": np.divide,
    "arith.remf": np.fmod,
    "arith.divsi": _divsi,
    "arith.floordivsi": lambda a, b: np.floor_divide(a, np.where(b == 0, 1, b)),
    "arith.ceildivsi": lambda a, b: -np.floor_divide(-a, np.where(b == 0, 1, b)),
    "arith.remsi": lambda a, b: np.fmod(a, np.where(b == 0, 1, b)),
    "arith.maximumf": np.maximum,
    "arith.minimumf": np.minimum,
    "arith.maxnumf": np.fmax,
    "arith.minnumf": np.fmin,
    "arith.maxsi": np.maximum,
    "arith.minsi": np.minimum,
    "arith.andi": np.bitwise_and,
    "arith.ori": np.bitwise_or,
    "arith.xori": np.bitwise_xor,
    "arith.shli": np.left_shift,
    "arith.shrsi": np.right_shift,
    "arith.shrui": _unsigned(np.right_shift),
    "arith.divui": _unsigned(lambda a, b: np.floor_divide(a, np.where(b == 0, 1, b))),
    "arith.remui": _unsigned(lambda a, b: np.mod(a, np.where(b == 0, 1, b))),
    "arith.maxui": _unsigned(np.maximum),
    "arith.minui": _unsigned(np.minimum),
    "math.powf": np.power,
    "math.ipowi": power,
    "math.atan2": np.arctan2,
    "math.copysign": np.copysign,
}
_UNARY: dict[str, Callable] = {
    "arith.negf": np.negative,
    "math.absf": np.abs,
    "math.absi": np.abs,
    "math.exp": np.exp,
    "math.exp2": np.exp2,
    "math.expm1": np.expm1,
    "math.log": np.log,
    "math.log2": np.log2,
    "math.log10": np.log10,
    "math.log1p": np.log1p,
    "math.sqrt": np.sqrt,
    "math.rsqrt": lambda x: 1 / np.sqrt(x),
    "math.cbrt": np.cbrt,
    "math.erf": _erf,
    "math.tanh": np.tanh,
    "math.sinh": np.sinh,
    "math.cosh": np.cosh,
    "math.sin": np.sin,
    "math.cos": np.cos,
    "math.tan": np.tan,
    "math.asin": np.arcsin,
    "math.acos": np.arccos,
    "math.atan": np.arctan,
    "math.asinh": np.arcsinh,
    "math.atanh": np.arctanh,
    "math.acosh": np.arccosh,
    "math.floor": np.floor,
    "math.ceil": np.ceil,
    "math.trunc": np.trunc,
    "math.roundeven": np.rint,
    "math.round": lambda x: np.trunc(x + np.copysign(0.5, x)),
}
_CASTS = (
    "arith.sitofp",
    "arith.fptosi",
    "arith.fptoui",
    "arith.extf",
    "arith.truncf",
    "arith.extsi",
    "arith.trunci",
    "arith.index_cast",
    "arith.index_castui",
)


def _select(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    return (np.asarray(np.where(*args))[()],)


def _fma(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    a, b, c = args
    return (np.asarray(a * b + c).astype(_result_dtype(op), copy=False)[()],)


# --- linalg -----------------------------------------------------------------


def _linalg(frame: Frame, op: LinalgStructuredOperation, args: list) -> Sequence[object]:
    """A structured op: the body once per reduction point, vectorized over the parallel dims."""
    maps = [m.data for m in op.get_indexing_maps()]
    iterators = [str(t.data) for t in op.get_iterator_types()]
    ranges = op.get_static_loop_ranges()
    outs = list(args[len(op.inputs) :])
    if op.res:  # tensors are values: write into copies
        outs = [o.copy() for o in outs]
    operands = [*args[: len(op.inputs)], *outs]
    parallel = [d for d, it in enumerate(iterators) if it == "parallel"]
    reduction = [d for d, it in enumerate(iterators) if it != "parallel"]
    dims: list[Value] = [np.int64(0)] * len(ranges)
    for axis, d in enumerate(parallel):
        dims[d] = np.arange(ranges[d]).reshape([-1 if a == axis else 1 for a in range(len(parallel))])
    saved = frame.linalg_indices
    frame.linalg_indices = dims
    for point in itertools.product(*(range(ranges[d]) for d in reduction)):
        for d, i in zip(reduction, point):
            dims[d] = np.int64(i)
        elements = [v[_apply_map(m, dims)] if isinstance(v, np.ndarray) else v for v, m in zip(operands, maps)]
        yielded = frame.run_region(op.body, elements)
        for out, m, value in zip(outs, maps[len(op.inputs) :], yielded, strict=True):
            out[_apply_map(m, dims)] = value
    frame.linalg_indices = saved
    return outs if op.res else ()


def _linalg_index(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    return (frame.linalg_indices[op.dim.value.data],)


# --- tensor and memref --------------------------------------------------------


def _empty(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    if args:
        raise InterpretError(f"{op.name} with dynamic sizes is not supported")
    return (_poison(op.results[0].type),)


def _reshape(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    shape = op.results[0].type.get_shape()
    return (_view(args[0], shape, op) if op.name.startswith("memref") else args[0].reshape(shape),)


def _extract_slice(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    return (_view(args[0][_static_slices(op)], op.results[0].type.get_shape(), op),)


def _insert_slice(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    source, dest = args[0], args[1].copy()
    region = dest[_static_slices(op)]
    region[...] = source.reshape(region.shape)
    return (dest,)


def _get_global(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    return (frame.interpreter.global_array(op.name_.string_value()),)


def _copy(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    source, dest = args
    dest[...] = source
    return ()


def _load(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    return (args[0][tuple(args[1:])],)


def _store(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    value, memref, *indices = args
    try:
        memref[tuple(indices)] = value
    except ValueError:
        raise InterpretError(
            f"memref.store: parallel iterations store different values into one element of {memref.shape}"
        ) from None
    return ()


# --- scf and func -----------------------------------------------------------


def _for(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    lb, ub, step, *carried = args
    if any(isinstance(v, np.ndarray) and v.ndim for v in (lb, ub, step)):
        raise InterpretError("scf.for with bounds that depend on an enclosing scf.parallel is not supported")
    for i in range(int(lb), int(ub), int(step)):
        carried = frame.run_region(op.body, [np.int64(i), *carried])
    return carried


def _parallel(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    if op.initVals:
        raise InterpretError("scf.parallel with reductions is not supported")
    n = len(op.lowerBound)
    lbs, ubs, steps = args[:n], args[n : 2 * n], args[2 * n : 3 * n]
    # New loops take leading axes, so values of enclosing loops broadcast unchanged.
    ivs = [
        np.arange(int(lb), int(ub), int(st)).reshape(
            [-1 if a == j else 1 for a in range(n)] + [1] * frame.parallel_rank
        )
        for j, (lb, ub, st) in enumerate(zip(lbs, ubs, steps))
    ]
    if any(iv.size == 0 for iv in ivs):
        return ()
    frame.parallel_rank += n
    frame.run_region(op.body, ivs)
    frame.parallel_rank -= n
    return ()


def _call(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    interpreter = frame.interpreter
    return interpreter.call(interpreter.functions[op.callee.string_value()], args)


def _terminate(frame: Frame, op: Operation, args: list) -> object:
    return _TERMINATE


def _no_results(frame: Frame, op: Operation, args: list) -> Sequence[object]:
    return ()


_OPS: dict[str, Impl] = {
    "arith.constant": _constant,
    "arith.cmpf": _cmp,
    "arith.cmpi": _cmp,
    "arith.select": _select,
    "math.fma": _fma,
    **{name: _elementwise(fn) for name, fn in (_BINARY | _UNARY).items()},
    **{name: _elementwise(lambda x: x) for name in _CASTS},
    **{name: _elementwise(_unsigned(lambda x: x)) for name in ("arith.uitofp", "arith.extui")},
    "linalg.index": _linalg_index,
    "tensor.empty": _empty,
    "tensor.collapse_shape": _reshape,
    "tensor.expand_shape": _reshape,
    "tensor.extract": _load,
    "tensor.extract_slice": _extract_slice,
    "tensor.insert_slice": _insert_slice,
    "memref.alloc": _empty,
    "memref.alloca": _empty,
    "memref.dealloc": _no_results,
    "memref.get_global": _get_global,
    "memref.subview": _extract_slice,
    "memref.collapse_shape": _reshape,
    "memref.expand_shape": _reshape,
    "memref.copy": _copy,
    "memref.load": _load,
    "memref.store": _store,
    "scf.for": _for,
    "scf.parallel": _parallel,
    "func.call": _call,
    "func.return": _terminate,
    "linalg.yield": _terminate,
    "scf.yield": _terminate,
    "scf.reduce": _terminate,
}


def _impl_for(op: Operation) -> Impl | None:
    if isinstance(op, LinalgStructuredOperation):
        return _linalg
    return _OPS.get(op.name)


def run_stage(module: ModuleOp, inputs: list[np.ndarray], entry: str | None = None) -> list[np.ndarray]:
    """Run the entry function of a `linalg`, `buffers` or `loops` module on numpy inputs.

    On tensors the function's results are returned. On buffers, the trailing
    `irc.num_outputs` memref arguments are allocated here and returned.

        >>> run_stage(parse_module(text), [np.ones((2, 3), np.float32)])
    """
    function = find_entry(module, entry, InterpretError)
    arg_types = list(function.function_type.inputs)
    num_outputs = function.attributes.get("irc.num_outputs")
    n_out = num_outputs.value.data if num_outputs is not None else 0
    if len(inputs) != len(arg_types) - n_out:
        raise InterpretError(f"@{function.sym_name.data} takes {len(arg_types) - n_out} inputs, got {len(inputs)}")
    args: list[np.ndarray] = []
    for i, (value, t) in enumerate(zip(inputs, arg_types)):
        value = np.asarray(value)
        if tuple(value.shape) != tuple(t.get_shape()):
            raise InterpretError(
                f"@{function.sym_name.data} input {i}: expected shape {tuple(t.get_shape())}, got {value.shape}"
            )
        args.append(np.array(value, dtype=numpy_dtype(t.get_element_type())))
    outputs = [_poison(t) for t in arg_types[len(inputs) :]]
    results = Interpreter(module).call(function, [*args, *outputs])
    return [np.array(r) for r in results] if not n_out else outputs
