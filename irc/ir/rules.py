"""The rules of each `hl` op, registered by op class.

An op class in `irc/ir/hl.py` carries its shape rule (`infer`, checked by
`verify_`) and its numpy reference (`evaluate`).  Its other rules live with the
layer that uses them and register here, keyed by the op class::

    @vjp(hl.ExpOp)                 irc/transforms/vjp_rules.py       reverse-mode derivative
    @jvp(hl.ExpOp)                 irc/transforms/jvp_rules.py       forward-mode derivative
    @decomposition(hl.SoftmaxOp)   irc/transforms/decompose.py       hl ops it becomes before lowering
    @lowering(hl.ExpOp)            irc/conversions/hl_to_linalg.py   linalg on tensors

A lookup happens when a rule is needed, so a rule registered later is found;
`table[op]` of a missing rule raises `MissingRuleError` naming the op and the
face.  This module sits in the bottom layer and imports no rules: each pass
that looks rules up imports the module that registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from xdsl.ir import Operation

R = TypeVar("R", bound=Callable)


class MissingRuleError(LookupError):
    """An hl op has no rule of the face a pass needs."""


class RuleTable(Generic[R]):
    """One face of every op: op class -> rule.  `@table(hl.AOp, hl.BOp)` registers a rule for both."""

    def __init__(self, face: str, decorator: str, module: str):
        self.face = face
        self.decorator = decorator
        self.module = module
        #: op class -> rule (public so that a test can patch one rule)
        self.rules: dict[type[Operation], R] = {}

    def __call__(self, *ops: type[Operation]) -> Callable[[R], R]:
        def register(rule: R) -> R:
            for op in ops:
                if op in self.rules:
                    raise ValueError(f"{op.name} already has a {self.face} rule ({self.rules[op].__qualname__})")
                self.rules[op] = rule
            return rule

        return register

    def get(self, op: Operation | type[Operation]) -> R | None:
        """The rule of `op` (an op or its class), or None."""
        return self.rules.get(op if isinstance(op, type) else type(op))

    def __contains__(self, op: Operation | type[Operation]) -> bool:
        return self.get(op) is not None

    def __getitem__(self, op: Operation | type[Operation]) -> R:
        rule = self.get(op)
        if rule is None:
            raise MissingRuleError(self.missing(op))
        return rule

    def missing(self, op: Operation | type[Operation]) -> str:
        """The message for an op without a rule of this face."""
        cls = op if isinstance(op, type) else type(op)
        return (
            f"{cls.name} has no {self.face} rule (register one with @{self.decorator}(hl.{cls.__name__}) "
            f"in {self.module})"
        )


vjp: RuleTable[Callable] = RuleTable("VJP", "vjp", "irc.transforms.vjp_rules")
jvp: RuleTable[Callable] = RuleTable("JVP", "jvp", "irc.transforms.jvp_rules")
decomposition: RuleTable[Callable] = RuleTable("decomposition", "decomposition", "irc.transforms.decompose")
lowering: RuleTable[Callable] = RuleTable("lowering", "lowering", "irc.conversions.hl_to_linalg")

__all__ = ["MissingRuleError", "RuleTable", "decomposition", "jvp", "lowering", "vjp"]
