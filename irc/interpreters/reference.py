"""The numpy reference interpreter for `hl`: the oracle of every test and the `ref` target."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from irc.errors import ExecutionError, IRCError
from irc.ir.hl import HLOp, evaluate_op, numpy_dtype, shape_of
from irc.runtime.entry import entry_name


def find_entry(module: ModuleOp, entry: str | None = None, error: type[Exception] = IRCError) -> func.FuncOp:
    """The func named `entry`, else the first func of the module (irc.runtime.entry: the one entry rule).

    Declarations (funcs without a body) are not entries. `error` is raised when there is no such func.
    """
    funcs = {op.sym_name.data: op for op in module.ops if isinstance(op, func.FuncOp) and op.body.blocks}
    return funcs[entry_name(list(funcs), entry, "the module", error)]


def check_inputs(fn: func.FuncOp, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """`inputs` as arrays, checked against the arguments of `fn` (count, shape, dtype)."""
    args = fn.body.block.args
    if len(inputs) != len(args):
        raise ValueError(f"@{fn.sym_name.data} takes {len(args)} inputs, got {len(inputs)}")
    arrays = []
    for arg, value in zip(args, inputs):
        want = (shape_of(arg.type), numpy_dtype(arg.type.element_type))
        value = np.asarray(value)
        if (value.shape, value.dtype) != want:
            raise ValueError(
                f"input {arg.index} of @{fn.sym_name.data}: expected {want[0]} {want[1]}, got {value.shape} {value.dtype}"
            )
        arrays.append(value)
    return arrays


def run_hl(module: ModuleOp, inputs: Sequence[np.ndarray], entry: str | None = None) -> list[np.ndarray]:
    """Evaluate an hl function on numpy inputs, op by op, with each op's `evaluate`."""
    fn = find_entry(module, entry)
    env: dict[SSAValue, np.ndarray] = dict(zip(fn.body.block.args, check_inputs(fn, inputs)))
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return [env[v] for v in op.arguments]
        if not isinstance(op, HLOp):
            raise ValueError(f"run_hl: {op.name} is not an hl op")
        try:
            with np.errstate(all="ignore"):
                env[op.results[0]] = evaluate_op(op, *(env[v] for v in op.operands))
        except MemoryError as e:
            raise ExecutionError(
                f"@{fn.sym_name.data}: out of memory evaluating {op.name} ({op.results[0].type})"
            ) from e
    raise ValueError(f"@{fn.sym_name.data} has no func.return")
