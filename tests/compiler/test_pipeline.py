"""The pipeline object: stage order, dumps and their headers, instruments, the ref target, Python inputs."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from irc.compiler import files, stages
from irc.compiler.instruments import IRPrinter, PassTiming
from irc.compiler.pipeline import Pipeline, run_passes
from irc.compiler.stages import STAGE_NAMES
from irc.driver.inputs import load_program, parse_mlir_file
from irc.errors import FrontendError, InputError, IRCError, PassError
from irc.ir import parse_module
from tests.compiler.pipeline_fixtures import (
    all_stage_passes,
    fake_compile,
    hl_oracle,
    real_pipeline_available,
    register,
)


@pytest.fixture
def identity_pipeline(monkeypatch):
    """Every stage pass is the identity and codegen is faked: only the driver's bookkeeping is tested."""
    register(monkeypatch, {name: "test-identity" for name in all_stage_passes()})
    fake_compile(monkeypatch)


def test_stage_names_are_the_contract():
    assert STAGE_NAMES == ("hl", "hl-opt", "linalg", "buffers", "loops", "tir", "target")
    assert [s.number for s in stages.STAGES] == list(range(1, 8))
    table = stages.stages_table()
    for s in stages.STAGES:
        assert s.name in table and all(p in table for p in s.passes)


def test_stages_in_order_and_dump_layout(identity_pipeline, hl_file, tmp_path):
    lowering = Pipeline(target="llvm", instruments=[IRPrinter()]).run(parse_mlir_file(hl_file), source="prog.mlir")
    assert list(lowering.stages) == list(STAGE_NAMES)
    assert list(lowering.modules) == list(STAGE_NAMES[:5])
    assert "loc(" in lowering.stages["hl"] and "loc(" not in lowering.stages["linalg"]

    out = lowering.dump(tmp_path / "dump")
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    expected = ["01-hl.mlir", "02-hl-opt.mlir", "03-linalg.mlir", "04-buffers.mlir", "05-loops.mlir"]
    assert names == [*expected, "06-tir.py", "07-target.ll"]
    header = (out / "03-linalg.mlir").read_text().splitlines()[:3]
    assert header[0].startswith("// irc stage 3/7: linalg")
    assert header[1] == "// passes: convert-hl-to-linalg, linalg-fuse-elementwise"
    assert header[2] == "// reproduce: irc compile prog.mlir --target llvm --emit linalg"
    assert (out / "06-tir.py").read_text().startswith("# irc stage 6/7: tir")
    assert (out / "07-target.ll").read_text().startswith("; irc stage 7/7: target")
    for name in expected:  # the dumps (with their headers) parse back
        parse_module((out / name).read_text())
    per_pass = sorted(p.relative_to(out).as_posix() for p in out.rglob("*/*.mlir"))
    assert per_pass == [
        "02-hl-opt/01-hl-decompose.mlir",
        "02-hl-opt/02-hl-canonicalize.mlir",
        "02-hl-opt/03-hl-cse.mlir",
        "02-hl-opt/04-hl-dce.mlir",
        "03-linalg/01-convert-hl-to-linalg.mlir",
        "03-linalg/02-linalg-fuse-elementwise.mlir",
        "04-buffers/01-irc-bufferize.mlir",
        "04-buffers/02-buffer-reuse.mlir",
        "05-loops/01-convert-linalg-to-loops.mlir",
    ]


@pytest.mark.parametrize("stop", STAGE_NAMES)
def test_stop_after(identity_pipeline, hl_file, stop):
    lowering = Pipeline(stop_after=stop).run(parse_mlir_file(hl_file))
    assert list(lowering.stages) == list(STAGE_NAMES[: STAGE_NAMES.index(stop) + 1])
    assert (lowering.compiled is not None) == (stop in ("tir", "target"))


