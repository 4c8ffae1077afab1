"""The opencl target's code generator: OpenCL C from TVM (irc.targets.gpu), launched by irc through
pyopencl (`irc.runtime.opencl`).

    module = compile_opencl(loops_module, target("opencl").tvm_target())
    module.source          # OpenCL C (stage 7, .cl)
    (y,) = module(x)       # on the first OpenCL device (PoCL runs it on the CPU)
"""

from __future__ import annotations

import tvm
from xdsl.dialects.builtin import ModuleOp

from irc.targets.gpu import compile_gpu
from irc.targets.gpu_module import GPUModule
from irc.targets.opencl.module import opencl_module


def _overloaded(name: str):
    def lower(call: tvm.tirx.Call) -> tvm.tirx.PrimExpr:
        return tvm.tirx.call_pure_extern(str(call.ty.dtype), name, *call.args)

    return lower


# TVM 0.27 lowers these intrinsics to C's float32 functions (`copysignf`, `log1pf`, `tanf`, ...), which OpenCL C
# does not have: its math functions are overloaded on the argument type.
for _name in ("copysign", "log1p", "tan", "atan", "atan2", "asin", "acos"):
    tvm.tirx.register_intrin_lowering(f"tirx.{_name}", "opencl", f=_overloaded(_name))


def compile_opencl(module: ModuleOp, tvm_target: tvm.target.Target, matmul_tile: dict | None = None) -> GPUModule:
    """Compile a loops-stage module to OpenCL kernels and their execution plans."""
    return opencl_module(compile_gpu(module, tvm_target, matmul_tile))
