"""`opencl_module`: the GPUModule of OpenCL code; without TVM, so that a compile cache hit or a package of
OpenCL code loads without it (docs/cache.md)."""

from __future__ import annotations

from irc.targets.gpu_module import GPUModule, GPUProgram


def opencl_module(program: GPUProgram) -> GPUModule:
    """The GPUModule of an OpenCL program (its device builds the source on the first run)."""
    return GPUModule(program, {"kind": "opencl"}, "cl")
