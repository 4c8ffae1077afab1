"""The numpy reference interpreter for `hl`: the oracle of every test and the `ref` target."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from irc.errors import ExecutionError
from irc.ir.hl import HLOp, numpy_dtype, shape_of


def find_entry(module: ModuleOp, entry: str | None = None) -> func.FuncOp:
    """The func named `entry`, or the only/last func of the module."""
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if not funcs:
        raise ValueError("module has no func.func")
    if entry is None:
        return funcs[-1]
    for f in funcs:
        if f.sym_name.data == entry:
            return f
    raise ValueError(f"no function @{entry}; the module has {', '.join('@' + f.sym_name.data for f in funcs)}")


def run_hl(module: ModuleOp, inputs: Sequence[np.ndarray], entry: str | None = None) -> list[np.ndarray]:
    """Evaluate an hl function on numpy inputs, op by op, with each op's `evaluate`."""
    fn = find_entry(module, entry)
    args = fn.body.block.args
    if len(inputs) != len(args):
        raise ValueError(f"@{fn.sym_name.data} takes {len(args)} inputs, got {len(inputs)}")
    env: dict[SSAValue, np.ndarray] = {}
    for arg, value in zip(args, inputs):
        want = (shape_of(arg.type), numpy_dtype(arg.type.element_type))
        value = np.asarray(value)
        if (value.shape, value.dtype) != want:
            raise ValueError(f"input {arg.index} of @{fn.sym_name.data}: expected {want[0]} {want[1]}, got {value.shape} {value.dtype}")
        env[arg] = value
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return [env[v] for v in op.arguments]
        if not isinstance(op, HLOp):
            raise ValueError(f"run_hl: {op.name} is not an hl op")
        try:
            with np.errstate(all="ignore"):
                env[op.results[0]] = op.evaluate(*(env[v] for v in op.operands))
        except MemoryError as e:
            raise ExecutionError(f"@{fn.sym_name.data}: out of memory evaluating {op.name} ({op.results[0].type})") from e
    raise ValueError(f"@{fn.sym_name.data} has no func.return")
