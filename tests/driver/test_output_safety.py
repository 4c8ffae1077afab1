"""What the CLI writes: only its own files, each atomically, never a user's file; bad output paths fail before
the compile with one line; Ctrl-C exits 130 and leaves nothing behind; modes follow the umask.

Oracles: the directory contents before the run (user files byte for byte), numpy (`hl_oracle`), the umask.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import irc
from irc.compiler import pipeline
from irc.driver.arrays import random_inputs
from irc.driver.cli import main
from irc.driver.inputs import input_specs
from irc.ir import parse_module
from tests.compiler.pipeline_fixtures import HL_TEXT, hl_oracle, register

ROOT = Path(__file__).resolve().parents[2]
USER_FILES = {"keep.txt": "mine\n", "src/main.py": "print('mine')\n", "03-linalg.txt": "not a dump\n"}


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (relative path -> content)."""
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def with_user_files(directory: Path) -> dict[str, bytes]:
    directory.mkdir()
    for name, text in USER_FILES.items():
        (directory / name).parent.mkdir(exist_ok=True)
        (directory / name).write_text(text)
    return snapshot(directory)


def dumps(directory: Path) -> list[str]:
    return sorted(name for name in snapshot(directory) if pipeline.DUMP_FILE.fullmatch(name))


def run_ref(hl_file: Path, *more: str) -> int:
    return main(["run", str(hl_file), "--target", "ref", "--stop-after", "hl", *more])


def test_dump_dir_keeps_user_files(hl_file, tmp_path):
    proj = tmp_path / "proj"
    before = with_user_files(proj)
    (proj / "03-linalg").mkdir()
    (proj / "03-linalg" / "notes.txt").write_text("mine too\n")  # a user file inside a stage folder
    args = ["compile", str(hl_file), "--dump-dir", str(proj), "--print-ir-after-all"]
    assert main([*args, "--stop-after", "linalg"]) == 0
    after = snapshot(proj)
    assert {name: after[name] for name in before} == before
    assert "01-hl.mlir" in after and "03-linalg/01-convert-hl-to-linalg.mlir" in after
    assert after["03-linalg/notes.txt"] == b"mine too\n"

    # a re-run with fewer stages replaces the stale dumps, and only them
    assert main([*args, "--stop-after", "hl"]) == 0
    after = snapshot(proj)
    assert dumps(proj) == ["01-hl.mlir"]
    assert after == {**before, "01-hl.mlir": after["01-hl.mlir"], "03-linalg/notes.txt": b"mine too\n"}
    assert not (proj / "02-hl-opt").exists()  # emptied by removing its stale per-pass dumps


