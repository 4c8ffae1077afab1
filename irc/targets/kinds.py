"""`Target` and its registry: one `Target` class per kind, built from the `str | dict` spellings users write.

    >>> t = target({"kind": "cuda", "arch": "sm_90"})
    >>> t.kind, t.device, t.options
    ('cuda', 'cuda', {'arch': 'sm_90'})
    >>> target("llvm").spec
    'llvm'

Each kind lives in its own module or folder under `irc/targets/` (`llvm/`, `cuda/`, `opencl/`, `ref.py`)
and registers its class with `@register`; `irc/targets/__init__.py` imports the built-in ones.
Constructing a target imports no TVM (the runtime and the eager interpreter tier stay TVM-free):
a kind's methods that need it (`compile`, `tvm_target`) import its code generator when called
(docs/tutorial-add-a-target.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from irc.errors import InputError
from irc.runtime.imports import import_without_torch
from irc.runtime.kinds import RUNTIME_KINDS
from irc.runtime.package import Package, entry_plan

if TYPE_CHECKING:
    import tvm
    from xdsl.dialects.builtin import ModuleOp

    from irc.targets.gpu_module import GPUModule, GPUProgram

#: `step(stage, name)`: a context around one step of code generation (the pipeline times them)
Step = Callable[[str, str], AbstractContextManager]


def untimed(stage: str, name: str) -> AbstractContextManager:
    """The `step` of a compile nobody times."""
    return nullcontext()


def import_tvm() -> None:
    """Import TVM without PyTorch (irc.runtime.imports): a kind calls it before importing its code generator."""
    import_without_torch("tvm")


class Target:
    """A target kind with its options. `spec` is the spelling it was built from (`"llvm"`,
    `{"kind": "cuda", "arch": "sm_90"}`): what TVM, the cache key and messages see."""

    #: the kind name (`--target NAME`, the registry key)
    kind: ClassVar[str]
    #: where the compiled code runs and its results live: "cpu", "cuda" or "opencl"
    device: ClassVar[str] = "cpu"
    #: False for `ref`: the pipeline stops at hl-opt and runs the numpy reference (nothing to store)
    compiles: ClassVar[bool] = True
    #: a few words for `irc compile --help` ("host CPU"); "" where the kind name says it all
    summary: ClassVar[str] = ""
    #: the module (TVM's side) that `compile` imports; "" for a kind that generates no code
    codegen_module: ClassVar[str] = ""

    def __init__(self, spec: str | dict):
        self.spec = spec
        self.options: dict[str, Any] = {k: v for k, v in spec.items() if k != "kind"} if isinstance(spec, dict) else {}

    def __repr__(self) -> str:
        return f"target({self.spec!r})"

    @property
    def resolved(self) -> bool:
        """Whether every option the compile needs is set (`resolve` fills the missing ones)."""
        return True

    def resolve(self) -> Target:
        """This target with the defaults that depend on the machine filled in (cuda: the arch of GPU 0)."""
        return self

    def key_material(self) -> dict:
        """What the compiled code depends on besides the program and the versions (irc.compiler.cache)."""
        return {"target": self.spec, "cpu": None}

    def tvm_target(self) -> tvm.target.Target:
        """The `tvm.target.Target` (imports TVM)."""
        raise InputError(f"target {self.kind} generates no code")

    def preload(self) -> None:
        """Import the code generator `compile` will use (TVM and `codegen_module`), ahead of a first compile."""
        if self.codegen_module:
            import_tvm()
            importlib.import_module(self.codegen_module)

    def compile(self, module: ModuleOp, schedule: bool = True, step: Step = untimed):
        """Compile a loops-stage module: a `CompiledModule` (llvm) or a `GPUModule` (cuda, opencl)."""
        raise InputError(f"target {self.kind} generates no code")

    def run(self, lowering: Callable[..., Sequence], values: Sequence) -> Sequence:
        """Run compiled code (a `Lowering` or a package entry) on values on this target's device."""
        return lowering(*values)

    def from_package(self, loaded: Package, stages: dict[str, str], notes: list[str], schedules: dict):
        """The compiled module a package of this target holds, as `compile` made it (a compile cache hit):
        `stages` has the `tir` and `target` texts, `notes` the schedule notes, `schedules` a GPU program's."""
        raise InputError(f"target {self.kind} generates no code")


#: the fields of TVM dlight's `Matmul.Config` a GPU target's "matmul" option may set (irc.targets.gpu), and
#: irc's `pipeline_stages` (shared-memory buffers per operand tile: 2 loads the next k-step's tiles while
#: the current ones are multiplied; 1, the default, is dlight's schedule) and `coalesced` (1: copy each
#: operand tile along the operand's contiguous axis; 0, the default, is dlight's copy along k) and
#: `min_tiles` (a matmul whose output takes fewer blocks of the tile gets dlight's default tile; 0: never)
MATMUL_TILE_FIELDS = (
    "block_size_x", "block_size_y", "vthread_x", "vthread_y", "micro_size_x", "micro_size_y", "micro_size_k",
    "vector_size", "unroll", "pipeline_stages", "coalesced", "min_tiles",
)  # fmt: skip
#: the most `pipeline_stages` a tile may ask for
MAX_PIPELINE_STAGES = 4