def test_unknown_stage_and_target():
    with pytest.raises(InputError, match="the stages are hl, hl-opt"):
        Pipeline(stop_after="llvm-ir")
    with pytest.raises(InputError, match="unknown target 'tpu'"):
        Pipeline(target="tpu")
    with pytest.raises(InputError, match="target ref"):
        Pipeline(target="ref", stop_after="loops")


def test_pipeline_does_not_modify_its_input(monkeypatch, hl_file):
    register(monkeypatch, {"hl-decompose": "test-touch", "hl-canonicalize": "test-identity"})
    register(monkeypatch, {"hl-cse": "test-identity", "hl-dce": "test-identity"})
    module = parse_mlir_file(hl_file)
    before = str(module)
    lowering = Pipeline(stop_after="hl-opt").run(module)
    assert str(module) == before and "irc.touched" in lowering.stages["hl-opt"]


def test_verifier_failure_names_pass_op_and_location(monkeypatch, hl_file, identity_hl_opt):
    register(monkeypatch, {"hl-canonicalize": "test-break-verifier"})
    with pytest.raises(PassError) as info:
        Pipeline(stop_after="hl-opt").run(parse_mlir_file(hl_file))
    message = str(info.value)
    assert "after pass 'hl-canonicalize' (stage hl-opt)" in message
    assert "op hl.relu does not verify" in message and "7xf32" in message
    assert message.startswith(f"{hl_file}:3:3: ")  # where the relu is in the .mlir file


def test_crashing_pass_is_a_pass_error(monkeypatch, hl_file, identity_hl_opt):
    register(monkeypatch, {"hl-decompose": "test-crash"})
    with pytest.raises(PassError, match=r"pass 'hl-decompose' \(stage hl-opt\) failed: ZeroDivisionError: boom"):
        Pipeline(stop_after="hl-opt").run(parse_mlir_file(hl_file))


def test_print_after_change_records_only_changing_passes(monkeypatch, hl_file):
    register(monkeypatch, {"hl-decompose": "test-identity", "hl-canonicalize": "test-identity"})
    register(monkeypatch, {"hl-cse": "test-touch", "hl-dce": "test-identity"})
    changed, every = IRPrinter(only_changed=True), IRPrinter()
    Pipeline(stop_after="hl-opt", instruments=[changed, every]).run(parse_mlir_file(hl_file))
    assert [(d.run.stage, d.run.index, d.run.name) for d in changed.dumps] == [("hl-opt", 3, "hl-cse")]
    assert [d.run.name for d in every.dumps] == ["hl-decompose", "hl-canonicalize", "hl-cse", "hl-dce"]
    assert "irc.touched" in changed.dumps[0].text and "irc.touched" not in every.dumps[1].text


def test_pass_options_and_timing(monkeypatch, hl_file):
    register(monkeypatch)
    from irc.compiler.registry import parse_pipeline

    module = parse_mlir_file(hl_file)
    timing = PassTiming()
    passes = [(str(p.spec()), p) for p in parse_pipeline("test-touch{attr=mine},test-identity").passes]
    run_passes(module, passes, "opt", [timing])
    assert "mine" in module.body.block.first_op.attributes
    table = timing.table().splitlines()
    assert table[0].split() == ["pass", "stage", "seconds", "percent"]
    assert table[1].split()[:2] == ['test-touch{attr="mine"}', "opt"]
    assert table[2].split()[:2] == ["test-identity", "opt"]
    assert table[-1].split()[0] == "total" and table[-1].endswith("100.0%")


def test_timing_table_steps_and_wall():
    timing = PassTiming()
    timing.add("startup", 0.5)
    with timing.step("load-input"):
        pass
    with pytest.raises(ValueError), timing.step("failing"):
        raise ValueError
    rows = [line.split() for line in timing.table(wall=2.0).splitlines()]
    assert [row[:2] for row in rows[1:3]] == [["startup", "-"], ["load-input", "-"]]
    assert rows[3][:2] == ["other", "-"] and 1.49 < float(rows[3][2]) <= 1.5  # the time no row covers
    assert rows[4][0] == "total" and float(rows[4][1]) == 2.0 and len(rows) == 5
    assert "other" not in timing.table(wall=0.1) and "other" not in timing.table()


