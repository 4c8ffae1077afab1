"""`Target`: one object per target kind, built from the `str | dict` spellings users write.

    >>> t = target({"kind": "cuda", "arch": "sm_90"})
    >>> t.kind, t.device, t.options
    ('cuda', 'cuda', {'arch': 'sm_90'})
    >>> target("llvm").spec
    'llvm'

Constructing a target imports no TVM (the runtime and the eager interpreter tier stay TVM-free):
TVM is imported by the methods that need it (`compile`, `tvm_target`, a bare cuda's `resolve`).
`TARGETS` maps kind names to classes; adding a target is a class here (docs/targets.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar

from irc.errors import InputError
from irc.runtime import package
from irc.runtime.compiled import CompiledModule, SharedLibrary
from irc.runtime.host import host_cpu
from irc.runtime.imports import import_without_torch

if TYPE_CHECKING:
    from xdsl.dialects.builtin import ModuleOp

    from irc.runtime.package import Package
    from irc.targets.gpu import GPUModule, GPUProgram

#: `step(stage, name)`: a context around one step of code generation (the pipeline times them)
Step = Callable[[str, str], AbstractContextManager]


def untimed(stage: str, name: str) -> AbstractContextManager:
    """The `step` of a compile nobody times."""
    return nullcontext()


def _import_tvm() -> None:
    """Import TVM without PyTorch (irc.runtime.imports) before a targets module imports it."""
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

    def tvm_target(self):
        """The `tvm.target.Target` (imports TVM)."""
        raise InputError(f"target {self.kind} generates no code")

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


class LLVMTarget(Target):
    """The host CPU through TVM's LLVM backend (`{"kind": "llvm", "mcpu": ...}` picks another CPU)."""

    kind = "llvm"

    def key_material(self) -> dict:
        return {"target": self.spec, "cpu": host_cpu()}

    def tvm_target(self):
        _import_tvm()
        from irc.targets.llvm import resolve_target

        return resolve_target(self.spec)

    def compile(self, module: ModuleOp, schedule: bool = True, step: Step = untimed):
        _import_tvm()
        from irc.targets.compile import compile_llvm

        return compile_llvm(module, self.tvm_target(), schedule, step)

    def from_package(self, loaded: Package, stages: dict[str, str], notes: list[str], schedules: dict):
        kernels = {name: entry.run for name, entry in loaded.entries.items()}  # the library, through tvm_ffi
        library = SharedLibrary(loaded.members[package.KERNEL_FILES[self.kind]], loaded.target)
        return CompiledModule(stages["tir"], stages["target"], "ll", kernels, notes, library)


class GPUTarget(Target):
    """A target whose code runs on a GPU: inputs and outputs are `DeviceArray`s on `device`."""

    def run(self, lowering: Callable[..., Sequence], values: Sequence) -> Sequence:
        return lowering.compiled.run_device(*values)

    def tvm_target(self):
        _import_tvm()
        from irc.targets.gpu import gpu_target

        return gpu_target(self.spec)

    def from_package(self, loaded: Package, stages: dict[str, str], notes: list[str], schedules: dict):
        _import_tvm()  # GPUModule and its program import TVM (docs/cache.md)
        from irc.targets.gpu import GPUProgram

        plans = {e["name"]: package.entry_plan(e, loaded.members) for e in loaded.manifest["entries"]}
        source = loaded.members[package.KERNEL_FILES[self.kind]].decode()
        return self.gpu_module(GPUProgram(stages["tir"], source, plans, schedules), loaded)

    def gpu_module(self, program: GPUProgram, loaded: Package) -> GPUModule:
        """The GPUModule of a `GPUProgram` read back from the package `loaded`."""
        raise NotImplementedError


class CUDATarget(GPUTarget):
    """CUDA C through TVM; `{"kind": "cuda", "arch": "sm_90"}`, `"cuda"` takes the arch of GPU 0."""

    kind = "cuda"
    device = "cuda"

    @property
    def resolved(self) -> bool:
        return "arch" in self.options

    def resolve(self) -> Target:
        if self.resolved:
            return self
        _import_tvm()
        from irc.targets.cuda import device_arch

        return CUDATarget({"kind": "cuda", **self.options, "arch": device_arch()})

    def compile(self, module: ModuleOp, schedule: bool = True, step: Step = untimed):
        _import_tvm()
        from irc.targets.cuda import compile_cuda

        with step("target", "cuda-build"):
            return compile_cuda(module, self.resolve().spec)  # no arch (`compile_loops(m, "cuda")`): GPU 0's

    def gpu_module(self, program: GPUProgram, loaded: Package) -> GPUModule:
        from irc.targets.cuda import CUDAModule

        module = CUDAModule(program, loaded.target["arch"])
        module.cubin = loaded.members[package.CUBIN]
        return module


class OpenCLTarget(GPUTarget):
    """OpenCL C through TVM, launched by irc through pyopencl (irc.runtime.opencl)."""

    kind = "opencl"
    device = "opencl"

    def compile(self, module: ModuleOp, schedule: bool = True, step: Step = untimed):
        _import_tvm()
        from irc.targets.opencl import compile_opencl

        with step("target", "opencl-build"):
            return compile_opencl(module, self.spec)

    def gpu_module(self, program: GPUProgram, loaded: Package) -> GPUModule:
        from irc.runtime.opencl import OpenCLDevice
        from irc.targets.gpu import GPUModule

        return GPUModule(program, "cl", lambda: OpenCLDevice(program.source))


class RefTarget(Target):
    """No code: the pipeline stops after hl-opt and runs the hl numpy reference."""

    kind = "ref"
    compiles = False


#: kind name -> Target class, in `--target` order
TARGETS: dict[str, type[Target]] = {cls.kind: cls for cls in (LLVMTarget, CUDATarget, OpenCLTarget, RefTarget)}


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
    """The target code for tensors on `device` ("cpu", "cuda", "opencl") compiles for; `.resolve()`
    it to compile (a bare `"cuda"` takes the arch of GPU 0)."""
    if device == "cpu":
        return LLVMTarget("llvm")
    return next(cls for cls in TARGETS.values() if cls.device == device)(device)
