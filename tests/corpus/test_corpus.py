"""The bad-input corpus: every case of cases.toml through `irc` gives its exit code and message, never a traceback.

Oracle: the expected exit code and message piece written beside each case (cases.toml).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from irc.driver.cli import main
from tests.helpers import rewrite_zip

CORPUS = Path(__file__).resolve().parent
CASES = tomllib.loads((CORPUS / "cases.toml").read_text())["case"]


def _to_version_1(name: str, data: bytes) -> bytes | None:
    """Format 1 had no header.json: format, version and member hashes were keys of manifest.json."""
    if name == "header.json":
        return None
    if name == "manifest.json":
        return json.dumps({"format": "irc-package", "version": 1, "irc_version": "0.1.0", **json.loads(data)}).encode()
    return data


def _edit_manifest(name: str, data: bytes) -> bytes:
    if name != "manifest.json":
        return data
    manifest = json.loads(data)
    manifest["entries"][0]["inputs"][0]["shape"] = [8, 3]  # what made TVM fail with `Invalid x.shape[0]`
    return json.dumps(manifest).encode()


def _flip_a_code_byte(name: str, data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1]) if name == "kernels.so" else data


@pytest.fixture(scope="session")
def packages(tmp_path_factory) -> Path:
    """good.ircpkg (good.mlir for llvm) and damaged copies of it, each a valid zip file."""
    folder = tmp_path_factory.mktemp("packages")
    good = folder / "good.ircpkg"
    assert main(["compile", str(CORPUS / "good.mlir"), "-o", str(good)]) == 0
    rewrite_zip(good, folder / "edited_manifest.ircpkg", _edit_manifest)
    rewrite_zip(good, folder / "added_member.ircpkg", add={"extra.bin": b"\0"})
    rewrite_zip(good, folder / "removed_member.ircpkg", lambda name, data: None if name == "kernels.so" else data)
    rewrite_zip(good, folder / "edited_code.ircpkg", _flip_a_code_byte)
    rewrite_zip(good, folder / "version_1.ircpkg", _to_version_1)
    (folder / "truncated.ircpkg").write_bytes(good.read_bytes()[:-100])
    return folder


@pytest.fixture
def scratch(tmp_path) -> Path:
    """Bad inputs that are binary or that linters must not see."""
    np.save(tmp_path / "wrong_shape.npy", np.zeros((3, 4), np.float32))
    np.save(tmp_path / "wrong_dtype.npy", np.zeros((4, 3), np.float64))
    (tmp_path / "file.txt").write_text("just text\n")
    (tmp_path / "file.txt.ircpkg").write_text("just text\n")
    (tmp_path / "syntax_error.py").write_text("import irc\ndef f(x: irc.Spec((4,)):\n    return x\n")
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(case, scratch, request, capsys):
    fields = {"corpus": CORPUS, "tmp": scratch}
    if any("{packages}" in a for a in case["args"]):
        fields["packages"] = request.getfixturevalue("packages")
        capsys.readouterr()  # the package build's own messages
    try:
        code = main([a.format(**fields) for a in case["args"]])
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == case["exit"], err
    assert case["message"].format(**fields) in err
    assert "error: " in err.splitlines()[0]


def test_every_corpus_file_is_used():
    used = " ".join(a for c in CASES for a in c["args"])
    for path in CORPUS.iterdir():
        if path.suffix in (".mlir", ".py") and not path.name.startswith("test_"):
            assert f"{{corpus}}/{path.name}" in used, f"{path.name} is in no case"