@pytest.mark.skipif(not real_pipeline_available(), reason="needs every pass and irc.targets.compile_loops")
def test_timing_covers_code_generation_steps(hl_file):
    timing = PassTiming()
    Pipeline(target="llvm", instruments=[timing]).run(parse_mlir_file(hl_file))
    steps = [(run.stage, run.index, run.name) for run, _ in timing.records if run.pass_ is None]
    assert steps == [
        ("tir", 1, "import-tvm"),
        ("tir", 2, "tir-translate"),
        ("tir", 3, "tir-schedule"),
        ("target", 1, "tvm-build"),
        ("target", 2, "llvm-codegen"),
    ]


def test_dump_is_all_or_nothing(identity_pipeline, hl_file, tmp_path, monkeypatch):
    lowering = Pipeline().run(parse_mlir_file(hl_file))
    dest = tmp_path / "dump"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    calls = []
    real_create = files.create_temp

    def failing_create(path):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_create(path)

    monkeypatch.setattr(files, "create_temp", failing_create)
    with pytest.raises(IRCError, match=f"{dest}: cannot write: No space left on device"):
        lowering.dump(dest)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["dump", "prog.mlir"]
    assert os.listdir(dest) == ["old.txt"]  # no dump file, no temp file: the directory is as it was
    lowering.dump(dest)
    assert "old.txt" in os.listdir(dest) and "01-hl.mlir" in os.listdir(dest)  # the user's file stays


def test_grad_adds_gradient_functions(hl_file, rng, identity_hl_opt):
    x, y = rng.standard_normal((4, 3), dtype=np.float32), rng.standard_normal(3, dtype=np.float32)
    lowering = Pipeline(target="ref", grad=True).run(parse_mlir_file(hl_file), source="prog.mlir")
    assert "// passes: hl-autodiff, hl-decompose" in lowering.header("hl-opt")
    assert "--grad --emit hl-opt" in lowering.header("hl-opt")
    dx, dy = lowering.execute("hl-opt", x, y, entry="f_grad")  # gradient of sum(relu(x + y))
    positive = (x + y > 0).astype(np.float32)
    np.testing.assert_allclose(dx, positive)
    np.testing.assert_allclose(dy, positive.sum(axis=0), rtol=1e-6)


def test_ref_target_runs_the_numpy_reference(hl_file, rng, identity_hl_opt):
    x, y = rng.standard_normal((4, 3), dtype=np.float32), rng.standard_normal(3, dtype=np.float32)
    lowering = Pipeline(target="ref").run(parse_mlir_file(hl_file))
    assert list(lowering.stages) == ["hl", "hl-opt"] and lowering.compiled is None
    (out,) = lowering(x, y)
    np.testing.assert_allclose(out, hl_oracle(x, y), rtol=1e-6)


@pytest.mark.skipif(not real_pipeline_available(), reason="needs every pass and irc.targets.compile_loops")
def test_every_stage_computes_the_same(hl_file, rng):
    x, y = rng.standard_normal((4, 3), dtype=np.float32), rng.standard_normal(3, dtype=np.float32)
    lowering = Pipeline(target="llvm").run(parse_mlir_file(hl_file))
    assert list(lowering.stages) == list(STAGE_NAMES)
    for name in STAGE_NAMES:
        (out,) = lowering.execute(name, x, y)
        np.testing.assert_allclose(out, hl_oracle(x, y), rtol=1e-5, err_msg=name)


