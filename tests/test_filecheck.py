"""Per-pass FileCheck tests: every `tests/filecheck/**/*.mlir` file.

Each file starts with `// RUN: irc opt %s -p PASSES | filecheck %s`; `irc` is
run as `python -m irc` so the tests need no installed console script.
"""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

FILES = sorted((Path(__file__).parent / "filecheck").rglob("*.mlir"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(Path(__file__).parent)) for p in FILES])
def test_filecheck(path: Path):
    run_lines = [line.split("RUN:", 1)[1].strip() for line in path.read_text().splitlines() if "RUN:" in line]
    assert run_lines, f"{path} has no RUN line"
    for run in run_lines:
        # substitute the tools before %s: the file's own path contains "filecheck"
        cmd = run.replace("irc opt", f"{shlex.quote(sys.executable)} -m irc opt")
        cmd = cmd.replace("| filecheck", f"| {shlex.quote(sys.executable)} -m filecheck")
        cmd = cmd.replace("%s", shlex.quote(str(path)))
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
        assert proc.returncode == 0, f"{run}\n{proc.stdout}\n{proc.stderr}"
