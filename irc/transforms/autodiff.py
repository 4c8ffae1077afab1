"""Automatic differentiation as a transformation of `hl` functions.

`build_vjp` (reverse mode) and `build_jvp` (forward mode) turn an hl
`func.func` into a new hl function; the derivative rules are looked up by op
class (`irc.ir.rules.vjp` / `.jvp`, registered in `vjp_rules.py` and
`jvp_rules.py`).  Composite ops (relu, sigmoid, rsqrt, mean, softmax,
log_softmax) have no rules: they are decomposed into primitives first
(`decompose.py`), so their derivatives are those of the primitives.
Only *active* values are differentiated:
floating-point values that depend on a differentiated argument through
differentiable ops.  The `hl-autodiff` pass adds `@<name>_grad` next to each
function of a module (what `irc compile --grad` shows in the hl-opt stage).

    >>> grad_fn = build_vjp(fn, wrt=[0, 1])        # @f(x, w) -> (dx, dw) of sum(f(x, w))
    >>> jvp_fn = build_jvp(fn, wrt=[0])            # @f(x, w, tx) -> (f(x, w), df . tx)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region, SSAValue
from xdsl.passes import ModulePass

from irc.errors import IRCError
from irc.ir import rules
from irc.ir.hl import HLOp, fmt_type, is_float
from irc.transforms import jvp_rules, vjp_rules  # noqa: F401  (they register the rules looked up here)
from irc.transforms.decompose import decompose_function
from irc.transforms.vjp_rules import Emitter


class AutodiffError(IRCError):
    """A function cannot be differentiated as asked (integer argument, op without a derivative rule)."""


def _arg_name(fn: func.FuncOp, index: int) -> str:
    arg = fn.body.block.args[index]
    return f"%{arg.name_hint or index}: {fmt_type(arg.type)}"


def _check_wrt(fn: func.FuncOp, wrt: Sequence[int]) -> None:
    args = fn.body.block.args
    for i in wrt:
        if not 0 <= i < len(args):
            raise AutodiffError(f"@{fn.sym_name.data} has {len(args)} arguments; cannot differentiate argument {i}")
        if not is_float(args[i].type.element_type):
            raise AutodiffError(
                f"cannot differentiate @{fn.sym_name.data} with respect to argument {i} ({_arg_name(fn, i)}): "
                "only floating-point arguments have derivatives"
            )


def _active_values(ops: Sequence[HLOp], args: Sequence[SSAValue]) -> set[SSAValue]:
    """The values that carry a derivative: `args`, and the float results of differentiable ops of active values."""
    active = set(args)
    for op in ops:
        result = op.results[0]
        if op.DIFFERENTIABLE and is_float(result.type.element_type) and any(v in active for v in op.operands):
            active.add(result)
    return active


def _missing_rules_error(ops: Sequence[HLOp], table: rules.RuleTable) -> AutodiffError:
    lines = [f"  {op.name} at {op.location}" for op in ops]
    decorators = ", ".join(f"@{table.decorator}(hl.{cls.__name__})" for cls in dict.fromkeys(map(type, ops)))
    return AutodiffError(
        f"no {table.face} rule for {len(ops)} op(s) on the differentiated path:\n"
        + "\n".join(lines)
        + f"\n(rules are registered with {decorators} in {table.module})"
    )


def _clone_body(fn: func.FuncOp, block: Block) -> list[SSAValue]:
    """Copy fn's ops into `block` (whose first args stand for fn's); returns the values fn returns."""
    mapping: dict[SSAValue, SSAValue] = dict(zip(fn.body.block.args, block.args))
    for arg, new in zip(fn.body.block.args, block.args):
        new.name_hint = arg.name_hint
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return [mapping[v] for v in op.arguments]
        if not isinstance(op, HLOp):
            raise AutodiffError(f"autodiff works on hl functions; @{fn.sym_name.data} contains {op.name}")
        block.add_op(op.clone(value_mapper=mapping))
    raise AutodiffError(f"@{fn.sym_name.data} has no func.return")


def _finish(block: Block, name: str, outputs: Sequence[SSAValue]) -> func.FuncOp:
    """Return `outputs`, drop ops nothing uses, and wrap the block as func @name."""
    block.add_op(func.ReturnOp(*outputs))
    for op in reversed(list(block.ops)):
        if isinstance(op, HLOp) and not any(r.uses for r in op.results):
            block.erase_op(op)
    types = ([a.type for a in block.args], [v.type for v in outputs])
    return func.FuncOp(name, types, Region(block))


def build_vjp(
    fn: func.FuncOp,
    wrt: Sequence[int],
    *,
    return_primals: bool = False,
    seed: Literal["ones", "input"] = "ones",
    name: str | None = None,
) -> func.FuncOp:
    """The reverse-mode gradient function of `fn` with respect to the arguments `wrt`.

    Its arguments are fn's, followed (with `seed="input"`) by one cotangent per
    output; with `seed="ones"` every output is seeded with ones (the gradient of
    the sum of all outputs).  It returns fn's outputs if `return_primals`, then
    one gradient per `wrt` argument (zeros where the outputs do not depend on it).
    """
    _check_wrt(fn, wrt)
    fn = decompose_function(fn)  # composites (relu, softmax, ...) are differentiated as their primitives
    in_types = list(fn.function_type.inputs.data)
    out_types = list(fn.function_type.outputs.data)
    block = Block(arg_types=in_types + (out_types if seed == "input" else []))
    outputs = _clone_body(fn, block)
    ops = [op for op in block.ops if isinstance(op, HLOp)]

    active = _active_values(ops, [block.args[i] for i in wrt])
    # the ops a cotangent reaches: active, and on a path to an output
    reached = {v for v in outputs if v in active}
    differentiated = []
    for op in reversed(ops):
        if op.results[0] in reached:
            differentiated.append(op)
            reached.update(v for v in op.operands if v in active)
    missing = [op for op in reversed(differentiated) if op not in rules.vjp]
    if missing:
        raise _missing_rules_error(missing, rules.vjp)

    grads: dict[SSAValue, SSAValue] = {}
    emitter = Emitter(block, fn.location)

    def accumulate(value: SSAValue, g: SSAValue) -> None:
        grads[value] = emitter.add(grads[value], g) if value in grads else g

    for i, out in enumerate(outputs):
        if out in active:
            accumulate(out, block.args[len(in_types) + i] if seed == "input" else emitter.full(1.0, out.type))
    for op in differentiated:
        g = grads.get(op.results[0])
        if g is None:
            continue
        emitter.location = op.location
        for operand, d in zip(op.operands, rules.vjp[op](emitter, op, g)):
            if d is not None and operand in active:
                accumulate(operand, d)
    emitter.location = fn.location
    results = [grads[a] if a in grads else emitter.full(0.0, a.type) for a in (block.args[i] for i in wrt)]
    name = name or f"{fn.sym_name.data}_grad"
    return _finish(block, name, [*outputs, *results] if return_primals else results)


def build_jvp(fn: func.FuncOp, wrt: Sequence[int], name: str | None = None) -> func.FuncOp:
    """The forward-mode derivative of `fn`: a function of fn's arguments followed by one
    tangent per `wrt` argument, returning fn's outputs followed by their tangents."""
    _check_wrt(fn, wrt)
    fn = decompose_function(fn)
    in_types = list(fn.function_type.inputs.data)
    block = Block(arg_types=in_types + [in_types[i] for i in wrt])
    outputs = _clone_body(fn, block)
    tangents = {block.args[i]: block.args[len(in_types) + k] for k, i in enumerate(wrt)}
    # the tangent ops go after the copied forward ops, in the same order
    forward = [op for op in block.ops if isinstance(op, HLOp)]
    active = _active_values(forward, list(tangents))
    ops = [op for op in forward if op.results[0] in active]
    missing = [op for op in ops if op not in rules.jvp]
    if missing:
        raise _missing_rules_error(missing, rules.jvp)
    emitter = Emitter(block)
    for op in ops:
        emitter.location = op.location
        tangents[op.results[0]] = rules.jvp[op](emitter, op, [tangents.get(v) for v in op.operands])
    emitter.location = fn.location
    out_tangents = [tangents[v] if v in tangents else emitter.full(0.0, v.type) for v in outputs]
    return _finish(block, name or f"{fn.sym_name.data}_jvp", [*outputs, *out_tangents])


