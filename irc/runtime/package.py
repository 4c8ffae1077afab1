"""Compiled packages (`.ircpkg`): a model compiled once, run without the compiler.

    save(lowering, "mlp.ircpkg")               # or: irc compile mlp.py --target opencl -o mlp.ircpkg
    model = irc.runtime.load("mlp.ircpkg")
    model.inputs, model.outputs                 # [Spec(shape, dtype, name)] of the first entry
    (probs,) = model(x, w1, b1, w2, b2)         # or model(x=x, w1=w1, ...); model.entry("mlp_grad")

A package is a zip file: `header.json` (format, version and the SHA-256 of
every other member), `manifest.json` (target, entries with their inputs,
outputs, constants and, for GPU targets, execution plans), the kernels
(`kernels.so` for llvm, `kernels.cl`, `kernels.cu` + `kernels.cubin` for GPUs:
each kind's members are named in irc.runtime.kinds) and the constants as
`.npy` files. docs/packages.md describes the layout.

`load` checks the format version, the member list and every member's hash
(the manifest's included) before anything runs. Running a cuda or opencl package imports neither xDSL nor TVM; an llvm
package needs TVM's runtime library only (loaded through tvm_ffi).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import os
import platform
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import irc
from irc.errors import InputError, IRCError
from irc.runtime.dtypes import load_npy
from irc.runtime.entry import entry_name, select_entry
from irc.runtime.executor import Kernel
from irc.runtime.files import atomic_file
from irc.runtime.host import configure_tvm_threads, missing_features
from irc.runtime.imports import import_without_torch
from irc.runtime.kinds import RUNTIME_KINDS, RuntimeKind
from irc.runtime.plan import DeviceArray, ExecutionPlan, PlanRunner
from irc.runtime.spec import Spec

FORMAT = "irc-package"
VERSION = 2
SUFFIX = ".ircpkg"
HEADER = "header.json"
MANIFEST = "manifest.json"
EXTRA = "extra/"  # members a writer adds for itself (the compile cache: extra/cache.json)
STATE = "state/"  # a step package's initial state: state/<entry>/<name>.npy (JitFunction.save)
# LLVM feature-name prefixes a CPU of the same architecture may lack (code using them dies with SIGILL)


class Entry:
    """One compiled function of a package: `entry(*arrays, **named) -> tuple of numpy arrays`.

    `to_device(array)` and `run_device(*values)` run it with inputs and outputs on the package's
    device (`DeviceArray`s on cuda / opencl, numpy arrays for llvm): no host copies. `stats()`: what its
    plan runner counted (`irc.runtime.plan.PlanRunner.stats`: kernel-by-kernel calls, CUDA graphs built
    and launched), {} for llvm.
    """

    def __init__(
        self,
        name: str,
        inputs: list[Spec],
        outputs: list[Spec],
        run: Callable,
        run_device: Callable | None = None,
        to_device: Callable | None = None,
        stats: Callable[[], dict] | None = None,
    ):
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.run = run  # runs inputs already bound and checked (llvm: the entry's Kernel)
        self.run_device = run_device or run
        self.to_device = to_device or functools.partial(np.asarray, order="C")
        self._stats = stats

    def stats(self) -> dict:
        return self._stats() if self._stats is not None else {}

    def bind(self, args: Sequence, kwargs: dict) -> list[np.ndarray]:
        """The inputs in order, from positional then named arguments, checked against their specs."""
        names = [s.name for s in self.inputs]
        if len(args) > len(names):
            raise IRCError(f"{self.name} takes {len(names)} inputs ({', '.join(names)}), got {len(args)}")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise IRCError(f"{self.name}: no input named '{name}'; the inputs are {', '.join(names)}")
            if name in values:
                raise IRCError(f"{self.name}: input '{name}' given twice")
            values[name] = value
        missing = [n for n in names if n not in values]
        if missing:
            raise IRCError(f"{self.name}: missing input {', '.join(missing)} (inputs: {', '.join(names)})")
        return [_check_input(self.name, spec, values[spec.name]) for spec in self.inputs]

    def __call__(self, *args, **kwargs) -> tuple[np.ndarray, ...]:
        return tuple(self.run(*self.bind(args, kwargs)))

    def __repr__(self) -> str:
        return f"Entry({self.name}: ({', '.join(map(str, self.inputs))}) -> ({', '.join(map(str, self.outputs))}))"


def _check_input(entry: str, spec: Spec, value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind in "OUS":  # None, a str, another object: no numbers
        raise IRCError(
            f"{entry}: input {spec.name} is a {type(value).__name__} of dtype {array.dtype}, not an array of numbers; "
            f"the package expects {spec.shape} {spec.dtype}"
        )
    if array.shape != spec.shape:
        raise IRCError(f"{entry}: input {spec.name} has shape {array.shape}, the package expects {spec.shape}")
    if array.dtype != spec.dtype:
        if not np.can_cast(array.dtype, spec.dtype, casting="same_kind"):
            raise IRCError(f"{entry}: input {spec.name} has dtype {array.dtype}, the package expects {spec.dtype}")
        if spec.dtype.kind in "iu" and array.size and not np.can_cast(array.dtype, spec.dtype):
            _check_int_range(entry, spec, array)  # a wider or unsigned source: a value may not fit
        array = array.astype(spec.dtype)
    return array


def _check_int_range(entry: str, spec: Spec, array: np.ndarray) -> None:
    """Refuse integers the input's dtype cannot hold (int64 2**40 as int32 would wrap around silently)."""
    info = np.iinfo(spec.dtype)
    low, high = int(array.min()), int(array.max())
    if low < info.min or high > info.max:
        raise IRCError(
            f"{entry}: input {spec.name} ({array.dtype}) holds {low if low < info.min else high}, which the "
            f"package's {spec.dtype} cannot hold ({info.min} .. {info.max})"
        )


