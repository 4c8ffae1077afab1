"""Write one output file atomically: into a new temp file beside it, renamed onto it when complete.

    >>> write_file("out.ll", text)
    >>> with atomic_file("model.ircpkg") as f:
    ...     f.write(data)

Files are created with mode 0o666 less the umask, like any file a shell
command writes. Standard library only: the runtime (packages) and the driver
both write through here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from irc.errors import IRCError


def create_temp(path: str | os.PathLike) -> tuple[Path, int]:
    """A new empty file `.NAME.XXXXXXXX.tmp` beside `path` (mode 0o666 less the umask): (its path, an open fd)."""
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def cannot_write(path: str | os.PathLike, error: OSError) -> IRCError:
    """The one-line error for an OSError while writing `path`."""
    return IRCError(f"{path}: cannot write: {error.strerror or error}")


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write `path`'s content into; it replaces `path` when the block ends without error.

    On an error (or Ctrl-C) the temp file is removed and `path` is left as it was;
    an OSError becomes an IRCError naming `path`.
    """
    try:
        tmp, fd = create_temp(path)
    except OSError as e:
        raise cannot_write(path, e) from e
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
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
