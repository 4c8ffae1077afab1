"""Output paths of the CLI: checked before compiling, then written file by file, atomically.

    >>> check_output_directory("dumps", "--dump-dir")        # before the compile: a one-line error if unusable
    >>> write_files("dumps", {"01-hl.mlir": text}, stale=DUMP_FILE)

irc writes only the files it names, each through a temp file in the same
directory renamed into place, and deletes nothing it did not create in this
run, except files of its own naming scheme (`stale`) left by an earlier run:
other files in an output directory are never touched. An output file's
directory must exist; an output directory is created with its missing parents
(like `mkdir -p`: `--dump-dir out/mlp` in a fresh checkout), and only those are
removed again when the write fails. Files and directories honour the umask.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from irc.errors import InputError, IRCError
from irc.runtime.files import cannot_write, create_temp


def _check_writable_directory(directory: Path, option: str, path: str | os.PathLike) -> None:
    """`directory` exists, is a directory and takes new files (probed with a temp file), else an InputError."""
    if not directory.exists():
        raise InputError(f"{option} {path}: {directory} does not exist (irc creates no parent directories)")
    if not directory.is_dir():
        raise InputError(f"{option} {path}: {directory} is not a directory")
    try:
        tmp, fd = create_temp(directory / "irc-probe")
    except OSError as e:
        raise InputError(f"{option} {path}: cannot write in {directory}: {e.strerror or e}") from None
    os.close(fd)
    tmp.unlink()


def check_output_file(path: str | os.PathLike, option: str = "-o") -> None:
    """Check, before compiling, that the file `path` can be written; its directory must exist."""
    if Path(path).is_dir():
        raise InputError(f"{option} {path}: is a directory")
    _check_writable_directory(Path(path).parent, option, path)


def check_output_directory(path: str | os.PathLike, option: str) -> None:
    """Check, before compiling, that files can be written into the directory `path` (or that it can be made)."""
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{option} {path}: exists and is not a directory")
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the missing levels are created (like mkdir -p)
    _check_writable_directory(existing, option, path)


def _make_directories(directory: Path) -> list[Path]:
    """Create `directory` and its missing parents; the ones created, outermost first."""
    missing = []
    while not directory.is_dir():
        if directory.exists() or directory == directory.parent:
            raise IRCError(f"{directory}: exists and is not a directory")
        missing.append(directory)
        directory = directory.parent
    made = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:  # made by another process just now
            if not folder.is_dir():
                raise IRCError(f"{folder}: exists and is not a directory") from None
            continue
        except OSError as e:
            raise cannot_write(folder, e) from e
        made.append(folder)
    return made


def write_files(
    directory: str | os.PathLike, files: Mapping[str, bytes | str], stale: re.Pattern | None = None
) -> Path:
    """Write `files` (relative path -> content) into `directory`, creating it and their subfolders if missing.

    Every file goes to a temp file first; only when all are written are they renamed into
    place, so an error leaves the directory as it was (the temp files and any directories
    made for them removed). Then files whose relative path fully matches `stale` (irc's own
    naming scheme), at most one folder deep, and not written now are removed as left over
    from an earlier run; a folder they leave empty goes too.
    """
    directory = Path(directory)
    made: list[Path] = []
    temps: dict[Path, Path] = {}
    try:
        made += _make_directories(directory)
        for relative, data in files.items():
            target = directory / relative
            made += _make_directories(target.parent)
            tmp, fd = create_temp(target)
            temps[target] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
        for target, tmp in list(temps.items()):
            os.replace(tmp, target)
            del temps[target]
    except BaseException as e:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: some files were already renamed into it
        if isinstance(e, OSError):
            raise cannot_write(directory, e) from e
        raise
    if stale is not None:
        try:
            _remove_stale(directory, set(files), stale)
        except OSError as e:
            raise cannot_write(directory, e) from e
    return directory


def _remove_stale(folder: Path, written: set[str], stale: re.Pattern, prefix: str = "") -> bool:
    """Remove the files named by `stale` that this run did not write, top level and one folder deep.

    A folder left empty by it goes too. Returns whether anything in `folder` was removed.
    """
    removed = False
    with os.scandir(folder) as entries:
        listed = list(entries)
    for entry in listed:
        relative = prefix + entry.name
        if entry.is_file(follow_symlinks=False):
            if stale.fullmatch(relative) and relative not in written:
                os.unlink(entry.path)
                removed = True
        elif not prefix and entry.is_dir(follow_symlinks=False):
            inner = Path(entry.path)
            if _remove_stale(inner, written, stale, relative + "/") and not os.listdir(inner):
                inner.rmdir()
    return removed