class Package:
    """A loaded package. Calling it runs the first entry; `entry(name)` gives another.

    `members`: every member's bytes, as verified against header.json (`extra/...` included).
    """

    def __init__(self, path: Path, manifest: dict, entries: dict[str, Entry], members: dict[str, bytes]):
        self.path = path
        self.manifest = manifest
        self.target = manifest["target"]
        self.entries = entries
        self.members = members

    def entry(self, name: str | None = None) -> Entry:
        return select_entry(self.entries, name, str(self.path))

    @property
    def inputs(self) -> list[Spec]:
        return self.entry().inputs

    @property
    def outputs(self) -> list[Spec]:
        return self.entry().outputs

    def __call__(self, *args, **kwargs) -> tuple[np.ndarray, ...]:
        return self.entry()(*args, **kwargs)

    def step_runner(self, name: str | None = None, seed: int | None = None):
        """A `StepRunner` of a step package's entry (`JitFunction.save`): calls feed and update its state."""
        from irc.runtime.step import StepRunner

        return StepRunner(self, name, seed)

    def __repr__(self) -> str:
        return f"Package({str(self.path)!r}, target={self.target}, entries={list(self.entries.values())})"


# ----------------------------------------------------------------------------- save


def save(
    compiled,
    path: str | os.PathLike,
    input_names: Sequence[str] | None = None,
    extra: dict[str, bytes] | None = None,
    output_names: Sequence[str] | None = None,
    step: dict | None = None,
) -> Path:
    """Write `compiled` (a pipeline `Lowering`, an llvm `CompiledModule` or a `GPUModule`) as a package at `path`.

    Input names come from `input_names` (the first entry's), else the hl functions' argument names;
    output names from `output_names` (the first entry's), else `out0, out1, ...`.
    `extra` adds members `extra/NAME` for the writer's own use (hashed like the others; loading ignores them).
    `step` makes the first entry a step (`JitFunction.save`, docs/packages.md): {"inputs": explicit inputs,
    "outputs": the function's own outputs, "updates": [[output, input], ...], "state": {input name: initial
    numpy value}}; the initial values become members `state/<entry>/<name>.npy`.
    The file is written to a temp file beside `path` and renamed into place.
    """
    module = getattr(compiled, "compiled", compiled)  # a Lowering holds the compiled module
    if module is None:
        raise IRCError("nothing to package: the pipeline stopped before code generation (or ran target ref)")
    names = _argument_names(getattr(compiled, "modules", {}))
    first = entry_name(list(_functions(module)))
    if input_names is not None:
        names[first] = list(input_names)
    kind = RUNTIME_KINDS[module.kind]
    contents = _gpu_contents if kind.open_device else _llvm_contents
    target, entries, members = contents(module, kind, names)
    if output_names is not None:
        for spec, name in zip(entries[0]["outputs"], output_names, strict=True):
            spec["name"] = name
    if step is not None:
        files = {name: f"{STATE}{first}/{name}.npy" for name in step["state"]}
        members.update({files[name]: npy_bytes(value) for name, value in step["state"].items()})
        entries[0]["step"] = {**step, "state": files}
    members = {MANIFEST: json.dumps({"target": target, "entries": entries}, indent=1).encode(), **members}
    members.update({f"{EXTRA}{name}": data for name, data in (extra or {}).items()})
    header = {
        "format": FORMAT,
        "version": VERSION,
        "irc_version": irc.__version__,
        "members": {name: _sha256(data) for name, data in members.items()},
    }
    return _write_zip(Path(path), {HEADER: json.dumps(header, indent=1).encode(), **members})


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _functions(module) -> dict:
    """function name -> its plan (cuda, opencl) or kernel (llvm), in module order."""
    return module.plans if hasattr(module, "plans") else module.kernels


