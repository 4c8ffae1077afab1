"""`CUDAModule`: a GPUModule of CUDA C whose cubin is built on first use; without TVM, so that a compile
cache hit or a package of cuda code loads without it (docs/cache.md)."""

from __future__ import annotations

from irc.targets.cuda.binary import cubin
from irc.targets.gpu_module import GPUModule, GPUProgram


class CUDAModule(GPUModule):
    """A `GPUModule` whose binary (`cubin`) is built on first use (or by `build()`)."""

    def __init__(self, program: GPUProgram, arch: str):
        super().__init__(program, {"kind": "cuda", "arch": arch}, "cu")
        self.arch = arch
        self.cubin: bytes | None = None

    def build(self) -> bytes:
        if self.cubin is None:
            self.cubin = cubin(self.source, self.arch)
        return self.cubin

    def binary(self) -> bytes:
        return self.build()
