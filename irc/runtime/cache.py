"""The on-disk compile cache: a directory of compiled programs shared by processes, bounded in size.

    IRC_CACHE_DIR    the directory (default ~/.cache/irc); set but empty: no disk cache
    IRC_CACHE_SIZE   the bound, in bytes or with a K/M/G suffix (binary units; default 1G)

    programs/<sha256>.ircpkg   a compiled program: a package named by its key (irc.compiler.cache)
    cuda/<sha256>.cubin        a CUDA binary, named by compiler, arch and source (irc.targets.cuda.binary)

Entries are written to a temp file beside them and renamed into place
(irc.runtime.files), so concurrent processes never see half an entry. A hit
touches the entry's mtime; an insert then evicts the entries with the oldest
mtimes until the cache fits its bound (least recently used first). Only files
named like entries (and their temp files) are counted, evicted or cleared:
other files in the directory are never touched. docs/cache.md has the policy.
Standard library only: `irc cache info|clear` runs without the compiler.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from irc.errors import InputError, IRCError
from irc.runtime.files import write_file

PROGRAMS = "programs"
CUDA = "cuda"
DEFAULT_SIZE = 1 << 30
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
#: entry files, by folder: the only files irc counts, evicts and clears
_ENTRY = {PROGRAMS: re.compile(r"[0-9a-f]{64}\.ircpkg"), CUDA: re.compile(r"[0-9a-f]{64}\.cubin")}
#: the temp files irc.runtime.files writes them through (`.NAME.XXXXXXXX.tmp`)
_TEMP = re.compile(r"\.[0-9a-f]{64}\.(?:ircpkg|cubin)\.[0-9a-f]{8}\.tmp")
#: a temp file this old belongs to a writer that died; eviction removes it
_STALE_TEMP_S = 3600


def cache_dir() -> Path | None:
    """`$IRC_CACHE_DIR` (default `~/.cache/irc`), or None when it is set but empty (disk cache off)."""
    value = os.environ.get("IRC_CACHE_DIR")
    if value == "":
        return None
    try:
        return Path(value or "~/.cache/irc").expanduser()
    except RuntimeError:  # ~user of no user, or no home directory to find
        if value is None:
            raise InputError("no home directory for the default cache ~/.cache/irc: set IRC_CACHE_DIR") from None
        tilde = value.split("/")[0]
        raise InputError(
            f"IRC_CACHE_DIR={value!r}: cannot expand {tilde!r} (no such user, or no home directory)"
        ) from None


def size_bound() -> int:
    """`$IRC_CACHE_SIZE` in bytes (`500M`, `2G`, `1000000`; default 1 GiB)."""
    text = os.environ.get("IRC_CACHE_SIZE", "").strip()
    if not text:
        return DEFAULT_SIZE
    match = re.fullmatch(r"(\d+)\s*([KMGT]?)(?:i?B)?", text, re.IGNORECASE)
    if match is None:
        raise InputError(f"IRC_CACHE_SIZE={text!r}: expected a size in bytes, or with a suffix K, M, G (e.g. 500M)")
    return int(match[1]) * _UNITS[match[2].upper()]


def entry_path(folder: str, name: str) -> Path | None:
    """Where the entry `folder/name` lives (None with the disk cache off)."""
    directory = cache_dir()
    return None if directory is None else directory / folder / name


def read_hit(path: Path) -> bool:
    """Whether the entry at `path` exists; if so it is marked as just used (its mtime, for eviction)."""
    try:
        os.utime(path)
    except OSError:  # absent, or evicted by another process just now
        return False
    return True


def store(path: Path, data: bytes | Callable[[Path], object]) -> bool:
    """Write the entry `path` atomically (its folder created if need be), then evict to fit the bound.

    `data` is the entry's bytes, or a function that writes it atomically at the path it is given
    (`irc.runtime.package.save`). A cache that cannot be written is no error: returns whether the
    entry was written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(data):
            data(path)
        else:
            write_file(path, data)
    except (IRCError, OSError):
        return False
    evict(keep=path)
    return True


@dataclass(frozen=True)
class CacheInfo:
    """What `irc cache info` shows: the directory, its entries by folder, their bytes and the bound."""

    directory: Path | None
    entries: dict[str, int]
    size: int
    bound: int


def _entries(directory: Path) -> list[tuple[Path, os.stat_result]]:
    """irc's entry files under `directory` with their stat (entries another process removes meanwhile are left out)."""
    found = []
    for folder, pattern in _ENTRY.items():
        try:
            names = os.listdir(directory / folder)
        except OSError:
            continue
        for name in names:
            if pattern.fullmatch(name):
                try:
                    found.append((directory / folder / name, os.stat(directory / folder / name)))
                except OSError:
                    continue
    return found


def _temp_files(directory: Path) -> list[Path]:
    files = []
    for folder in _ENTRY:
        try:
            files += [directory / folder / n for n in os.listdir(directory / folder) if _TEMP.fullmatch(n)]
        except OSError:
            continue
    return files


def evict(keep: Path | None = None) -> list[Path]:
    """Remove the least recently used entries (oldest mtime first) until the cache fits its bound; `keep` stays.

    Also removes temp files left by writers that died. Returns the removed entries.
    """
    directory = cache_dir()
    if directory is None:
        return []
    now = time.time()
    for tmp in _temp_files(directory):
        try:
            if now - tmp.stat().st_mtime > _STALE_TEMP_S:
                tmp.unlink()
        except OSError:
            continue
    entries = sorted(_entries(directory), key=lambda e: e[1].st_mtime)
    total, bound, removed = sum(s.st_size for _, s in entries), size_bound(), []
    for path, st in entries:
        if total <= bound:
            break
        if path == keep:
            continue
        try:
            path.unlink()
        except FileNotFoundError:  # another process evicted it
            pass
        except OSError:
            continue
        total -= st.st_size
        removed.append(path)
    return removed


def info() -> CacheInfo:
    """The cache directory, its entries per folder, their total size and the bound."""
    directory, bound = cache_dir(), size_bound()
    if directory is None:
        return CacheInfo(None, {}, 0, bound)
    entries = _entries(directory)
    counts = {folder: sum(p.parent.name == folder for p, _ in entries) for folder in _ENTRY}
    return CacheInfo(directory, counts, sum(s.st_size for _, s in entries), bound)


def clear() -> tuple[int, int]:
    """Remove every entry (and temp file) irc wrote; other files stay. Returns (entries removed, bytes freed)."""
    directory = cache_dir()
    if directory is None:
        return 0, 0
    count = freed = 0
    for path, st in _entries(directory):
        try:
            path.unlink()
        except OSError:
            continue
        count, freed = count + 1, freed + st.st_size
    for tmp in _temp_files(directory):
        tmp.unlink(missing_ok=True)
    return count, freed