def _argument_names(modules: dict) -> dict[str, list[str | None]]:
    """func name -> its argument names in the hl-opt module (None where an argument has no name)."""
    module = modules.get("hl-opt") or modules.get("hl")
    if module is None:
        return {}
    return {
        op.sym_name.data: [arg.name_hint for arg in op.body.block.args] for op in module.ops if hasattr(op, "sym_name")
    }


def _specs(names: Sequence[str | None], types: Sequence[tuple], prefix: str) -> list[dict]:
    return [
        Spec(shape, dtype, (names[i] if i < len(names) else None) or f"{prefix}{i}").to_json()
        for i, (shape, dtype) in enumerate(types)
    ]


def npy_bytes(array: np.ndarray) -> bytes:
    """`array` as the bytes of a `.npy` file (C order, no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, order="C"), allow_pickle=False)
    return buffer.getvalue()


def _llvm_contents(module, kind: RuntimeKind, names: dict) -> tuple[dict, list[dict], dict[str, bytes]]:
    if module.executable is None:
        raise IRCError("nothing to package: the kernels were not linked as a shared library (no C compiler?)")
    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / kind.kernel_file
        module.executable.export_library(str(library))
        members = {library.name: library.read_bytes()}
    entries = []
    for name, kernel in module.kernels.items():
        constants = {f"c{i}": f"constants/{name}/c{i}.npy" for i in range(len(kernel.constants))}
        members.update({file: npy_bytes(c) for file, c in zip(constants.values(), kernel.constants)})
        entries.append(
            {
                "name": name,
                "inputs": _specs(names.get(name, []), kernel.inputs, "arg"),
                "outputs": _specs([], kernel.outputs, "out"),
                "constants": constants,
            }
        )
    return module.executable.target, entries, members


def _gpu_contents(module, kind: RuntimeKind, names: dict) -> tuple[dict, list[dict], dict[str, bytes]]:
    members = {kind.kernel_file: module.source.encode()}
    if kind.binary_file:
        members[kind.binary_file] = module.binary()
    entries = []
    for name, plan in module.plans.items():
        constants = {c: f"constants/{name}/{c}.npy" for c in plan.constants}
        members.update({constants[c]: npy_bytes(array) for c, array in plan.constants.items()})
        bare = ExecutionPlan(plan.entry, plan.inputs, plan.outputs, plan.buffers, plan.launches)
        buffers = [plan.buffer(b) for b in plan.inputs], [plan.buffer(b) for b in plan.outputs]
        entries.append(
            {
                "name": name,
                "inputs": _specs(names.get(name) or plan.inputs, [(b.shape, b.dtype) for b in buffers[0]], "arg"),
                "outputs": _specs([], [(b.shape, b.dtype) for b in buffers[1]], "out"),
                "constants": constants,
                "plan": json.loads(bare.to_json()),
            }
        )
    return module.target, entries, members


def _write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with atomic_file(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


# ----------------------------------------------------------------------------- load


def load(path: str | os.PathLike) -> Package:
    """Open and verify a package (format version, member list and hashes, target); the device opens on the first run."""
    path = Path(path)
    members = _read_members(path)
    _verify_members(path, _read_header(path, members), members)
    manifest = _read_json(path, MANIFEST, members[MANIFEST])
    try:
        kind = RUNTIME_KINDS[manifest["target"]["kind"]]
        entries = (_gpu_entries if kind.open_device else _llvm_entries)(path, kind, manifest, members)
    except (KeyError, TypeError, ValueError) as e:
        raise IRCError(f"{path}: corrupt package: malformed manifest ({type(e).__name__}: {e})") from e
    return Package(path, manifest, entries, members)


def _read_members(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            members = {info.filename: archive.read(info) for info in infos}
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as e:
        # NotImplementedError: a damaged header naming a compression method or zip version zipfile lacks
        raise IRCError(f"{path}: corrupt package (truncated or damaged zip file: {e})") from e
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(members) != len(infos):
        raise IRCError(f"{path}: corrupt package: a member name occurs twice")
    return members


def _read_json(path: Path, name: str, data: bytes) -> dict:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IRCError(f"{path}: corrupt package: {name} is not valid JSON ({e})") from e
    if not isinstance(value, dict):
        raise IRCError(f"{path}: corrupt package: {name} is not a JSON object")
    return value


def _read_header(path: Path, members: dict[str, bytes]) -> dict:
    """The header, once its format and version are this irc's (a version 1 package has none: its manifest says)."""
    if HEADER in members:
        header = _read_json(path, HEADER, members[HEADER])
    elif MANIFEST in members:  # version 1 kept format and version in the manifest
        header = _read_json(path, MANIFEST, members[MANIFEST])
        if "format" not in header:
            raise IRCError(f"{path}: corrupt package: no {HEADER}")
    else:
        raise IRCError(f"{path}: not an irc package (no {HEADER})")
    if header.get("format") != FORMAT:
        raise IRCError(f"{path}: not an irc package (format is not '{FORMAT}')")
    if header.get("version") != VERSION:
        raise IRCError(
            f"{path}: package format version {header.get('version')} (written by irc "
            f"{header.get('irc_version', '?')}); this irc {irc.__version__} reads version {VERSION}: "
            "rebuild the package with this irc (irc compile ... -o model.ircpkg)"
        )
    return header


