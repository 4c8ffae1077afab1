"""The `opencl` target: OpenCL C from TVM, launched by irc through pyopencl (`irc.runtime.opencl`).

module = compile_opencl(loops_module)
module.source          # OpenCL C (stage 7, .cl)
(y,) = module(x)       # on the first OpenCL device (PoCL runs it on the CPU)
"""

from __future__ import annotations

import tvm
from xdsl.dialects.builtin import ModuleOp

from irc.runtime.opencl import OpenCLDevice
from irc.targets.gpu import GPUModule, compile_gpu, gpu_target


def _lower_copysign(call: tvm.tirx.Call) -> tvm.tirx.PrimExpr:
    return tvm.tirx.call_pure_extern(str(call.ty.dtype), "copysign", *call.args)


# TVM 0.27 lowers `tirx.copysign` to C's `copysignf` for float32, which OpenCL C does not have
# (its `copysign` is overloaded).
tvm.tirx.register_intrin_lowering("tirx.copysign", "opencl", f=_lower_copysign)


def compile_opencl(module: ModuleOp, target: str | dict = "opencl") -> GPUModule:
    """Compile a loops-stage module to OpenCL kernels and their execution plans."""
    program = compile_gpu(module, gpu_target(target))
    return GPUModule(program, "cl", lambda: OpenCLDevice(program.source))