def float_args(fn: func.FuncOp) -> list[int]:
    """The indices of fn's floating-point arguments (the default `wrt`)."""
    return [i for i, a in enumerate(fn.body.block.args) if is_float(a.type.element_type)]


@dataclass(frozen=True)
class AutodiffPass(ModulePass):
    """Add `@<name>_grad` after every function: the gradient of the sum of its outputs.

    Options: `wrt` (argument indices; default every floating-point argument),
    `return_primals` (the gradient function also returns the outputs).

        irc opt f.mlir -p "hl-autodiff{wrt=0,1 return_primals=true}"
    """

    name = "hl-autodiff"

    wrt: tuple[int, ...] = ()
    return_primals: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        names = {f.sym_name.data for f in op.ops if isinstance(f, func.FuncOp)}
        for fn in [f for f in op.ops if isinstance(f, func.FuncOp)]:
            grad_name = f"{fn.sym_name.data}_grad"
            if grad_name in names:
                continue
            wrt = self.wrt or float_args(fn)
            if not wrt:
                raise AutodiffError(f"hl-autodiff: @{fn.sym_name.data} has no floating-point argument to differentiate")
            grad_fn = build_vjp(fn, wrt, return_primals=self.return_primals, name=grad_name)
            op.body.block.insert_op_after(grad_fn, fn)
