"""The `cuda` target: CUDA C from TVM, compiled to a cubin by nvcc (or NVRTC), run by `irc.runtime.cuda`.

    target({"kind": "cuda", "arch": "sm_90"})
    target("cuda").resolve()        # the arch of GPU 0 (`device_arch`)
    target({"kind": "cuda", "arch": "sm_90", "tf32": True})   # float32 matmuls on TF32 tensor cores

`binary.py` builds cubins (no TVM; its functions are this package's too), `codegen.py` generates
the code (TVM: this module imports it when a method needs it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from irc.errors import CompileError, InputError, IRCError
from irc.runtime.cuda import compute_capability
from irc.runtime.kinds import RUNTIME_KINDS
from irc.targets.cuda.binary import (
    TF32_MIN_SM,
    cubin,
    cuda_include_paths,
    fix_vector_alignment,
    nvcc_cubin,
    nvrtc_available,
    nvrtc_cubin,
    resource_usage,
    sm_version,
)
from irc.targets.kinds import GPUTarget, Step, Target, import_tvm, register, untimed

if TYPE_CHECKING:
    import tvm
    from xdsl.dialects.builtin import ModuleOp

    from irc.runtime.package import Package
    from irc.targets.cuda.module import CUDAModule
    from irc.targets.gpu_module import GPUProgram


def device_arch() -> str:
    """The arch (`sm_90`) of GPU device 0: what a cuda target without an `arch` compiles for.

    A CompileError when there is no GPU (or driver) to ask.
    """
    try:
        return compute_capability()
    except IRCError as e:
        raise CompileError(
            "target cuda needs an arch, e.g. {'kind': 'cuda', 'arch': 'sm_90'}: no GPU found to take it from"
        ) from e


@register
class CUDATarget(GPUTarget):
    """CUDA C through TVM; `{"kind": "cuda", "arch": "sm_90"}`, `"cuda"` takes the arch of GPU 0.

    Option `"tf32"` (bool): float32 matmuls whose shapes fit a tile run on TF32 tensor cores (sm_80+,
    `irc.targets.cuda.tensor_core`); PyTorch's `allow_tf32`. Where a spec does not say, `resolve` adds
    `"tf32": True` for sm_80+ while `allow_tf32` is set, so the switch in effect when a function is compiled
    is part of its target and of the compile cache's key."""

    kind = "cuda"
    codegen_module = "irc.targets.cuda.codegen"
    device = "cuda"
    own_options = ("matmul", "tf32")

    #: whether float32 matmuls may use TF32 tensor cores where a spec has no "tf32": PyTorch's switches
    #: (`irc.backends.cuda.matmul.allow_tf32`, `irc.set_float32_matmul_precision`) set it; off by default
    allow_tf32: ClassVar[bool] = False

    def __init__(self, spec: str | dict):
        super().__init__(spec)
        if not isinstance(self.options.get("tf32", False), bool):
            raise InputError(f"target cuda: option 'tf32' is True or False, got {self.options['tf32']!r}")

    @property
    def tf32(self) -> bool:
        """Whether the code uses TF32 tensor cores (option "tf32" on sm_80+)."""
        return self.options.get("tf32", False) and sm_version(self.options.get("arch", "")) >= TF32_MIN_SM

    def _adds_tf32(self, arch: str) -> bool:
        return "tf32" not in self.options and type(self).allow_tf32 and sm_version(arch) >= TF32_MIN_SM

    @property
    def resolved(self) -> bool:
        return "arch" in self.options and not self._adds_tf32(self.options["arch"])

    def resolve(self) -> Target:
        if self.resolved:
            return self
        arch = self.options.get("arch") or device_arch()
        tf32 = {"tf32": True} if self._adds_tf32(arch) else {}
        return CUDATarget({"kind": "cuda", **self.options, "arch": arch, **tf32})

    def tvm_target(self) -> tvm.target.Target:
        if "arch" not in self.options:  # TVM would silently generate sm_50 code
            raise CompileError(
                "target cuda needs an explicit GPU architecture: {'kind': 'cuda', 'arch': 'sm_90'} "
                "(irc compile --target cuda --cuda-arch sm_90)"
            )
        return super().tvm_target()

    def compile(self, module: ModuleOp, schedule: bool = True, step: Step = untimed) -> CUDAModule:
        import_tvm()
        from irc.targets.cuda.codegen import compile_cuda

        with step("target", "cuda-build"):
            # no arch (`compile_loops(m, "cuda")`): GPU 0's
            resolved = self.resolve()
            return compile_cuda(module, resolved.tvm_target(), self.matmul_tile, tf32=resolved.tf32)

    def gpu_module(self, program: GPUProgram, loaded: Package) -> CUDAModule:
        from irc.targets.cuda.module import CUDAModule

        module = CUDAModule(program, loaded.target["arch"])
        module.cubin = loaded.members[RUNTIME_KINDS[self.kind].binary_file]
        return module


__all__ = [
    "CUDATarget",
    "cubin",
    "cuda_include_paths",
    "device_arch",
    "fix_vector_alignment",
    "nvcc_cubin",
    "nvrtc_available",
    "nvrtc_cubin",
    "resource_usage",
    "sm_version",
]
