"""The cuda target's code generator: CUDA C from TVM (irc.targets.gpu), its cubin built on first use.

module = compile_cuda(loops_module, target({"kind": "cuda", "arch": "sm_90"}).tvm_target())
module.source, module.build()    # CUDA C (stage 7, .cu) and its cubin (nvcc or NVRTC: binary.py)
(y,) = module(x)                 # needs an NVIDIA GPU and cuda-python
"""

from __future__ import annotations

import dataclasses

import tvm
from xdsl.dialects.builtin import ModuleOp

from irc.targets.cuda.binary import fix_vector_alignment
from irc.targets.cuda.module import CUDAModule
from irc.targets.gpu import compile_gpu


def compile_cuda(
    module: ModuleOp, tvm_target: tvm.target.Target, matmul_tile: dict | None = None, tf32: bool = False
) -> CUDAModule:
    """Compile a loops-stage module to CUDA kernels and plans for a cuda `tvm_target` with an `arch`;
    `tf32`: float32 matmuls on TF32 tensor cores where they fit (irc.targets.cuda.tensor_core)."""
    program = compile_gpu(module, tvm_target, matmul_tile, tf32=tf32)
    program = dataclasses.replace(program, source=fix_vector_alignment(program.source))
    return CUDAModule(program, str(tvm_target.attrs["arch"]))
