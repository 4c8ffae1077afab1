"""Per-pass FileCheck tests: every `tests/filecheck/**/*.mlir` file.

Each file starts with `// RUN: irc opt %s -p PASSES | filecheck %s [OPTIONS]`.
Both halves run in this process (no subprocess per file): `irc opt` through
`irc.driver.cli.main` with stdout captured, FileCheck through the `filecheck`
package's matcher, so the RUN line still works as a shell command.
"""

import contextlib
import io
import shlex
from pathlib import Path

import pytest
from filecheck.finput import FInput
from filecheck.matcher import Matcher
from filecheck.options import parse_argv_options
from filecheck.parser import Parser

from irc.driver import cli

FILES = sorted((Path(__file__).parent / "filecheck").rglob("*.mlir"))


def run_irc(argv: list[str]) -> str:
    """`irc ARGV` in process: its stdout; fails with its stderr on a non-zero exit."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    assert code == 0, f"irc {shlex.join(argv)} exited {code}\n{err.getvalue()}"
    return out.getvalue()


def run_filecheck(argv: list[str], text: str) -> None:
    """`filecheck ARGV` in process on TEXT as its input; fails with FileCheck's report."""
    opts = parse_argv_options(["filecheck", *argv])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = Matcher(opts, FInput("<stdin>", FInput.canonicalize_line_ends(text)), Parser.from_opts(opts)).run()
    assert code == 0, f"filecheck {shlex.join(argv)} failed\n{err.getvalue()}\ninput:\n{text}"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(Path(__file__).parent)) for p in FILES])
def test_filecheck(path: Path):
    run_lines = [line.split("RUN:", 1)[1].strip() for line in path.read_text().splitlines() if "RUN:" in line]
    assert run_lines, f"{path} has no RUN line"
    for run in run_lines:
        commands = [[str(path) if word == "%s" else word for word in shlex.split(part)] for part in run.split("|")]
        assert [c[:2] for c in commands] == [["irc", "opt"], ["filecheck", str(path)]], (
            f"{path}: RUN line is not `irc opt ... | filecheck %s ...`: {run}"
        )
        run_filecheck(commands[1][1:], run_irc(commands[0][1:]))
