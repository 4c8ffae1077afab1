"""Compiled programs, cached in this process and on disk (docs/cache.md).

    lowering = compile_cached(module, "llvm")   # Pipeline(target).run(module), once per program and machine

A program's key is the SHA-256 of the hl text as compiled (printed without
locations), the target (cuda with its arch; llvm with this machine's CPU:
architecture, model and flags), the entry format, irc's version and a digest
of its source files, and the versions of xDSL, TVM and tvm-ffi. In process
the key is a dict lookup; on disk it names a package
(`$IRC_CACHE_DIR/programs/<key>.ircpkg`, irc.runtime.cache) holding the
compiled code and, as its member `extra/cache.json`, the key and the tir and
target texts. A hit loads the package (for llvm the shared library through
tvm_ffi: TVM's compiler is not imported); the hl..loops stages of its
`Lowering` are recomputed from the hl module (xDSL passes only) when first
asked for. An entry that fails to load (corrupt, truncated, another key or
format) is never run: the program is compiled again and the entry replaced.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

import irc
from irc.compiler.instruments import SlowCompileNotice
from irc.compiler.pipeline import Lowering, Pipeline
from irc.compiler.registry import available_passes
from irc.compiler.stages import STAGE_NAMES, STAGES
from irc.errors import InputError, IRCError
from irc.ir import print_module
from irc.runtime import cache, package
from irc.targets import kinds
from irc.targets.kinds import Target

#: the layout of `extra/cache.json` and of what a hit rebuilds from it; bump it when they change
ENTRY_FORMAT = 1
ENTRY_META = "cache.json"
_VERSIONED = ("xdsl", "apache-tvm", "apache-tvm-ffi")
#: the stage texts an entry holds: those of TVM's stages (the others are recomputed without TVM)
_STORED_STAGES = ("tir", "target")
_FRONT = tuple(s.name for s in STAGES if s.is_mlir)  # hl .. loops

#: what compile_cached did in this process: memory_hits, disk_hits, compiles, rejected (bad entries), unstored
stats: Counter[str] = Counter()

_compiled_programs: dict[tuple[str, str], Lowering] = {}
#: the disk entries of the programs in `_compiled_programs` that were stored or loaded (same keys)
_entry_paths: dict[tuple[str, str], Path] = {}


def compile_cached(module: ModuleOp, target: str | dict, text: str | None = None) -> Lowering:
    """`Pipeline(target).run(module)`, shared by `irc.jit` and eager tensors: the same hl program (same
    printed IR, same target) is compiled once per process, and once per machine while its entry stays
    in the disk cache. `text`: `print_module(module)` where the caller has it already."""
    target = kinds.target(target).resolve()
    return _cached(module, print_module(module) if text is None else text, target, compile=True)


def lookup(module: ModuleOp, target: str | dict, text: str | None = None) -> Lowering | None:
    """The compiled program if this process or the disk cache already has it, else None (no compile).

    Eager's first tier asks this before interpreting a new graph: a program compiled by an
    earlier process runs compiled from its first call. `text`: `print_module(module)` where the
    caller has it already."""
    try:
        target = kinds.target(target)
    except InputError:  # an unknown target has nothing compiled; compiling it raises this error
        return None
    if not target.resolved:
        return None  # resolving the arch of a bare cuda target imports TVM
    return _cached(module, print_module(module) if text is None else text, target)


def _memory_key(text: str, target: Target) -> tuple[str, str]:
    return text, json.dumps(target.spec, sort_keys=True)


def _cached(module: ModuleOp, text: str, target: Target, compile: bool = False) -> Lowering | None:
    """The program compiled in this process, else loaded from its disk entry, else compiled (and
    stored) when `compile`, else None. Its key is computed once, and only when there is a disk entry."""
    memory_key = _memory_key(text, target)
    lowering = _compiled_programs.get(memory_key)
    if lowering is not None:
        stats["memory_hits"] += 1
        return lowering
    entry = _disk_entry(text, target)
    lowering = _from_disk(module, *entry, target) if entry is not None else None
    if lowering is None and compile:
        notice = _compile_notice(module, target)
        with notice.watching() if notice is not None else contextlib.nullcontext():
            lowering = Pipeline(target=target, instruments=[notice] if notice is not None else []).run(module)
        stats["compiles"] += 1
        if entry is not None and _store(lowering, *entry):
            _entry_paths[memory_key] = entry[0]
        lowering = _released(lowering, module, target)
        _compiled_programs[memory_key] = lowering
    elif lowering is not None:
        _compiled_programs[memory_key] = lowering
        _entry_paths[memory_key] = entry[0]
    return lowering


def _compile_notice(module: ModuleOp, target: Target) -> SlowCompileNotice | None:
    """The notice a long compile prints (after `IRC_COMPILE_NOTICE` seconds, default 10; 0: never)."""
    value = os.environ.get("IRC_COMPILE_NOTICE", "10")
    try:
        after = float(value)
    except ValueError:
        after = -1.0
    if not after >= 0:
        raise InputError(f"IRC_COMPILE_NOTICE: {value!r} is not a number of seconds (0 turns the notice off)")
    if after == 0:
        return None
    names = [op.sym_name.data for op in module.body.block.ops if hasattr(op, "sym_name")]
    size = sum(1 for _ in module.walk()) - 1
    what = f"{'@' + names[0] if names else 'a program'} ({size} hl ops) for {target.kind}"
    return SlowCompileNotice(what, after=after)


def compile_to_package(module: ModuleOp, target: str | dict, out: Path) -> Path:
    """`compile_cached(module, target)`, and a package of the compiled program: its disk cache entry
    when there is one (not written twice), else one saved at `out`. The eager compile worker's job."""
    target = kinds.target(target).resolve()
    text = print_module(module)
    lowering = _cached(module, text, target, compile=True)
    path = _entry_paths.get(_memory_key(text, target))
    if path is not None and cache.read_hit(path):
        return path
    return package.save(lowering, out)


