"""The `opencl` target: OpenCL C from TVM, launched by irc through pyopencl (`irc.runtime.opencl`).

module = compile_opencl(loops_module)
module.source          # OpenCL C (stage 7, .cl)
(y,) = module(x)       # on the first OpenCL device (PoCL runs it on the CPU)
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp

from irc.runtime.opencl import OpenCLDevice
from irc.targets.gpu import GPUModule, compile_gpu, gpu_target


def compile_opencl(module: ModuleOp, target: str | dict = "opencl") -> GPUModule:
    """Compile a loops-stage module to OpenCL kernels and their execution plans."""
    program = compile_gpu(module, gpu_target(target))
    return GPUModule(program, "cl", lambda: OpenCLDevice(program.source))
