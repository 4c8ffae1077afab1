"""Every op of `hl.HL_OPS` round-trips: built with `HLOp.make` from its example (tests/ir/op_examples.py),
printed, parsed and printed again gives the same text, in the custom and in the generic form, keeping the
op's location and attributes; upstream mlir-opt reads the generic form and irc reads mlir-opt's print back."""

from __future__ import annotations

import pytest
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.irdl import operand_def, result_def

from irc.ir import hl, parse_module, print_module
from tests.helpers import mlir_opt_accepts
from tests.ir.op_examples import LOCATION, example, example_module, the_hl_op

OPS = pytest.mark.parametrize("op", hl.HL_OPS, ids=lambda op: op.name)


@OPS
def test_every_op_has_an_example(op):
    ex = example(op)
    assert set(ex.attrs) == set(op.ATTRIBUTES), f"{op.name}: the example should give every attribute"


@OPS
@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
def test_round_trip(op, generic):
    module = example_module(op)
    module.verify()
    built = the_hl_op(module)
    text = print_module(module, locations=True, generic=generic)
    assert f'{op.name}"(' in text if generic else f"= {op.name} " in text
    assert 'loc("model.py":12:5)' in text
    for name in built.attributes:
        assert f"{name} = " in text, f"{op.name}: attribute {name} is not printed"

    parsed = parse_module(text)
    parsed.verify()
    again = the_hl_op(parsed)
    assert type(again) is op
    assert again.attributes == built.attributes
    assert again.attr_values() == built.attr_values()
    assert again.location == LOCATION
    assert [o.type for o in again.operands] == [o.type for o in built.operands]
    assert again.results[0].type == built.results[0].type
    assert print_module(parsed, locations=True, generic=generic) == text
    assert print_module(parsed, locations=True, generic=not generic) == print_module(
        module, locations=True, generic=not generic
    )


def test_upstream_mlir_reads_the_generic_form():
    """mlir-opt parses every op's generic form (hl is an unregistered dialect to it) and irc parses its output."""
    functions = [fn.clone() for op in hl.HL_OPS for fn in example_module(op).ops]
    module = ModuleOp(functions)
    text = print_module(module, locations=True, generic=True)
    upstream = mlir_opt_accepts(
        text,
        "--allow-unregistered-dialect",
        "--mlir-print-op-generic",
        "--mlir-print-debuginfo",
        "--mlir-print-local-scope",
    )
    parsed = parse_module(upstream)
    parsed.verify()
    names = [fn.sym_name.data for fn in parsed.ops if isinstance(fn, func.FuncOp)]
    assert names == [op.name.removeprefix("hl.") for op in hl.HL_OPS]
    for fn_in, fn_out in zip(module.ops, parsed.ops):
        op_in, op_out = the_hl_op(fn_in), the_hl_op(fn_out)
        assert op_out.attributes == op_in.attributes and op_out.location == LOCATION, op_in.name


def test_an_op_without_an_example_is_named():
    @hl.hl_op
    class NewOp(hl.HLOp):
        name = "hl.new_op"
        x = operand_def(TensorType)
        result = result_def(TensorType)

    with pytest.raises(LookupError, match=r"hl.new_op has no example: add one to EXAMPLES"):
        example(NewOp)