class GPUTarget(Target):
    """A target whose code runs on a GPU through execution plans (irc.targets.gpu): inputs and outputs
    are `DeviceArray`s on `device`. A kind implements `compile` and `gpu_module`.

    Option `"matmul"`: the tile of the matmul schedule (TVM dlight's `Matmul.Config` fields and irc's
    `pipeline_stages` in `MATMUL_TILE_FIELDS`, e.g. `{"block_size_x": 16, "block_size_y": 16, "micro_size_x": 8,
    "micro_size_y": 8}`), over dlight's defaults for the kind; for tuning on a GPU
    (`benchmarks/gpu_packages.py build --matmul-tiles`, docs/gpu.md)."""

    #: the options that are irc's, not TVM's (`tvm_target` leaves them out)
    own_options: ClassVar[tuple[str, ...]] = ("matmul",)

    def __init__(self, spec: str | dict):
        super().__init__(spec)
        if "tf32" in self.options and "tf32" not in self.own_options:
            raise InputError(f"target {self.kind}: option 'tf32' is for cuda targets (TF32 tensor cores)")
        tile = self.options.get("matmul")
        if tile is None:
            return
        if not isinstance(tile, dict) or not tile:
            raise InputError(f"target {self.kind}: option 'matmul' takes a dict of {', '.join(MATMUL_TILE_FIELDS)}")
        for key, value in tile.items():
            if key not in MATMUL_TILE_FIELDS:
                raise InputError(
                    f"target {self.kind}: matmul tile field {key!r} is not one of {', '.join(MATMUL_TILE_FIELDS)}"
                )
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value < (0 if key in ("unroll", "coalesced", "min_tiles") else 1)
            ):
                raise InputError(
                    f"target {self.kind}: matmul tile field {key!r} must be a positive integer, got {value!r}"
                )
        if tile.get("coalesced", 0) not in (0, 1):
            raise InputError(f"target {self.kind}: matmul tile field 'coalesced' is 0 or 1, got {tile['coalesced']}")
        if tile.get("pipeline_stages", 1) > MAX_PIPELINE_STAGES:
            raise InputError(
                f"target {self.kind}: matmul tile field 'pipeline_stages' is at most {MAX_PIPELINE_STAGES},"
                f" got {tile['pipeline_stages']}"
            )

    @property
    def matmul_tile(self) -> dict[str, int] | None:
        """The "matmul" option: dlight Matmul config fields over its defaults, or None."""
        return self.options.get("matmul")

    def run(self, lowering: Callable[..., Sequence], values: Sequence) -> Sequence:
        return lowering.compiled.run_device(*values)

    def tvm_target(self) -> tvm.target.Target:
        """The TVM target of `spec` (without irc's own options), host llvm."""
        import_tvm()
        import tvm

        spec = self.spec
        if isinstance(spec, dict):
            spec = {k: v for k, v in spec.items() if k not in self.own_options}
        return tvm.target.Target(spec, host="llvm")

    def from_package(self, loaded: Package, stages: dict[str, str], notes: list[str], schedules: dict):
        from irc.targets.gpu_module import GPUProgram  # without TVM: a hit imports none (docs/cache.md)

        plans = {e["name"]: entry_plan(e, loaded.members) for e in loaded.manifest["entries"]}
        source = loaded.members[RUNTIME_KINDS[loaded.target["kind"]].kernel_file].decode()
        return self.gpu_module(GPUProgram(stages["tir"], source, plans, schedules), loaded)

    def gpu_module(self, program: GPUProgram, loaded: Package) -> GPUModule:
        """The GPUModule of a `GPUProgram` read back from the package `loaded`."""
        raise NotImplementedError


#: kind name -> Target class, in `--target` order (the order `irc/targets/__init__.py` registers them)
TARGETS: dict[str, type[Target]] = {}

T = TypeVar("T", bound=type[Target])


def register(cls: T) -> T:
    """Class decorator: make `cls` the Target of its `kind` (`--target`, `irc.jit(target=...)`)."""
    if cls.kind in TARGETS:
        raise ValueError(f"target kind {cls.kind!r} is registered twice ({TARGETS[cls.kind].__name__}, {cls.__name__})")
    TARGETS[cls.kind] = cls
    return cls


def target(spec: str | dict | Target) -> Target:
    """The Target of a spelling: `"llvm"`, `{"kind": "llvm", "mcpu": ...}`, `"cuda"`,
    `{"kind": "cuda", "arch": "sm_90"}`, `"opencl"`, `"ref"` (a Target is returned as is)."""
    if isinstance(spec, Target):
        return spec
    kind = spec.get("kind") if isinstance(spec, dict) else spec
    cls = TARGETS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InputError(f"unknown target '{kind}'; the targets are {', '.join(TARGETS)}")
    return cls(spec)


def for_device(device: str) -> Target:
    """The target code for tensors on `device` ("cpu", "cuda", "opencl") compiles for: the first
    registered kind on that device that compiles. `.resolve()` it to compile (a bare `"cuda"` takes
    the arch of GPU 0)."""
    cls = next(cls for cls in TARGETS.values() if cls.device == device and cls.compiles)
    return cls(cls.kind)