@pytest.mark.skipif(not real_pipeline_available(), reason="needs every pass and irc.targets.compile_loops")
def test_grad_program_runs_the_users_function_at_every_stage(hl_file, rng):
    """With --grad the entry is the user's @f at every stage; @f_grad is the extra, asked for by name."""
    x, y = rng.standard_normal((4, 3), dtype=np.float32), rng.standard_normal(3, dtype=np.float32)
    lowering = Pipeline(target="llvm", grad=True).run(parse_mlir_file(hl_file))
    positive = (x + y > 0).astype(np.float32)
    for name in STAGE_NAMES:
        (out,) = lowering.execute(name, x, y)
        np.testing.assert_allclose(out, hl_oracle(x, y), rtol=1e-5, err_msg=name)
        if name == "hl":  # autodiff runs in hl-opt
            continue
        dx, dy = lowering.execute(name, x, y, entry="f_grad")
        np.testing.assert_allclose(dx, positive, err_msg=name)
        np.testing.assert_allclose(dy, positive.sum(axis=0), rtol=1e-6, err_msg=name)
    (out,) = lowering(x, y)
    np.testing.assert_allclose(out, hl_oracle(x, y), rtol=1e-5)


PY_PROGRAM = """\
import irc


def helper(x):
    return x * 2


def first(a: irc.Spec((2, 2))):
    return a


def model(x: irc.Spec((4, 3)), y: irc.Spec((3,))):
    return helper(x + y).relu()
"""


def test_python_input_picks_the_last_spec_function(tmp_path, rng):
    path = tmp_path / "prog.py"
    path.write_text(PY_PROGRAM)
    program = load_program(str(path))
    assert [(s.name, s.shape, s.dtype.name) for s in program.inputs] == [
        ("x", (4, 3), "float32"),
        ("y", (3,), "float32"),
    ]
    x, y = rng.standard_normal((4, 3), dtype=np.float32), rng.standard_normal(3, dtype=np.float32)
    (out,) = Pipeline(target="ref", stop_after="hl").run(program.module)(x, y)
    np.testing.assert_allclose(out, np.maximum(2 * (x + y), 0), rtol=1e-6)
    named = load_program(f"{path}:first")
    assert [s.name for s in named.inputs] == ["a"]


def test_python_input_errors(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(PY_PROGRAM)
    with pytest.raises(InputError, match="declare example inputs"):
        load_program(f"{path}:helper")
    with pytest.raises(InputError, match="no function or module named 'nope'"):
        load_program(f"{path}:nope")
    empty = tmp_path / "empty.py"
    empty.write_text("def f(x):\n    return x\n")
    with pytest.raises(InputError, match="no function with irc.Spec"):
        load_program(str(empty))
    broken = tmp_path / "broken.py"
    broken.write_text("import irc\n\n\ndef f(x: irc.Spec((2,))):\n    return x.nosuchmethod()\n")
    with pytest.raises(FrontendError, match=rf"^{broken}:5: AttributeError"):
        load_program(str(broken))
    syntax = tmp_path / "syntax.py"
    syntax.write_text("def f(:\n")
    with pytest.raises(FrontendError, match=rf"^{syntax}:1: SyntaxError"):
        load_program(str(syntax))
    with pytest.raises(InputError, match="no such file"):
        load_program(str(tmp_path / "missing.py"))


NN_PROGRAM = """\
import irc
import irc.nn as nn


class Net(nn.Module):
    example_inputs = [irc.Spec((8, 16))]

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc(x).relu()
"""


def test_python_input_module_with_example_inputs(tmp_path, rng):
    import irc

    path = tmp_path / "net.py"
    path.write_text(NN_PROGRAM)
    irc.manual_seed(5)
    program = load_program(str(path))
    assert [(s.name, s.shape) for s in program.inputs] == [("x", (8, 16))]
    irc.manual_seed(5)  # the same parameters, built here for the numpy oracle
    namespace: dict = {}
    exec(NN_PROGRAM, namespace)
    net = namespace["Net"]()
    w, b = net.fc.weight.numpy(), net.fc.bias.numpy()
    x = rng.standard_normal((8, 16), dtype=np.float32)
    (out,) = Pipeline(target="ref", stop_after="hl").run(program.module)(x)
    np.testing.assert_allclose(out, np.maximum(x @ w.T + b, 0), rtol=1e-5, atol=1e-6)
