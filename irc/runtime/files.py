"""Write one output file atomically: into a new temp file beside it, renamed onto it when complete.

    >>> write_file("out.ll", text)
    >>> with atomic_file("model.ircpkg") as f:
    ...     f.write(data)

Files are created with mode 0o666 less the umask, like any file a shell
command writes. A symlink is written through: the file it names is replaced,
the link stays. What is not a regular file (a device such as /dev/null, a FIFO,
a terminal) is written into, never replaced. Standard library only: the
runtime (packages) and the driver both write through here.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from irc.errors import IRCError

#: the longest part of a destination's name a temp file repeats: its name must fit where the destination's fits
_TEMP_NAME_CHARS = 200


def create_temp(path: str | os.PathLike) -> tuple[Path, int]:
    """A new empty file `.NAME.XXXXXXXX.tmp` beside `path` (mode 0o666 less the umask): (its path, an open fd).

    NAME is `path`'s name, cut to 200 characters."""
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name[:_TEMP_NAME_CHARS]}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def cannot_write(path: str | os.PathLike, error: OSError) -> IRCError:
    """The one-line error for an OSError while writing `path`."""
    return IRCError(f"{path}: cannot write: {error.strerror or error}")


def written_in_place(path: str | os.PathLike) -> bool:
    """Whether `path` exists and is not a regular file (through symlinks): a device, a FIFO, a terminal,
    a directory. Such a file is written into (or refused), never replaced by a regular file."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # missing (a new file), or unreachable: the write itself reports it
        return False


def replaced_path(path: str | os.PathLike) -> Path:
    """The file an atomic write of `path` replaces: `path`, or the file the symlink `path` names (the link stays)."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write `path`'s content into; it replaces `path` when the block ends without error.

    On an error (or Ctrl-C) the temp file is removed and `path` is left as it was;
    an OSError becomes an IRCError naming `path`. A symlink `path` is written through (the
    file it names is replaced); a `path` that is not a regular file (/dev/null, a FIFO) is
    written into directly.
    """
    if written_in_place(path):
        try:
            with open(path, "wb") as f:
                yield f
        except OSError as e:
            raise cannot_write(path, e) from e
        return
    target = replaced_path(path)
    try:
        tmp, fd = create_temp(target)
    except OSError as e:
        raise cannot_write(path, e) from e
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, target)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise cannot_write(path, e) from e
        raise


def write_file(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` (text is UTF-8 encoded) to `path` atomically; returns `path`."""
    with atomic_file(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return Path(path)
