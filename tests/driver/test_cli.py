"""The `irc` command: every command, and every kind of bad input (one clear message, the right exit code)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from irc.compiler import pipeline
from irc.driver.arrays import random_inputs
from irc.driver.cli import main
from irc.driver.inputs import input_specs
from irc.ir import parse_module
from tests.compiler.pipeline_fixtures import HL_TEXT, fake_compile, hl_oracle, real_pipeline_available, register
from tests.helpers import MLIR_OPT

ROOT = Path(__file__).resolve().parents[2]


def irc(*args: str) -> subprocess.CompletedProcess:
    """`python -m irc ARGS` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "irc", *args], capture_output=True, text=True, env=env)


def test_stages_and_help():
    proc = irc("stages")
    assert proc.returncode == 0
    for s in pipeline.STAGES:
        assert s.name in proc.stdout and s.dialects in proc.stdout
    compile_help = irc("compile", "--help").stdout
    for flag in ("--target", "--emit", "--dump-dir", "--print-ir-after-all", "--stop-after", "--time-passes"):
        assert flag in compile_help
    assert "buffers" in compile_help and "scf.for over reductions" in compile_help


def test_compile_emit_hl_prints_parsable_ir_with_locations(hl_file):
    proc = irc("compile", str(hl_file), "--emit", "hl")
    assert proc.returncode == 0, proc.stderr
    assert f'loc("{hl_file}":2:3)' in proc.stdout
    parse_module(proc.stdout)


def test_malformed_mlir_reports_file_line_col(tmp_path):
    bad = tmp_path / "bad.mlir"
    bad.write_text(HL_TEXT.replace("hl.relu %0", "hl.relu %0,"))
    proc = irc("compile", str(bad))
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"{bad}:3:") and ": error: " in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Traceback" in irc("compile", str(bad), "--traceback").stderr


def test_unknown_pass_lists_known_passes(hl_file, capsys):
    assert main(["opt", str(hl_file), "-p", "hl-canonicalise"]) == 2
    err = capsys.readouterr().err
    assert "hl-canonicalise" in err and "known passes:" in err and "convert-linalg-to-loops" in err


