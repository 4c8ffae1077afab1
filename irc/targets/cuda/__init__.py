"""The `cuda` target: CUDA C from TVM, compiled to a cubin by nvcc (or NVRTC), run by `irc.runtime.cuda`.

    target({"kind": "cuda", "arch": "sm_90"})
    target("cuda").resolve()        # the arch of GPU 0 (`device_arch`)

`binary.py` builds cubins (no TVM; its functions are this package's too), `codegen.py` generates
the code (TVM: this module imports it when a method needs it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irc.errors import CompileError, IRCError
from irc.runtime.cuda import compute_capability
from irc.runtime.kinds import RUNTIME_KINDS
from irc.targets.cuda.binary import (
    cubin,
    cuda_include_paths,
    fix_vector_alignment,
    nvcc_cubin,
    nvrtc_available,
    nvrtc_cubin,
    resource_usage,
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
    """CUDA C through TVM; `{"kind": "cuda", "arch": "sm_90"}`, `"cuda"` takes the arch of GPU 0."""

    kind = "cuda"
    codegen_module = "irc.targets.cuda.codegen"
    device = "cuda"

    @property
    def resolved(self) -> bool:
        return "arch" in self.options

    def resolve(self) -> Target:
        if self.resolved:
            return self
        return CUDATarget({"kind": "cuda", **self.options, "arch": device_arch()})

    def tvm_target(self) -> tvm.target.Target:
        if not self.resolved:  # TVM would silently generate sm_50 code
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
            return compile_cuda(module, self.resolve().tvm_target(), self.matmul_tile)

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
]
