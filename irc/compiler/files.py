"""Output paths of the CLI: checked before compiling, then written file by file, atomically.

    >>> check_output_directory("dumps", "--dump-dir")        # before the compile: a one-line error if unusable
    >>> write_files("dumps", {"01-hl.mlir": text}, stale=DUMP_FILE)

irc writes only the files it names, each through a temp file in the same
directory renamed into place (through a symlink, beside the file it names; a
device or FIFO is written into), and deletes nothing it did not create in this
run, except files of its own naming scheme (`stale`) left by an earlier run:
other files in an output directory are never touched. An output is never the
input (`check_not_input`, `names_file_of`). An output file's
directory must exist; an output directory is created with its missing parents
(like `mkdir -p`: `--dump-dir out/mlp` in a fresh checkout), and only those are
removed again when the write fails. Files and directories honour the umask.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Mapping
from pathlib import Path

from irc.errors import InputError, IRCError
from irc.runtime.files import cannot_write, create_temp, replaced_path, written_in_place


def _check_writable_directory(directory: Path, option: str, path: str | os.PathLike, name: str = "irc-probe") -> None:
    """`directory` exists, is a directory and takes new files (probed with the temp file of `name`), else an
    InputError."""
    if not directory.exists():
        raise InputError(f"{option} {path}: {directory} does not exist (irc creates no parent directories)")
    if not directory.is_dir():
        raise InputError(f"{option} {path}: {directory} is not a directory")
    try:
        tmp, fd = create_temp(directory / name)
    except OSError as e:
        raise InputError(f"{option} {path}: cannot write in {directory}: {e.strerror or e}") from None
    os.close(fd)
    tmp.unlink()


def check_output_file(path: str | os.PathLike, option: str = "-o") -> None:
    """Check, before compiling, that the file `path` can be written; its directory must exist.

    Through a symlink it is the file the link names; a device or FIFO must be writable."""
    try:
        if Path(path).is_dir():
            raise InputError(f"{option} {path}: is a directory")
        if written_in_place(path):
            if not os.access(path, os.W_OK):
                raise InputError(f"{option} {path}: cannot write: permission denied")
            return
        target = replaced_path(path)
        _check_writable_directory(target.parent, option, path, target.name)
    except OSError as e:  # a name too long, a symlink loop: the OS's reason
        raise InputError(f"{option} {path}: {e.strerror or e}") from None


def check_output_directory(path: str | os.PathLike, option: str) -> None:
    """Check, before compiling, that files can be written into the directory `path` (or that it can be made)."""
    directory = Path(path)
    try:
        if directory.exists() and not directory.is_dir():
            raise InputError(f"{option} {path}: exists and is not a directory")
        existing, missing = directory, []
        while not existing.exists() and existing != existing.parent:
            missing.append(existing.name)
            existing = existing.parent  # the missing levels are created (like mkdir -p)
        _check_writable_directory(existing, option, path)
        if any(len(os.fsencode(name)) > os.pathconf(existing, "PC_NAME_MAX") for name in missing):
            raise InputError(f"{option} {path}: {os.strerror(errno.ENAMETOOLONG)}")
    except OSError as e:
        raise InputError(f"{option} {path}: {e.strerror or e}") from None


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether `a` and `b` are one file (through symlinks and hard links); False when one does not exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(path: str | os.PathLike, input_path: str | os.PathLike, option: str = "-o") -> None:
    """Refuse an output `path` that is the file `input_path`, also through symlinks and hard links."""
    if _same_file(path, input_path):
        raise InputError(f"{option} {path}: is the input file {input_path}; irc does not overwrite its input")


def names_file_of(path: str | os.PathLike, directory: str | os.PathLike, scheme: re.Pattern) -> bool:
    """Whether `path` is, or would be, a file of `directory` named by `scheme` (irc's naming scheme, at
    most one folder deep): what `write_files(directory, ..., stale=scheme)` replaces or removes.
    Symlinks and hard links count."""
    directory = os.path.realpath(directory)
    spellings = {os.path.join(os.path.realpath(os.path.dirname(path) or "."), os.path.basename(path))}
    spellings.add(os.path.realpath(path))  # through a symlink
    if any(scheme.fullmatch(Path(os.path.relpath(p, directory)).as_posix()) for p in spellings):
        return True
    if not os.path.isdir(directory):
        return False
    return any(_same_file(path, named) for _, named in _named_files(Path(directory), scheme))


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
    in_place: dict[Path, bytes] = {}  # devices, FIFOs: written into once the other files are in place
    try:
        made += _make_directories(directory)
        for relative, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            made += _make_directories((directory / relative).parent)
            target = replaced_path(directory / relative)
            if written_in_place(target):
                in_place[target] = data
                continue
            tmp, fd = create_temp(target)
            temps[target] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for target, tmp in list(temps.items()):
            os.replace(tmp, target)
            del temps[target]
        for target, data in in_place.items():
            with open(target, "wb") as f:
                f.write(data)
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


def _named_files(directory: Path, scheme: re.Pattern) -> list[tuple[str, Path]]:
    """(relative path, path) of the entries of `directory`, top level and one folder deep (not through a
    symlink), whose relative path fully matches `scheme`."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as inner:
                    found += [(f"{entry.name}/{i.name}", Path(i.path)) for i in inner]
            else:
                found.append((entry.name, Path(entry.path)))
    return [(relative, path) for relative, path in found if scheme.fullmatch(relative)]


def _remove_stale(directory: Path, written: set[str], stale: re.Pattern) -> None:
    """Remove the regular files named by `stale` that this run did not write, top level and one folder deep.

    A folder left empty by it goes too.
    """
    emptied = set()
    for relative, path in _named_files(directory, stale):
        if relative not in written and path.is_file() and not path.is_symlink():
            path.unlink()
            emptied.add(path.parent)
    for folder in emptied - {directory}:
        if not os.listdir(folder):
            folder.rmdir()