def preload(target: str | dict) -> None:
    """Import what compiling for `target` takes (irc's passes, TVM, the target's code generator), about
    half a second of a small program's first compile: the eager compile worker does it before its first
    request, while the user's process still interprets (docs/eager.md)."""
    for load in available_passes().values():
        load()
    kinds.target(target).preload()


def clear_memory() -> None:
    """Forget the programs compiled in this process (the disk cache stays)."""
    _compiled_programs.clear()
    _entry_paths.clear()


def _disk_entry(text: str, target: Target) -> tuple[Path, str] | None:
    """The path and key of the program's disk entry (None: the disk cache is off, or `ref` stores nothing)."""
    if not target.compiles or cache.cache_dir() is None:
        return None
    cache.size_bound()  # a malformed IRC_CACHE_SIZE fails here, not after a compile whose entry it would lose
    key = program_key(text, target)
    return cache.entry_path(cache.PROGRAMS, f"{key}.ircpkg"), key


def _from_disk(module: ModuleOp, path: Path, key: str, target: Target) -> Lowering | None:
    """The program `key` loaded from its disk entry at `path`; None when there is none or it does not load."""
    if not cache.read_hit(path):
        return None
    try:
        lowering = load_entry(path, key, module, target)
    except Exception:  # noqa: BLE001 - whatever is wrong with the entry, it is compiled again and replaced
        stats["rejected"] += 1
        return None
    stats["disk_hits"] += 1
    return lowering


def program_key(text: str, target: str | dict | Target) -> str:
    """The SHA-256 (hex) naming the compiled form of the hl program `text` for `target` on this machine."""
    material = {"format": ENTRY_FORMAT, "program": text, **kinds.target(target).key_material(), "versions": versions()}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


@functools.cache
def versions() -> dict[str, str]:
    """irc's version and source digest, and the versions of the compiler packages its code depends on."""
    found = {"irc": irc.__version__, "irc-source": _source_digest()}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _source_digest() -> str:
    """SHA-256 of irc's Python files, so an edited checkout (same version number) gets fresh entries."""
    root = Path(irc.__file__).parent
    digest = hashlib.sha256()
    for file in sorted(root.rglob("*.py")):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _store(lowering: Lowering, path: Path, key: str) -> bool:
    """Write `lowering` as the entry at `path`; False when that fails (no cubin compiler, a full disk):
    it stays in memory only."""
    compiled = lowering.compiled
    meta = {
        "format": ENTRY_FORMAT,
        "key": key,
        "versions": versions(),
        "stages": {name: lowering.stages[name] for name in _STORED_STAGES},
        "schedule_notes": getattr(compiled, "schedule_notes", []),
        "schedules": getattr(getattr(compiled, "program", None), "schedules", {}),
    }
    if cache.store(path, lambda at: package.save(lowering, at, extra={ENTRY_META: json.dumps(meta).encode()})):
        return True
    stats["unstored"] += 1
    return False