def _verify_members(path: Path, header: dict, members: dict[str, bytes]) -> None:
    """The members are exactly those the header lists, manifest included, each with its SHA-256."""
    listed = header.get("members")
    if not isinstance(listed, dict) or not all(isinstance(d, str) for d in listed.values()):
        raise IRCError(f"{path}: corrupt package: {HEADER} has no member list")
    present = set(members) - {HEADER}
    if MANIFEST not in listed:
        raise IRCError(f"{path}: corrupt package: {HEADER} does not list {MANIFEST}")
    if missing := sorted(set(listed) - present):
        raise IRCError(f"{path}: corrupt package: missing members listed in {HEADER}: {', '.join(missing)}")
    if extra := sorted(present - set(listed)):
        raise IRCError(f"{path}: corrupt package: members not listed in {HEADER}: {', '.join(extra)}")
    for name, digest in listed.items():
        if _sha256(members[name]) != digest:
            raise IRCError(f"{path}: corrupt package: {name} does not match its SHA-256 in {HEADER}")


def _entry_specs(entry: dict) -> tuple[list[Spec], list[Spec]]:
    return [Spec.from_json(s) for s in entry["inputs"]], [Spec.from_json(s) for s in entry["outputs"]]


def _constants(entry: dict, members: dict[str, bytes]) -> dict[str, np.ndarray]:
    return {name: load_npy(io.BytesIO(members[file])) for name, file in entry["constants"].items()}


