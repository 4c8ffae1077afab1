"""Atomic writes (irc.runtime.files) and `irc.save`, which writes through them: a failed write leaves the old
file as it was, a symlink is written through, a device is written into.

Oracles: the bytes on disk before the write, `irc.load` of what was saved, the file types (`os.lstat`).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import irc
from irc.errors import IRCError
from irc.runtime.files import atomic_file, write_file


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(path) as f:
        f.write(b"half of the new")
        raise RuntimeError("the writer failed")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]


def test_a_symlink_is_written_through_and_a_device_into(tmp_path):
    (tmp_path / "link").symlink_to("real")  # dangling: the file it names is created
    write_file(tmp_path / "link", "new")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real").read_text() == "new"
    (tmp_path / "null").symlink_to(os.devnull)
    write_file(tmp_path / "null", "gone")
    assert (tmp_path / "null").is_symlink() and os.path.getsize(os.devnull) == 0
    assert sorted(os.listdir(tmp_path)) == ["link", "null", "real"]


def test_a_directory_is_refused_with_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IRCError, match=r"^\.: cannot write: Is a directory$"):
        write_file(".", b"")


def test_irc_save_that_fails_keeps_the_old_checkpoint(tmp_path):
    path = tmp_path / "ckpt.irc"
    irc.save({"w": irc.tensor([[1.0, 2.0]]), "epoch": 3}, path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="allow_pickle=False"):  # refused while the archive is written
        irc.save({"w": irc.tensor([[5.0, 6.0]]), "bad": np.array([1, None], dtype=object)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.irc"]
    loaded = irc.load(path)
    assert loaded["epoch"] == 3 and loaded["w"].numpy().tolist() == [[1.0, 2.0]]