def test_run_output_dir_keeps_user_files(hl_file, tmp_path, rng):
    res = tmp_path / "res"
    before = with_user_files(res)
    (res / "out7.npy").write_bytes(b"a stale output of an earlier run")
    x = rng.standard_normal((4, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    assert run_ref(hl_file, "--input", f"x={tmp_path / 'x.npy'}", "--seed", "1", "-o", str(res)) == 0
    after = snapshot(res)
    assert sorted(set(after) - set(before)) == ["out0.npy"]  # out7.npy is gone, the user's files stay
    assert {name: after[name] for name in before} == before
    y = random_inputs(input_specs(parse_module(HL_TEXT)), seed=1)["y"]  # the seeded random input
    np.testing.assert_allclose(np.load(res / "out0.npy"), hl_oracle(x, y), rtol=1e-6)


def test_dump_dir_dot(hl_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", hl_file.name, "--dump-dir", ".", "--stop-after", "hl-opt", "--print-ir-after-all"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["01-hl.mlir", "02-hl-opt", "02-hl-opt.mlir", "prog.mlir"]
    assert not [p for p in tmp_path.rglob(".*")]  # no temp files or folders left
    assert main(["compile", hl_file.name, "--dump-dir", ".", "--stop-after", "hl"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["01-hl.mlir", "prog.mlir"]


def test_python_api_dump_keeps_user_files(hl_file, tmp_path):
    lowering = irc.compiler.pipeline.Pipeline("ref").run(parse_module(HL_TEXT))
    out = tmp_path / "out"
    before = with_user_files(out)
    lowering.dump(out)
    assert dumps(out) == ["01-hl.mlir", "02-hl-opt.mlir"]
    after = snapshot(out)
    assert {name: after[name] for name in before} == before
    lowering.dump(tmp_path / "missing" / "out")  # missing parents are made, like mkdir -p
    assert dumps(tmp_path / "missing" / "out") == ["01-hl.mlir", "02-hl-opt.mlir"]


def test_dump_dir_is_made_with_its_parents_and_removed_on_failure(hl_file, tmp_path, monkeypatch):
    assert main(["compile", str(hl_file), "--dump-dir", str(tmp_path / "out" / "mlp")]) == 0
    assert dumps(tmp_path / "out" / "mlp")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    assert main(["compile", str(hl_file), "--dump-dir", str(tmp_path / "new" / "deeper")]) != 0
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda p: ["compile", p, "-o", f"{p}/out.ll"], "-o {p}/out.ll: {p} is not a directory"),
        (lambda p: ["compile", p, "--dump-dir", f"{p}/sub"], "--dump-dir {p}/sub: {p} is not a directory"),
        (lambda p: ["run", p, "-o", f"{p}/res"], "-o {p}/res: {p} is not a directory"),
        (lambda p: ["run", p, "-o", p], "-o {p}: exists and is not a directory"),
        (lambda p: ["opt", p, "-o", f"{p}.d/x/out.mlir"], "-o {p}.d/x/out.mlir: {p}.d/x does not exist"),
        (lambda p: ["compile", p, "-o", f"{p}.d/x/out.ll"], "{p}.d/x does not exist (irc creates no parent"),
        (lambda p: ["compile", p, "--dump-dir", f"{p}/x/y"], "--dump-dir {p}/x/y: {p} is not a directory"),
        (lambda p: ["compile", p, "-o", str(Path(p).parent)], "is a directory"),
        (lambda p: ["compile", p, "-o", "/proc/irc-out.ll"], "-o /proc/irc-out.ll: cannot write in /proc: "),
    ],
)
def test_unusable_output_path_fails_before_compiling(make_args, message, hl_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pipeline.Pipeline, "run", lambda *a, **k: pytest.fail("compiled before checking -o"))
    before = snapshot(tmp_path)
    assert main(make_args(str(hl_file))) == 2
    err = capsys.readouterr().err
    assert err.startswith("irc: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message.format(p=hl_file) in err
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_read_only_directory(hl_file, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["compile", str(hl_file), "-o", str(locked / "out.ll")]) == 2
    assert f"cannot write in {locked}: Permission denied" in capsys.readouterr().err


def test_ctrl_c_in_a_pass_exits_130_and_writes_nothing(hl_file, tmp_path, capsys, monkeypatch):
    register(monkeypatch, {"hl-cse": "test-interrupt"})
    before = snapshot(tmp_path)
    args = ["compile", str(hl_file), "--dump-dir", str(tmp_path / "d"), "-o", str(tmp_path / "out.ll")]
    assert main(args) == 130
    assert capsys.readouterr().err == "irc: interrupted\n"
    assert snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["prog.mlir"]


SLOW_PROGRAM = """\
import sys
import time

import irc


def f(x: irc.Spec((2,))):
    print("tracing", file=sys.stderr, flush=True)
    time.sleep(60)
    return x.relu()
"""


def test_ctrl_c_from_the_terminal(tmp_path):
    # SIGINT, as a terminal sends it, while irc is busy (tracing the program): exit 130, one line, no traceback
    (tmp_path / "slow.py").write_text(SLOW_PROGRAM)
    proc = subprocess.Popen(
        [sys.executable, "-m", "irc", "compile", "slow.py", "-o", "out.ll", "--dump-dir", "dump"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr.readline() == "tracing\n"
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
    assert err == "irc: interrupted\n"
    assert os.listdir(tmp_path) == ["slow.py"]


def test_files_and_directories_follow_the_umask(hl_file, tmp_path, rng):
    old = os.umask(0o027)
    try:
        assert main(["compile", str(hl_file), "--emit", "hl", "-o", str(tmp_path / "out.mlir")]) == 0
        assert main(["compile", str(hl_file), "--stop-after", "hl-opt", "--dump-dir", str(tmp_path / "d")]) == 0
        assert run_ref(hl_file, "-o", str(tmp_path / "res")) == 0
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    del modes["prog.mlir"]
    assert modes == {
        "out.mlir": 0o640,
        "d": 0o750,
        "d/01-hl.mlir": 0o640,
        "d/02-hl-opt.mlir": 0o640,
        "res": 0o750,
        "res/out0.npy": 0o640,
    }


def test_compile_output_replaces_a_file_atomically(hl_file, tmp_path):
    out = tmp_path / "out.mlir"
    out.write_text("old")
    link = tmp_path / "link.mlir"
    os.link(out, link)  # a hard link still sees the old content: the new file was renamed over `out`
    assert main(["compile", str(hl_file), "--emit", "hl", "-o", str(out)]) == 0
    assert link.read_text() == "old"
    parse_module(out.read_text())


PY_MODEL = "import irc\n\n\ndef f(x: irc.Spec((4, 3)), y: irc.Spec((3,))):\n    return (x + y).relu()\n"


def test_output_onto_the_input_is_refused(hl_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pipeline.Pipeline, "run", lambda *a, **k: pytest.fail("compiled before checking -o"))
    source = tmp_path / "model.py"
    source.write_text(PY_MODEL)
    (tmp_path / "link.mlir").symlink_to(hl_file)
    os.link(hl_file, tmp_path / "hard.mlir")
    before = snapshot(tmp_path)
    for args in (
        ["compile", str(hl_file), "-o", str(hl_file)],
        ["compile", f"{source}:f", "-o", str(source)],
        ["compile", str(hl_file), "-o", str(tmp_path / "link.mlir")],  # written through: the input
        ["compile", str(hl_file), "-o", str(tmp_path / "hard.mlir")],
        ["opt", str(hl_file), "-o", str(tmp_path / "hard.mlir")],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert (
            err
            == f"irc: error: -o {args[-1]}: is the input file {args[1].removesuffix(':f')}; irc does not overwrite its input\n"
        )
    assert snapshot(tmp_path) == before


def test_a_dump_never_replaces_or_removes_its_input(hl_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(["compile", str(hl_file), "--dump-dir", str(out), "--stop-after", "hl-opt", "--print-ir-after-all"]) == 0
    )
    os.link(out / "02-hl-opt.mlir", tmp_path / "replay.mlir")
    before = snapshot(tmp_path)
    replay = ["compile", str(out / "02-hl-opt.mlir"), "--dump-dir", str(out)]
    # --stop-after hl would remove the input as a stale dump, hl-opt would replace it
    for args in ([*replay, "--stop-after", "hl"], [*replay, "--stop-after", "hl-opt"]):
        assert main(args) == 2
        assert f"INPUT is a dump file of --dump-dir {out}" in capsys.readouterr().err
    assert main(["compile", str(tmp_path / "replay.mlir"), "--dump-dir", str(out), "--stop-after", "hl"]) == 2
    # -o naming a dump file: one this run writes, or one a run would remove as stale
    for name in ("01-hl.mlir", "02-hl-opt/01-hl-decompose.mlir", "07-target.ll"):
        args = ["compile", str(hl_file), "--dump-dir", str(out), "--stop-after", "hl", "-o", str(out / name)]
        assert main(args) == 2
        assert f"-o {out / name}: is a dump file of --dump-dir {out}" in capsys.readouterr().err
    assert snapshot(tmp_path) == before
    # the replay into another folder, with -o beside the dumps under another name: fine, the dumps stay
    kept = snapshot(out)
    fresh = tmp_path / "fresh"
    assert main([*replay[:2], "--dump-dir", str(fresh), "--stop-after", "hl", "-o", str(out / "hl.mlir")]) == 0
    assert dumps(fresh) == ["01-hl.mlir"]
    parse_module((out / "hl.mlir").read_text())
    (out / "hl.mlir").unlink()
    assert snapshot(out) == kept


def test_outputs_write_through_symlinks_and_into_devices_and_fifos(hl_file, tmp_path, rng):
    emit = ["compile", str(hl_file), "--emit", "hl", "-o"]
    assert main([*emit, str(tmp_path / "plain.mlir")]) == 0
    expected = (tmp_path / "plain.mlir").read_text()
    real = tmp_path / "real.mlir"
    real.write_text("old")
    (tmp_path / "link.mlir").symlink_to(real)  # the file it names is replaced, the link stays
    assert main([*emit, str(tmp_path / "link.mlir")]) == 0
    assert (tmp_path / "link.mlir").is_symlink() and real.read_text() == expected
    (tmp_path / "null").symlink_to(os.devnull)  # a device is written into, not replaced by a regular file
    assert main([*emit, str(tmp_path / "null")]) == 0
    assert (tmp_path / "null").is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    assert main([*emit, str(fifo)]) == 0
    reader.join(timeout=60)
    assert received == [expected] and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    # the files of `run -o DIR` too
    res = tmp_path / "res"
    res.mkdir()
    (res / "out0.npy").symlink_to(tmp_path / "kept.npy")
    x = rng.standard_normal((4, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    assert run_ref(hl_file, "--input", f"x={tmp_path / 'x.npy'}", "-o", str(res)) == 0
    y = random_inputs(input_specs(parse_module(HL_TEXT)), seed=0)["y"]
    assert (res / "out0.npy").is_symlink()
    np.testing.assert_allclose(np.load(tmp_path / "kept.npy"), hl_oracle(x, y), rtol=1e-6)


LONG = "b" * 300  # over NAME_MAX (255)


@pytest.mark.parametrize(
    "make_args",
    [
        lambda d: ["compile", f"{d}/{LONG}.py"],
        lambda d: ["compile", f"{d}/{LONG}.mlir"],
        lambda d: ["run", f"{d}/{LONG}.ircpkg"],
        lambda d: ["compile", f"{d}/prog.mlir", "-o", f"{d}/{LONG}.ll"],
        lambda d: ["compile", f"{d}/prog.mlir", "--dump-dir", f"{d}/{LONG}"],
        lambda d: ["compile", f"{d}/prog.mlir", "--dump-dir", f"{d}/new/{LONG}/x"],
        lambda d: ["run", f"{d}/prog.mlir", "-o", f"{d}/{LONG}"],
        lambda d: ["opt", f"{d}/prog.mlir", "-o", f"{d}/{LONG}"],
    ],
)
def test_a_name_too_long_is_one_line(make_args, hl_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pipeline.Pipeline, "run", lambda *a, **k: pytest.fail("compiled before checking the paths"))
    before = snapshot(tmp_path)
    assert main(make_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("irc: error: ") and err.count("\n") == 1
    assert LONG in err and err.endswith(f"{os.strerror(errno.ENAMETOOLONG)}\n")
    assert snapshot(tmp_path) == before


def test_a_long_output_name_that_fits_is_written(hl_file, tmp_path):
    # the temp file (.NAME.XXXXXXXX.tmp) cuts NAME short: an output name that fits can be written
    out = tmp_path / ("a" * 245 + ".mlir")
    assert main(["compile", str(hl_file), "--emit", "hl", "-o", str(out)]) == 0
    parse_module(out.read_text())
    assert set(os.listdir(tmp_path)) == {out.name, "prog.mlir"}  # no temp file left