def _llvm_entries(path: Path, kind: RuntimeKind, manifest: dict, members: dict[str, bytes]) -> dict[str, Entry]:
    _check_cpu(path, manifest["target"])
    library = load_library(members[kind.kernel_file])
    entries = {}
    for e in manifest["entries"]:
        inputs, outputs = _entry_specs(e)
        types = [(s.shape, s.dtype) for s in inputs], [(s.shape, s.dtype) for s in outputs]
        kernel = Kernel(library[e["name"]], e["name"], *types, list(_constants(e, members).values()))
        entries[e["name"]] = Entry(e["name"], inputs, outputs, kernel)
    return entries


def _check_cpu(path: Path, target: dict) -> None:
    """Refuse a library built for another architecture, or with vector features this CPU lacks (SIGILL)."""
    arch = (target.get("triple") or "").split("-")[0]
    machine = platform.machine()
    if arch and machine and arch.replace("amd64", "x86_64") != machine.lower().replace("amd64", "x86_64"):
        raise IRCError(f"{path}: compiled for {arch} (llvm target {target['triple']}), this machine is {machine}")
    missing = missing_features(target.get("features", []))
    if missing:
        raise IRCError(
            f"{path}: compiled for CPU {target.get('mcpu')} with {', '.join(missing)}, which this CPU lacks: "
            "recompile the model on this machine"
        )


def load_library(data: bytes):
    """Load the kernels' shared library through tvm_ffi, with TVM's runtime library (its thread pool) loaded."""
    spec = importlib.util.find_spec("tvm")
    if spec is None or importlib.util.find_spec("tvm_ffi") is None:
        raise IRCError("running an llvm package needs TVM's runtime library: pip install apache-tvm")
    configure_tvm_threads()  # read when the pool starts
    tvm_ffi = import_without_torch("tvm_ffi")
    from tvm_ffi.libinfo import load_lib_ctypes

    lib_dir = Path(spec.submodule_search_locations[0]) / "lib"
    load_lib_ctypes("apache-tvm", "tvm_runtime", "RTLD_GLOBAL", extra_lib_paths=[lib_dir])
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / RUNTIME_KINDS["llvm"].kernel_file
        file.write_bytes(data)
        return tvm_ffi.load_module(str(file))  # loaded: the file may go


def _gpu_entries(path: Path, kind: RuntimeKind, manifest: dict, members: dict[str, bytes]) -> dict[str, Entry]:
    code = members[kind.binary_file] if kind.binary_file else members[kind.kernel_file].decode()
    device = functools.cache(functools.partial(kind.open_device, code, manifest["target"], str(path)))
    return {e["name"]: _plan_entry(e, members, device) for e in manifest["entries"]}


def entry_plan(entry: dict, members: dict[str, bytes]) -> ExecutionPlan:
    """The execution plan of a GPU package's manifest entry, with its constants."""
    plan = ExecutionPlan.from_json(json.dumps({**entry["plan"], "constants": {}}))
    plan.constants = _constants(entry, members)
    return plan


def _plan_entry(entry: dict, members: dict[str, bytes], device: Callable) -> Entry:
    """An entry running its plan; the device (shared by the entries) and the plan's buffers open on the first run."""
    plan = entry_plan(entry, members)

    @functools.cache
    def runner() -> PlanRunner:
        return PlanRunner(plan, device())

    def run(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        return runner().run_numpy(*arrays)

    def run_device(*arrays: DeviceArray) -> tuple[DeviceArray, ...]:
        return runner().run(*arrays)

    def to_device(array) -> DeviceArray:
        return array if isinstance(array, DeviceArray) else DeviceArray.from_numpy(device(), np.asarray(array))

    return Entry(entry["name"], *_entry_specs(entry), run, run_device, to_device, lambda: dict(runner().stats))
