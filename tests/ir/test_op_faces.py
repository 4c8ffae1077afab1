"""Every hl op has every face (irc/ir/rules.py): a primitive its shape rule, numpy reference, VJP, JVP and
lowering; a composite (relu, softmax, ...) its shape rule, numpy reference and decomposition, and nothing else:
it is decomposed before lowering and before autodiff, so its derivatives are those of the primitives."""

from __future__ import annotations

import pytest
from xdsl.dialects.builtin import TensorType
from xdsl.irdl import operand_def, result_def

from irc.conversions import hl_to_linalg  # noqa: F401  (the modules that register the rules)
from irc.ir import hl, rules
from irc.ir.hl import HLOp, hl_op
from irc.transforms import decompose, jvp_rules, vjp_rules  # noqa: F401


def _overrides(op: type[HLOp], method: str) -> bool:
    """`op` (or a base below HLOp) defines `method` itself."""
    return any(method in vars(klass) for klass in op.__mro__[: op.__mro__.index(HLOp)])


def faces(op: type[HLOp]) -> dict[str, bool]:
    """Which faces `op` has; an op without a derivative (DIFFERENTIABLE = False) or a composite (with a
    decomposition rule) must have no VJP or JVP, and a composite no lowering."""
    composite = op in rules.decomposition
    derivatives = op.DIFFERENTIABLE and not composite
    return {
        "infer": _overrides(op, "infer"),
        "evaluate": _overrides(op, "evaluate"),
        "VJP": (op in rules.vjp) == derivatives,
        "JVP": (op in rules.jvp) == derivatives,
        "lowering or decomposition": (op in rules.lowering) != composite,
    }


@pytest.mark.parametrize("op", hl.HL_OPS, ids=lambda op: op.name)
def test_every_op_has_every_face(op):
    missing = [face for face, ok in faces(op).items() if not ok]
    assert not missing, f"{op.name} lacks: {', '.join(missing)}"


def test_an_op_without_rules_lacks_every_face():
    @hl_op
    class FakeOp(HLOp):
        name = "hl.fake"
        x = operand_def(TensorType)
        result = result_def(TensorType)

    assert [face for face, ok in faces(FakeOp).items() if not ok] == [
        "infer",
        "evaluate",
        "VJP",
        "JVP",
        "lowering or decomposition",
    ]


def test_the_composites():
    composites = {op.name for op in rules.decomposition.rules}
    assert composites == {"hl.relu", "hl.sigmoid", "hl.rsqrt", "hl.mean", "hl.softmax", "hl.log_softmax", "hl.argsort"}


def test_rules_are_registered_for_hl_ops_only():
    for table in (rules.vjp, rules.jvp, rules.lowering, rules.decomposition):
        assert set(table.rules) <= set(hl.HL_OPS), table.face


def test_a_missing_rule_names_the_op_and_the_face(monkeypatch):
    monkeypatch.delitem(rules.jvp.rules, hl.ExpOp)
    with pytest.raises(rules.MissingRuleError) as info:
        rules.jvp[hl.ExpOp]
    assert str(info.value) == ("hl.exp has no JVP rule (register one with @jvp(hl.ExpOp) in irc.transforms.jvp_rules)")


def test_a_second_rule_for_an_op_is_refused():
    with pytest.raises(ValueError, match="hl.exp already has a VJP rule"):
        rules.vjp(hl.ExpOp)(lambda b, op, g: [g])
