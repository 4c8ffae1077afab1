"""How often the generated code writes out each operand of a scalar op: the cost model behind two limits.

A TIR expression is a tree, so a value used twice is written out twice, and some ops write an operand
out more than once themselves: the NaN-aware maximum (`isnan(a) or isnan(b) ? a + b : max(a, b)`),
float floor division's corrections, TVM's own expansions of the special functions (its `LowerIntrin`
turns `tanh(x)` into a select of two quotients of exponentials of `x`). A chain of such ops grows
exponentially, and TVM's simplifier takes time exponential in it (docs/compile-time.md). Two places
bound it with this table:

* `linalg-fuse-elementwise` (`irc.conversions.fuse_elementwise`) does not fuse a producer into a
  reduction whose body would then pass `REDUCTION_BODY_LIMIT` nodes;
* the TIR translator (`irc.targets.tir`) stores a value of an elementwise nest in a scratch buffer once
  its tree passes a bound, and binds one in a reduction's body.

The counts were read off the lowered TIR of each op alone (`irc compile`, then TVM's `LowerIntrin`).
"""

from __future__ import annotations

#: ops whose code writes an operand out more than once: how many times (at most); others once
OPERAND_COPIES: dict[str, int] = {
    "arith.maximumf": 3, "arith.minimumf": 3, "arith.maxnumf": 3, "arith.minnumf": 3, "arith.cmpf": 3,
    "math.ipowi": 16, "arith.truncf": 2, "arith.extsi": 2,
    "math.tanh": 5, "math.tan": 2, "math.expm1": 10, "math.asinh": 8, "math.acosh": 7, "math.atanh": 3,
    "arith.floordivsi": 3, "arith.ceildivsi": 3, "arith.shli": 3, "arith.shrsi": 3, "arith.shrui": 3,
    # a select writes its operands once, but one in another's condition costs TVM's simplifier as if
    # twice (it enters each condition as a constraint): 16 nested bool selects took 11 s, now 2 s
    "arith.select": 2,
}  # fmt: skip


def copies(op_name: str) -> int:
    """How many times `op_name`'s code writes out each of its operands."""
    return OPERAND_COPIES.get(op_name, 1)


def tree_size(op_name: str, operand_sizes: list[int]) -> int:
    """The size of the tree of an `op_name` whose operands' trees have `operand_sizes` nodes."""
    return 1 + copies(op_name) * sum(operand_sizes)
