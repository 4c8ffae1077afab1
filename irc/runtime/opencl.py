"""Run execution plans through OpenCL (pyopencl), on any platform: PoCL runs them on the CPU.

device = OpenCLDevice.default()
runner = PlanRunner(plan, device.with_program(source))
"""

from __future__ import annotations

import functools

import numpy as np

from irc.errors import IRCError
from irc.runtime.plan import KernelLaunch, Scalar
from irc.runtime.pool import MemoryPool, View

_HOW_TO_GET = (
    "install an OpenCL platform (Debian/Ubuntu: apt-get install pocl-opencl-icd) and pyopencl (pip install irc[opencl])"
)


def _pyopencl():
    try:
        import pyopencl
    except ImportError as e:
        raise IRCError(f"the opencl target needs pyopencl: {_HOW_TO_GET}") from e
    return pyopencl


@functools.cache
def default_context():
    """The first OpenCL device of the first platform that has one (`PYOPENCL_CTX` is honoured by pyopencl)."""
    cl = _pyopencl()
    try:
        platforms = cl.get_platforms()
    except cl.Error as e:
        raise IRCError(f"no OpenCL platform found ({e}); {_HOW_TO_GET}") from e
    for platform in platforms:
        devices = platform.get_devices()
        if devices:
            return cl.Context(devices[:1])
    raise IRCError(f"no OpenCL device found; {_HOW_TO_GET}")


@functools.lru_cache(maxsize=64)
def _build(context, source: str):
    """Programs are built once per (context, source): building is the slow part (PoCL compiles to native code)."""
    cl = _pyopencl()
    if "cl_khr_fp16" in source:  # TVM's OpenCL code declares the extension where it uses half
        lacking = [d.name for d in context.devices if "cl_khr_fp16" not in d.extensions]
        if lacking:
            raise IRCError(
                f"this OpenCL program uses float16, which needs the cl_khr_fp16 extension; the device "
                f"{lacking[0]!r} does not have it (PoCL's CPU device has none): on it use bfloat16 or float32, "
                "or run float16 on the llvm or cuda target"
            )
    # Built without pyopencl's default options: they add `-I <pyopencl's headers>`, a path inside each
    # Python environment, and an OpenCL driver's binary cache (PoCL's) keys builds by their options, so
    # every new environment (a CI run's fresh venv) compiled every kernel again. irc's kernels include
    # no headers.
    program = cl.Program(cl._cl._Program(context, source))
    try:
        program._prg.build(b"", context.devices)
    except cl.Error as e:
        logs = [program._prg.get_build_info(d, cl.program_build_info.LOG) for d in context.devices]
        raise IRCError(f"building the OpenCL program failed ({e}):\n" + "\n".join(logs).strip()) from e
    return program


class OpenCLDevice:
    """The `irc.runtime.plan.Device` for one OpenCL context and one program (the kernels' source).

    Without a source it only moves data (alloc/upload/download): buffers belong
    to the context, so every program of the context can use them.
    """

    kind = "opencl"

    def __init__(self, source: str | None = None, context=None):
        self.cl = _pyopencl()
        self.context = context or default_context()
        self.queue = _queue(self.context)
        self.program = _build(self.context, source) if source is not None else None
        self._kernels = {}

    def alloc(self, nbytes: int):
        return memory_pool(self.context).alloc(nbytes)

    def view(self, base, byte_offset: int, nbytes: int):
        return View(base.handle.get_sub_region(byte_offset, nbytes), base)

    def upload(self, buffer, array: np.ndarray) -> None:
        self.cl.enqueue_copy(self.queue, buffer.handle, np.asarray(array, order="C"))

    def download(self, buffer, array: np.ndarray) -> None:
        self.cl.enqueue_copy(self.queue, array, buffer.handle)

    def synchronize(self) -> None:
        """Wait until every queued copy and kernel has finished (for timing)."""
        self.queue.finish()

    def launch(self, launch: KernelLaunch, args: list) -> None:
        kernel = self._kernels.get(launch.name)
        if kernel is None:
            kernel = self._kernels[launch.name] = self.cl.Kernel(self.program, launch.name)
        values = [np.array(a.value, dtype=a.dtype) if isinstance(a, Scalar) else a.handle for a in args]
        global_size = tuple(g * b for g, b in zip(launch.grid, launch.block))
        kernel(self.queue, global_size, launch.block, *values)


@functools.cache
def _queue(context):
    return _pyopencl().CommandQueue(context)


@functools.cache
def memory_pool(context) -> MemoryPool:
    """The caching allocator of one OpenCL context (irc.runtime.pool), shared by its programs."""
    cl = _pyopencl()
    return MemoryPool(
        lambda nbytes: cl.Buffer(context, cl.mem_flags.READ_WRITE, nbytes), lambda buffer: buffer.release()
    )
