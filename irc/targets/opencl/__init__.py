"""The `opencl` target: OpenCL C from TVM, launched by irc through pyopencl (irc.runtime.opencl).

`codegen.py` generates the code (TVM: this module imports it when a method needs it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irc.targets.kinds import GPUTarget, Step, import_tvm, register, untimed

if TYPE_CHECKING:
    from xdsl.dialects.builtin import ModuleOp

    from irc.runtime.package import Package
    from irc.targets.gpu_module import GPUModule, GPUProgram


@register
class OpenCLTarget(GPUTarget):
    """OpenCL C through TVM, launched by irc through pyopencl (irc.runtime.opencl)."""

    kind = "opencl"
    codegen_module = "irc.targets.opencl.codegen"
    device = "opencl"

    def compile(self, module: ModuleOp, schedule: bool = True, step: Step = untimed) -> GPUModule:
        import_tvm()
        from irc.targets.opencl.codegen import compile_opencl

        with step("target", "opencl-build"):
            return compile_opencl(module, self.tvm_target(), self.matmul_tile)

    def gpu_module(self, program: GPUProgram, loaded: Package) -> GPUModule:
        from irc.targets.opencl.module import opencl_module

        return opencl_module(program)