def load_entry(path: Path, key: str, module: ModuleOp, target: str | dict | Target) -> Lowering:
    """The Lowering of `module` stored at `path`, checked (package hashes, then its key) before anything loads."""
    loaded = package.load(path)
    meta = json.loads(loaded.members[package.EXTRA + ENTRY_META])
    if meta.get("format") != ENTRY_FORMAT or meta.get("key") != key:
        raise IRCError(f"{path}: a cache entry of another program, irc or format")
    stages = meta["stages"]
    kind = loaded.target["kind"]
    compiled = kinds.target(kind).from_package(loaded, stages, meta["schedule_notes"], meta["schedules"])
    front = FrontStages(module, target, stages)
    return Lowering(kind, "<INPUT>", stages=front, modules=front.modules, compiled=compiled)


def _released(lowering: Lowering, module: ModuleOp, target: Target) -> Lowering:
    """`lowering` as a cache hit holds it: the compiled code, the tir and target texts, the hl and hl-opt
    modules (a package takes its argument names from hl-opt), and the linalg..loops stages recomputed
    on first use. A compiled program lives as long as the process (the in-process cache, a jit
    function, an eager graph); the stage modules it no longer keeps were ~190k Python objects for the
    DCGAN step (305k -> 114k), each walked by every full garbage collection."""
    if lowering.compiled is None or any(name not in lowering.stages for name in _STORED_STAGES):
        return lowering
    stored = {name: lowering.stages[name] for name in _STORED_STAGES}
    front = FrontStages(module, target, stored, kept={"hl-opt": lowering.modules["hl-opt"]})
    return Lowering(lowering.target, lowering.source, lowering.grad, front, front.modules, lowering.compiled)


class FrontStages(Mapping):
    """`Lowering.stages` of a cache hit: the stored tir and target texts, and the hl..loops stages
    (`.modules` too) recomputed from the hl module by the pipeline's xDSL passes on first use.
    `kept`: stage modules at hand (not recomputed); the hl stage is the hl module itself (no passes)."""

    def __init__(
        self,
        module: ModuleOp,
        target: str | dict | Target,
        stored: dict[str, str],
        kept: Mapping[str, ModuleOp] | None = None,
    ):
        self._module = module.clone()
        self._target = target
        self._stored = dict(stored)
        self._kept = {"hl": self._module, **(kept or {})}
        self._front: Lowering | None = None
        self.modules = _FrontModules(self)

    def module(self, name: str) -> ModuleOp:
        if name not in _FRONT:
            raise KeyError(name)
        if name in self._kept:
            return self._kept[name]
        return self.front().modules[name]

    def front(self) -> Lowering:
        if self._front is None:
            self._front = Pipeline(target=self._target, stop_after=_FRONT[-1]).run(self._module)
        return self._front

    def __getitem__(self, name: str) -> str:
        if name not in self._stored:
            if name in self._kept:
                self._stored[name] = print_module(self._kept[name], locations=name == "hl")
            elif name in _FRONT:
                return self.front().stages[name]
            else:
                raise KeyError(name)
        return self._stored[name]

    def __iter__(self) -> Iterator[str]:
        return iter(STAGE_NAMES)

    def __len__(self) -> int:
        return len(STAGE_NAMES)


class _FrontModules(Mapping):
    """`Lowering.modules` of a cache hit: the hl..loops modules, recomputed on first use."""

    def __init__(self, stages: FrontStages):
        self._stages = stages

    def __getitem__(self, name: str) -> ModuleOp:
        return self._stages.module(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_FRONT)

    def __len__(self) -> int:
        return len(_FRONT)
