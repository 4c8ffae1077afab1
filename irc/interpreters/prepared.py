"""The eager interpreter tier: an hl function prepared once, then run on numpy many times.

`run_hl` (reference.py) is the oracle: it walks the function op by op at every call. A
training loop interprets the same function at every step until its compiled code is ready
(docs/eager.md), so `Prepared` does the walk once and keeps what each call needs:

* the steps in order, each an op's `evaluate` (through `evaluate_op`, so f16 / bf16 compute
  as in the reference) with the slots of its operands and result;
* where each value dies: its array is dropped after its last use, so a step's scratch memory
  is handed back to the allocator while it is still in the cache, for the next op to reuse;
* the values of the ops without operands (`constant`, `full`, `iota`), computed once and
  read-only (an output that is one, or a view of one, is copied by the eager tier);
* one peephole: a matmul whose only use is a transpose of its last two dims is computed
  transposed, `(a @ b)^T = b^T @ a^T`, with BLAS reading the transposed operands as views. A
  weight gradient is such a transpose (`dW = (x^T @ dy)^T`); as a view it was copied when it
  left the program and read strided by the optimizer's update.

The results are those of `run_hl`, each op evaluated the same way, up to the rounding of
BLAS for a transposed product (tests/interpreters/test_prepared.py compares them).

    run = Prepared(module)
    outputs = run(inputs)      # like run_hl(module, inputs), possibly views of fresh arrays
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from irc.errors import ExecutionError
from irc.interpreters.reference import check_inputs, find_entry
from irc.ir.hl import HLOp, MatmulOp, TransposeOp, evaluate_op, numpy_dtype
from irc.runtime.dtypes import HALF_DTYPES


class _Step:
    __slots__ = ("evaluate", "operands", "result", "frees", "op")

    def __init__(self, evaluate: Callable, operands: list[int], result: int, op: HLOp):
        self.evaluate = evaluate
        self.operands = operands
        self.result = result
        self.frees: list[int] = []
        self.op = op


def _transposed_matmul(dtype: np.dtype) -> Callable:
    def evaluate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.matmul(np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2)).astype(dtype, copy=False)

    return evaluate


def _op_evaluate(op: HLOp) -> Callable:
    """`evaluate_op(op, ...)`; `op.evaluate` itself where no operand or result is a 16-bit float (the
    types say so once, here, instead of `evaluate_op` checking the arrays at every run)."""
    types = [v.type for v in (*op.operands, *op.results)]
    if all(numpy_dtype(t.element_type) not in HALF_DTYPES for t in types):
        return op.evaluate
    return lambda *args: evaluate_op(op, *args)


class Prepared:
    """An hl function (the `entry` of `module`, else its first) ready to run on numpy inputs."""

    def __init__(self, module: ModuleOp, entry: str | None = None):
        fn = find_entry(module, entry)
        self.fn = fn
        slot: dict = {arg: i for i, arg in enumerate(fn.body.block.args)}
        ops = list(fn.body.block.ops)
        fused = self._transposed_products(ops)
        self.steps: list[_Step] = []
        self.outputs: list[int] = []
        #: slot -> value of the ops without operands (constant, full, iota), computed once, read-only
        self.constants: dict[int, np.ndarray] = {}
        for op in ops:
            if isinstance(op, func.ReturnOp):
                self.outputs = [slot[v] for v in op.arguments]
                break
            if not isinstance(op, HLOp):
                raise ValueError(f"Prepared: {op.name} is not an hl op")
            if op in fused.values():
                continue  # evaluated by the transpose that uses it
            slot[op.results[0]] = len(slot)
            if not op.operands:
                try:
                    value = np.array(evaluate_op(op))  # an array of its own, which no run may write to
                except MemoryError as e:
                    raise self._out_of_memory(op) from e
                value.flags.writeable = False
                self.constants[slot[op.results[0]]] = value
                continue
            matmul = fused.get(op)
            if matmul is not None:
                dtype = numpy_dtype(op.results[0].type.element_type)
                step = _Step(_transposed_matmul(dtype), [slot[v] for v in matmul.operands], slot[op.results[0]], op)
            else:
                step = _Step(_op_evaluate(op), [slot[v] for v in op.operands], slot[op.results[0]], op)
            self.steps.append(step)
        else:
            raise ValueError(f"@{fn.sym_name.data} has no func.return")
        self.slots = len(slot)
        # each value is dropped after the step that uses it last (outputs and inputs are kept)
        keep = set(self.outputs) | set(range(len(fn.body.block.args))) | set(self.constants)
        last: dict[int, _Step] = {}
        for step in self.steps:
            for s in step.operands:
                last[s] = step
        for s, step in last.items():
            if s not in keep:
                step.frees.append(s)

    @staticmethod
    def _transposed_products(ops: list) -> dict[TransposeOp, MatmulOp]:
        """transpose -> the matmul it transposes, where that transpose is the matmul's only use."""
        fused = {}
        for op in ops:
            if not (isinstance(op, TransposeOp) and op.is_matrix_transpose):
                continue
            producer = op.operands[0].owner
            if not isinstance(producer, MatmulOp) or producer.results[0].uses.get_length() != 1:
                continue
            if numpy_dtype(producer.results[0].type.element_type) in HALF_DTYPES:
                continue  # evaluate_op widens 16-bit floats; keep those on the reference's path
            fused[op] = producer
        return fused

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        env: list = [None] * self.slots
        env[: len(inputs)] = check_inputs(self.fn, inputs)
        for s, value in self.constants.items():
            env[s] = value
        step = None
        try:
            with np.errstate(all="ignore"):
                for step in self.steps:
                    env[step.result] = step.evaluate(*[env[s] for s in step.operands])
                    for s in step.frees:
                        env[s] = None
        except MemoryError as e:
            raise self._out_of_memory(step.op) from e
        return [env[s] for s in self.outputs]

    def _out_of_memory(self, op: HLOp) -> ExecutionError:
        return ExecutionError(f"@{self.fn.sym_name.data}: out of memory evaluating {op.name} ({op.results[0].type})")
