"""Ill-formed hl programs give an error that names the op and says what is wrong (MLIR's invalid.mlir).

The cases of `invalid*.mlir` are split at `// -----`; `// expected-error @+1 {{TEXT}}` gives the line and
the whole text of the error.  Each case runs through `irc.ir` (parse, verify) and through `irc opt`, which
prints one `file:line:col: error: ...` line and exits 1.  The attribute checks are generated for every op
of `hl.HL_OPS` from its example (tests/ir/op_examples.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.utils.exceptions import ParseError, VerifyException

from irc.driver.cli import main
from irc.ir import hl, parse_module, print_module
from tests.ir.op_examples import T, example, example_module, the_hl_op

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("invalid*.mlir"))
EXPECTED = re.compile(r"^\s*//\s*expected-error\s*(?:@(?P<offset>[+-]\d+)\s*)?\{\{(?P<message>.*)\}\}")
#: "hl.add: ..." or "Operation hl.frobnicate is not registered"
NAMED_OP = re.compile(r"^(?:Operation )?(?P<op>hl\.\w+)(?::| is not registered)")


@dataclass(frozen=True)
class Case:
    """One case of an invalid*.mlir file; `text` has blank lines before it so that its lines are the file's."""

    file: str
    text: str
    line: int
    message: str

    @property
    def op(self) -> str:
        return NAMED_OP.match(self.message)["op"]


def split_cases(path: Path) -> list[Case]:
    lines = path.read_text().splitlines(keepends=True)
    separators = [i for i, line in enumerate(lines) if line.strip() == "// -----"]
    cases = []
    for start, end in zip([0, *(i + 1 for i in separators)], [*separators, len(lines)]):
        expected = [(i, m) for i in range(start, end) if (m := EXPECTED.search(lines[i]))]
        assert len(expected) == 1, f"{path.name}:{start + 1}: a case needs one expected-error, it has {len(expected)}"
        ((i, m),) = expected
        text = "\n" * start + "".join(lines[start:end])
        cases.append(Case(path.name, text, i + 1 + int(m["offset"] or 0), m["message"]))
    return cases


CASES = [case for path in FILES for case in split_cases(path)]
IDS = [f"{case.file}:{case.line}" for case in CASES]


def diagnose(text: str, filename: str = "<input>") -> tuple[int | None, str | None]:
    """(line, message) of the first error in `text`: a parse error has a line, a verify error none;
    (None, None) when it parses and verifies."""
    try:
        module = parse_module(text, filename)
    except ParseError as e:
        return e.span.get_location().line, e.msg
    try:
        module.verify()
    except VerifyException as e:
        return None, str(e)
    return None, None


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_invalid_ir(case):
    line, message = diagnose(case.text)
    assert message == case.message
    assert line in (None, case.line)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_invalid_ir_through_irc_opt(case, tmp_path, capsys):
    path = tmp_path / case.file
    path.write_text(case.text)
    code = main(["opt", str(path)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, ""), err
    assert "Traceback" not in err
    first, *context = err.splitlines()
    located = re.fullmatch(rf"{re.escape(str(path))}:(\d+):(\d+): error: (.*)", first)
    assert located, first
    assert int(located[1]) == case.line, first
    assert located[3] in (case.message, f"input {path}: op {case.op} does not verify: {case.message}")
    assert not any("error" in line for line in context), err


def category(op: type[hl.HLOp]) -> type[hl.HLOp]:
    """The base class an op shares with its kind (UnaryOp, BinaryOp, ReduceOp, ...), or the op itself."""
    base = op.__mro__[1]
    return op if base is hl.HLOp else base


def test_every_op_category_has_an_invalid_case():
    covered = {category(hl.OPS_BY_NAME[case.op]) for case in CASES if case.op in hl.OPS_BY_NAME}
    missing = sorted({category(op).__name__ for op in hl.HL_OPS} - {c.__name__ for c in covered})
    assert not missing, f"no case in tests/ir/invalid*.mlir for {', '.join(missing)}"


def test_every_case_names_an_op():
    for case in CASES:
        assert NAMED_OP.match(case.message), f"{case.file}:{case.line}: {case.message}"


# ---------------------------------------------------------------- generated from each op's example


def _wrong_kind(kind: hl.AttrKind):
    return IntegerAttr(1, i64) if kind is hl.STRING else StringAttr("x")


def attribute_cases() -> list[tuple[str, ModuleOp, str]]:
    """(id, module, message) of every op: an unknown attribute, each attribute of a wrong kind, each
    required attribute missing."""
    cases = []
    for op in hl.HL_OPS:
        known = ", ".join(op.ATTRIBUTES) or "none"
        module = example_module(op)
        edits = [("unknown", "bogus", IntegerAttr(1, i64), f"unknown attribute 'bogus' (known: {known})")]
        for name, spec in op.ATTRIBUTES.items():
            wrong = _wrong_kind(spec.kind)
            edits.append(("kind", name, wrong, f"attribute '{name}' must be {spec.kind.description}, got {wrong}"))
            if spec.required:
                edits.append(("missing", name, None, f"missing attribute '{name}'"))
        for what, name, value, message in edits:
            bad = module.clone()
            target = the_hl_op(bad)
            if value is None:
                del target.attributes[name]
            else:
                target.attributes[name] = value
            cases.append((f"{op.name}-{what}-{name}", bad, f"{op.name}: {message}"))
    return cases


ATTRIBUTE_CASES = attribute_cases()


@pytest.mark.parametrize("module, message", [c[1:] for c in ATTRIBUTE_CASES], ids=[c[0] for c in ATTRIBUTE_CASES])
def test_invalid_attribute(module, message):
    assert diagnose(print_module(module)) == (None, message)


@pytest.mark.parametrize("op", [op for op in hl.HL_OPS if example(op).result is None], ids=lambda op: op.name)
def test_a_result_type_off_the_shape_rule_is_refused(op):
    dtype = hl.dtype_name(the_hl_op(example_module(op)).results[0].type.element_type)
    line, message = diagnose(print_module(example_module(op, result=T((7,), dtype))))
    assert message is not None and message.startswith(f"{op.name}: "), message