def test_unknown_pass_option_lists_known_passes(hl_file, capsys, monkeypatch):
    register(monkeypatch)
    assert main(["opt", str(hl_file), "-p", "test-touch{colour=red}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irc: error: -p 'test-touch{colour=red}': ") and "known passes:" in err


def test_opt_runs_passes_with_options(hl_file, tmp_path, monkeypatch, capsys):
    register(monkeypatch)
    out = tmp_path / "out.mlir"
    assert main(["opt", str(hl_file), "-p", "test-identity,test-touch{attr=seen}", "-o", str(out)]) == 0
    assert "seen" in out.read_text()
    parse_module(out.read_text())
    assert main(["opt", str(hl_file), "-p", "test-touch", "--print-ir-after-all", "--time-passes"]) == 0
    err = capsys.readouterr().err
    assert "IR Dump After test-touch" in err and "total" in err


@pytest.mark.parametrize(
    "args",
    [
        ["compile", "missing.mlir"],
        ["compile", "prog.txt"],
        ["compile", "prog.mlir", "--emit", "llvm-ir"],
        ["compile", "prog.mlir", "--stop-after", "hl", "--emit", "loops"],
        ["opt", "missing.mlir", "-p", "hl-dce"],
        ["run", "missing.py"],
    ],
)
def test_bad_input_exits_2(args, hl_file, capsys, monkeypatch):
    monkeypatch.chdir(hl_file.parent)
    Path("prog.txt").write_text("")
    with pytest.raises(SystemExit) as info:  # argparse rejects unknown stages itself
        sys.exit(main(args))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_run_ref_writes_outputs_and_summary(hl_file, tmp_path, capsys, rng):
    x = rng.standard_normal((4, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "results"
    code = main(["run", str(hl_file), "--target", "ref", "--stop-after", "hl", "--input", f"x={tmp_path / 'x.npy'}"])
    assert code == 0
    code = main(["run", str(hl_file), "--target", "ref", "--stop-after", "hl", "--seed", "3", "-o", str(out)] + [
        "--input", f"x={tmp_path / 'x.npy'}"
    ])  # fmt: skip
    assert code == 0
    assert sorted(os.listdir(out)) == ["out0.npy"]
    # the random y comes from the seed: rebuild it to check the output against numpy
    y = random_inputs(input_specs(parse_module(HL_TEXT)), seed=3)["y"]
    expected = hl_oracle(x, y)
    np.testing.assert_allclose(np.load(out / "out0.npy"), expected, rtol=1e-6)
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith("out0  shape (4, 3)  float32  min ")
    assert f"max {expected.max():.6g}" in summary


TWO_FUNCS = """\
func.func @f(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = hl.mul %x, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %0 : tensor<3xf32>
}
func.func @g(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = hl.add %x, %x : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
"""


@pytest.mark.skipif(not real_pipeline_available(), reason="needs every pass and irc.targets.compile_loops")
@pytest.mark.parametrize("stop_after", [*(s.name for s in pipeline.STAGES), None])
def test_run_two_functions_runs_the_first_at_every_stage(stop_after, tmp_path, rng):
    """The entry rule (irc.runtime.entry): the first func, for the inputs and at every stage alike."""
    (tmp_path / "two.mlir").write_text(TWO_FUNCS)
    x = rng.standard_normal(3, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    stop = ["--stop-after", stop_after] if stop_after else []
    args = ["run", str(tmp_path / "two.mlir"), "--input", f"x={tmp_path / 'x.npy'}", "-o", str(tmp_path / "out")]
    assert main([*args, *stop]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "out" / "out0.npy"), x * x, rtol=1e-6)


@pytest.mark.parametrize(
    "value, message",
    [
        ("z=FILE", "no such input; the inputs are x, y"),
        ("x", "expected NAME=FILE.npy"),
        ("x=missing.npy", "no such file"),
        ("x=garbage.npy", "cannot read"),
        ("x=wrong_shape.npy", "holds (3, 4) float32, but x is declared (4, 3) float32"),
        ("x=wrong_dtype.npy", "holds (4, 3) float64, but x is declared (4, 3) float32"),
    ],
)
def test_bad_input_arrays_exit_2(value, message, hl_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("wrong_shape.npy", np.zeros((3, 4), np.float32))
    np.save("wrong_dtype.npy", np.zeros((4, 3), np.float64))
    Path("garbage.npy").write_text("not an array")
    out = tmp_path / "results"
    assert main(["run", str(hl_file), "--target", "ref", "--stop-after", "hl", "--input", value, "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_compile_dump_dir_and_print_after_change(hl_file, tmp_path, monkeypatch, capsys, identity_hl_opt):
    register(monkeypatch, {"hl-cse": "test-touch"})
    dump = tmp_path / "dump"
    args = ["compile", str(hl_file), "--stop-after", "hl-opt", "--dump-dir", str(dump), "--print-ir-after-change"]
    assert main([*args, "--time-passes"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # with --dump-dir and no --emit, nothing goes to stdout
    files = sorted(p.relative_to(dump).as_posix() for p in dump.rglob("*.mlir"))
    assert files == ["01-hl.mlir", "02-hl-opt.mlir", "02-hl-opt/03-hl-cse.mlir"]
    assert f"reproduce: irc compile {hl_file} --target llvm --emit hl-opt" in (dump / "02-hl-opt.mlir").read_text()
    assert "hl-dce" in captured.err and "percent" in captured.err


def test_broken_pass_reports_pass_and_op_and_writes_nothing(hl_file, tmp_path, monkeypatch, capsys, identity_hl_opt):
    register(monkeypatch, {"hl-dce": "test-break-verifier"})
    dump = tmp_path / "dump"
    assert main(["compile", str(hl_file), "--dump-dir", str(dump), "-o", str(tmp_path / "out.ll")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{hl_file}:3:3: error: after pass 'hl-dce' (stage hl-opt): op hl.relu does not verify")
    assert "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["prog.mlir"]


def test_compile_writes_the_last_stage_to_output(hl_file, tmp_path, monkeypatch, identity_hl_opt):
    register(monkeypatch, {name: "test-identity" for s in pipeline.STAGES[2:5] for name in s.passes})
    fake_compile(monkeypatch)
    out = tmp_path / "prog.ll"
    assert main(["compile", str(hl_file), "-o", str(out)]) == 0
    assert out.read_text() == "; fake LLVM IR\n"
    assert main(["compile", str(hl_file), "--emit", "tir", "-o", str(out)]) == 0
    assert out.read_text() == "# fake TIR\n"


PY_PROGRAM = """\
import irc


def model(x: irc.Spec((4, 3)), y: irc.Spec((3,))):
    return (x + y).relu()
"""


def test_python_input_runs(tmp_path, capsys, rng):
    path = tmp_path / "prog.py"
    path.write_text(PY_PROGRAM)
    x = rng.standard_normal((4, 3), dtype=np.float32)
    y = rng.standard_normal(3, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "out"
    args = ["run", f"{path}:model", "--target", "ref", "--stop-after", "hl", "-o", str(out)]
    assert main([*args, "--input", f"x={tmp_path / 'x.npy'}", "--input", f"y={tmp_path / 'y.npy'}"]) == 0
    np.testing.assert_allclose(np.load(out / "out0.npy"), hl_oracle(x, y), rtol=1e-6)


def test_python_frontend_error_has_user_line(tmp_path, capsys):
    path = tmp_path / "prog.py"
    path.write_text("import irc\n\n\ndef f(x: irc.Spec((4, 3)), y: irc.Spec((5,))):\n    return x + y\n")
    assert main(["compile", str(path), "--emit", "hl"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:5") and "error:" in err and "Traceback" not in err


@pytest.mark.skipif(not real_pipeline_available(), reason="needs every pass and irc.targets.compile_loops")
def test_real_pipeline_dumps_and_runs(hl_file, tmp_path, rng):
    dump = tmp_path / "dump"
    assert main(["compile", str(hl_file), "--dump-dir", str(dump), "--print-ir-after-all"]) == 0
    names = sorted(p.name for p in dump.iterdir() if p.is_file())
    assert names[:5] == ["01-hl.mlir", "02-hl-opt.mlir", "03-linalg.mlir", "04-buffers.mlir", "05-loops.mlir"]
    assert names[5:] == ["06-tir.py", "07-target.ll"]
    if MLIR_OPT is not None:  # stages 3-5 are upstream MLIR, headers included
        for name in names[2:5]:
            check = subprocess.run([MLIR_OPT, str(dump / name)], capture_output=True, text=True)
            assert check.returncode == 0, f"{name}: {check.stderr}"
    x, y = rng.standard_normal((4, 3), dtype=np.float32), rng.standard_normal(3, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "out"
    proc = irc(
        "run", str(hl_file), "--input", f"x={tmp_path / 'x.npy'}", "--input", f"y={tmp_path / 'y.npy'}", "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(np.load(out / "out0.npy"), hl_oracle(x, y), rtol=1e-5)


@pytest.mark.skipif(not real_pipeline_available(), reason="needs every pass and irc.targets.compile_loops")
def test_time_passes_total_is_the_wall_time(tmp_path):
    start = time.perf_counter()
    proc = irc("compile", str(ROOT / "examples" / "mlp.py"), "--time-passes", "-o", str(tmp_path / "mlp.ll"))
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stderr.splitlines()[1:]}
    for name, stage_name in [
        ("startup", "-"), ("load-input", "-"), ("hl-decompose", "hl-opt"), ("convert-linalg-to-loops", "loops"),
        ("import-tvm", "tir"), ("tir-translate", "tir"), ("tir-schedule", "tir"),
        ("tvm-build", "target"), ("llvm-codegen", "target"), ("write-output", "-"),
    ]:  # fmt: skip
        assert rows[name][1] == stage_name, rows
    total = float(rows["total"][1])
    # the table ends before the interpreter exits (with TVM loaded, 0.1-0.3 s): the rest is covered
    assert 0.7 * wall <= total <= wall, (total, wall)
    assert float(rows.get("other", [0, 0, 0])[2]) < 0.2 * total  # the named rows hold nearly all of it


def test_progress_names_each_stage_reached(hl_file, capsys):
    assert main(["run", str(hl_file), "--target", "ref", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "irc: [2/7] hl-opt" in err and "[3/7]" not in err  # the ref target stops after hl-opt
    assert main(["run", str(hl_file), "--target", "ref", "--no-progress"]) == 0
    assert "irc: [" not in capsys.readouterr().err


@pytest.mark.parametrize("argument", ["i32", "memref<4xf32>"])
def test_an_entry_argument_that_is_not_a_tensor_is_named(argument, tmp_path, capsys):
    source = tmp_path / "scalar.mlir"
    source.write_text(f"func.func @f(%x: {argument}) -> {argument} {{\n  func.return %x : {argument}\n}}\n")
    for args in (["compile", str(source), "--emit", "hl"], ["run", str(source), "--target", "ref"]):
        assert main(args) == 1
        assert capsys.readouterr().err == (
            f"{source}:1:1: error: %x of @f is {argument}: the arguments of the entry function must be tensors "
            "(e.g. tensor<4x3xf32>)\n"
        )


def test_inputs_too_large_to_allocate_are_named(tmp_path, capsys):
    huge = "tensor<2147483648x2147483648xf32>"
    source = tmp_path / "huge.mlir"
    source.write_text(HL_TEXT.replace("tensor<4x3xf32>", huge).replace("tensor<3xf32>", huge))
    assert main(["run", str(source), "--target", "ref"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("irc: error: input x: a random (2147483648, 2147483648) float32 array takes ")
    assert f"({2**31 * 2**31 * 4} bytes)" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "passes, column, reason",
    [
        ("hl-dce{", 8, "Expected argument name here"),
        (" hl-dce", 1, "Expected pass name here"),
        ("hl-dce,,hl-cse", 8, "Expected pass name here"),
        ("hl-dce}", 7, "Expected a comma or pass arguments here"),
    ],
)
def test_a_malformed_pass_pipeline_is_a_usage_error(passes, column, reason, hl_file, capsys):
    assert main(["opt", str(hl_file), "-p", passes]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"irc: error: -p {passes!r}: malformed pass pipeline at pass-pipeline:1:{column}"
    assert lines[1:] == [passes, " " * (column - 1) + "^", " " * (column - 1) + reason]


@pytest.mark.parametrize("args", [["stages"], ["run", "{hl_file}", "--target", "ref"], ["cache", "info"]])
def test_a_closed_stdout_stops_quietly(args, hl_file, tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `irc ... | head -0` leaves it: every write fails with EPIPE
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IRC_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "irc", *(a.format(hl_file=hl_file) for a in args)]
    try:
        proc = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, text=True, env=env)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_a_closed_stderr_keeps_the_exit_code(hl_file):
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `irc ... 2>&1 | head -1` leaves it once head is done
    command = [sys.executable, "-m", "irc", "opt", str(hl_file), "-p", "hl-dce{"]
    try:
        proc = subprocess.run(command, stdout=write_end, stderr=write_end, env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.close(write_end)
    assert proc.returncode == 2


def test_an_empty_mlir_file_says_so(tmp_path, capsys):
    (tmp_path / "empty.mlir").write_text("\n")
    assert main(["compile", str(tmp_path / "empty.mlir")]) == 1
    assert capsys.readouterr().err == (
        f"irc: error: {tmp_path / 'empty.mlir'}: the file is empty (expected a module of func.func ops in the hl dialect)\n"
    )


def test_example_inputs_that_are_not_specs_are_named(tmp_path, capsys):
    (tmp_path / "m.py").write_text(
        'class M:\n    example_inputs = "x"\n\n    def forward(self, x):\n        return x\n'
    )
    assert main(["compile", f"{tmp_path / 'm.py'}:M"]) == 2
    assert capsys.readouterr().err == "irc: error: M.example_inputs: expected a list of irc.Spec, got 'x'\n"
