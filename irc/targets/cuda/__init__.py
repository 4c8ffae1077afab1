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


#: the matmul tile of a cuda target without a "matmul" option: irc's `coalesced` schedule with 16x16
#: threads of 4x4 outputs twice over (virtual threads along j: a block computes 64x128 outputs, and the
#: float4 shared-memory reads of neighbouring threads are 16 bytes apart, free of bank conflicts). On an
#: H200 it ran `a @ b` in float32 at 0.93-0.99x of torch at 1024 and 0.79-0.81x at 4096, where dlight's
#: default tile (8x16 threads of 4x4, k-major copies, scalar reads) ran at 0.59x and 0.38x. A matmul whose output
#: takes fewer than 64 such blocks (half the H200's 132 SMs; 512 x 512 takes 32) keeps dlight's smaller
#: default tile: there it ran 512 and 256 at 0.98x and 1.26x of torch, this tile at 0.71x and 0.98x
#: (docs/gpu.md)
DEFAULT_MATMUL_TILE = {
    "block_size_x": 16, "block_size_y": 16, "micro_size_x": 4, "micro_size_y": 4, "vthread_y": 2,
    "vector_size": 4, "coalesced": 1, "min_tiles": 64,
}  # fmt: skip


@register
class CUDATarget(GPUTarget):
    """CUDA C through TVM; `{"kind": "cuda", "arch": "sm_90"}`, `"cuda"` takes the arch of GPU 0.

    Option `"matmul"` (GPUTarget's): without it, `DEFAULT_MATMUL_TILE`.

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
    def matmul_tile(self) -> dict[str, int]:
        """The "matmul" option (its fields over dlight's defaults), else `DEFAULT_MATMUL_TILE`;
        `{"coalesced": 0}` asks for dlight's own default tile."""
        return self.options.get("matmul", DEFAULT_MATMUL_TILE)

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
