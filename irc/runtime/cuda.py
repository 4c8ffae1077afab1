"""Run execution plans on an NVIDIA GPU through the CUDA driver API (cuda-python), no TVM.

device = CUDADevice(cubin)
runner = PlanRunner(plan, device)
"""

from __future__ import annotations

import ctypes
import functools
import re

import numpy as np

from irc.errors import InputError, IRCError
from irc.runtime.plan import KernelLaunch, Scalar
from irc.runtime.pool import MemoryPool, View

_HOW_TO_GET = "pip install irc[cuda] (cuda-python) on a machine with an NVIDIA GPU and driver"


def _driver():
    try:
        from cuda.bindings import driver
    except ImportError as e:
        raise IRCError(f"running the cuda target needs cuda-python: {_HOW_TO_GET}") from e
    return driver


def check(result):
    """Unpack a cuda-python `(CUresult, *values)` tuple, raising IRCError on failure."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        driver = _driver()
        _, name = driver.cuGetErrorName(err)
        raise IRCError(f"CUDA driver error {name.decode() if name else int(err)}")
    return values[0] if len(values) == 1 else tuple(values)


@functools.cache
def device_count() -> int:
    """How many CUDA devices the driver sees; 0 without cuda-python, a driver or a GPU (asked once)."""
    try:
        driver = _driver()
        check(driver.cuInit(0))
        return check(driver.cuDeviceGetCount())
    except (IRCError, RuntimeError, OSError):
        return 0


@functools.cache
def primary_context():
    """The primary context of device 0; a clear error when there is no driver or GPU."""
    driver = _driver()
    try:
        check(driver.cuInit(0))
        if check(driver.cuDeviceGetCount()) == 0:
            raise IRCError(f"no CUDA device found; {_HOW_TO_GET}")
        device = check(driver.cuDeviceGet(0))
        context = check(driver.cuDevicePrimaryCtxRetain(device))
    except (RuntimeError, OSError) as e:  # libcuda.so missing
        raise IRCError(f"no CUDA driver ({e}); {_HOW_TO_GET}") from e
    except IRCError as e:
        raise IRCError(f"no usable CUDA device: {e}; {_HOW_TO_GET}") from e
    return context


#: a CUDA architecture: `sm_` + the compute capability's major and minor digits (+ `a`: arch-specific features)
ARCH_NAME = re.compile(r"sm_(\d+?)(\d)a?")


def check_arch(arch: str) -> str:
    """`arch` if it names a CUDA architecture (`sm_90`, `sm_90a`), else an InputError showing the form.

    >>> check_arch("sm_86")
    'sm_86'
    """
    if not isinstance(arch, str) or not ARCH_NAME.fullmatch(arch):
        raise InputError(f"'{arch}' is not a CUDA architecture: expected sm_NN, e.g. sm_90 (compute capability 9.0)")
    return arch


def compute_capability() -> str:
    """`sm_XY` of device 0."""
    driver = _driver()
    primary_context()
    device = check(driver.cuDeviceGet(0))
    attr = driver.CUdevice_attribute
    major = check(driver.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device))
    minor = check(driver.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device))
    return f"sm_{major}{minor}"


@functools.cache
def memory_pool() -> MemoryPool:
    """The caching allocator of device 0's primary context (irc.runtime.pool), shared by every module."""
    driver = _driver()
    primary_context()
    return MemoryPool(lambda nbytes: check(driver.cuMemAlloc(nbytes)), lambda pointer: driver.cuMemFree(pointer))


_SCALAR_CTYPES = {
    "int32": ctypes.c_int32,
    "int64": ctypes.c_int64,
    "float32": ctypes.c_float,
    "float64": ctypes.c_double,
}


class CUDADevice:
    """The `irc.runtime.plan.Device` for device 0 and one loaded module (cubin or PTX).

    Without a binary it only moves data: allocations belong to the primary
    context, so every module loaded in it can use them.
    """

    kind = "cuda"

    def __init__(self, binary: bytes | None = None):
        context = primary_context()
        self.driver = _driver()
        check(self.driver.cuCtxSetCurrent(context))
        self.module = check(self.driver.cuModuleLoadData(binary)) if binary is not None else None
        self._functions = {}

    def alloc(self, nbytes: int):
        return memory_pool().alloc(nbytes)

    def view(self, base, byte_offset: int, nbytes: int):
        return View(int(base.handle) + byte_offset, base)

    def upload(self, buffer, array: np.ndarray) -> None:
        array = np.asarray(array, order="C")
        check(self.driver.cuMemcpyHtoD(buffer.handle, array.ctypes.data, array.nbytes))

    def download(self, buffer, array: np.ndarray) -> None:
        check(self.driver.cuMemcpyDtoH(array.ctypes.data, buffer.handle, array.nbytes))

    def synchronize(self) -> None:
        """Wait until every queued copy and kernel has finished (for timing)."""
        check(self.driver.cuCtxSynchronize())

    def _function(self, name: str):
        function = self._functions.get(name)
        if function is None:
            function = self._functions[name] = check(self.driver.cuModuleGetFunction(self.module, name.encode()))
        return function

    @staticmethod
    def _parameters(args: list) -> tuple[tuple, ctypes.Array]:
        """(the values, the array of pointers to them) that cuLaunchKernel and kernel nodes take."""
        values = tuple(
            _SCALAR_CTYPES[a.dtype](a.value) if isinstance(a, Scalar) else ctypes.c_void_p(int(a.handle)) for a in args
        )
        return values, (ctypes.c_void_p * len(values))(*(ctypes.addressof(v) for v in values))

    def launch(self, launch: KernelLaunch, args: list) -> None:
        values, params = self._parameters(args)
        # Launches are asynchronous on the default stream; the synchronous copy-out orders after them.
        check(
            self.driver.cuLaunchKernel(
                self._function(launch.name), *launch.grid, *launch.block, launch.shared_bytes, 0,
                ctypes.addressof(params), 0,
            )
        )  # fmt: skip

    # ------------------------------------------------------------------ graphs (irc.runtime.plan.PlanRunner)

    supports_graphs = True

    @staticmethod
    def address(buffer) -> int:
        return int(buffer.handle)

    def make_graph(self, launches: list[KernelLaunch], args_list: list[list], dependencies: list[tuple[int, ...]]):
        """The launches as one executable graph: a kernel node per launch, each depending on the nodes of
        the launches `dependencies` names (`irc.runtime.plan.launch_dependencies`): kernels that share
        no memory may run side by side. Kernel nodes copy their parameter values when added."""
        driver = self.driver
        graph = check(driver.cuGraphCreate(0))
        try:
            nodes = []
            for launch, args, after in zip(launches, args_list, dependencies, strict=True):
                node = driver.CUDA_KERNEL_NODE_PARAMS()
                node.func = self._function(launch.name)
                node.gridDimX, node.gridDimY, node.gridDimZ = launch.grid
                node.blockDimX, node.blockDimY, node.blockDimZ = launch.block
                node.sharedMemBytes = launch.shared_bytes
                values, params = self._parameters(args)
                node.kernelParams = ctypes.addressof(params)
                node.extra = 0
                previous = [nodes[i] for i in after]
                nodes.append(check(driver.cuGraphAddKernelNode(graph, previous, len(previous), node)))
                del values, params  # copied by the node
            return check(driver.cuGraphInstantiate(graph, 0))
        except (TypeError, ValueError, AttributeError) as e:  # a cuda-python whose graph API differs
            raise IRCError(f"cuda-python could not build the graph: {type(e).__name__}: {e}") from e
        finally:
            driver.cuGraphDestroy(graph)

    def launch_graph(self, graph) -> None:
        # on the default stream, ordered after the copies before it and before the copies after it
        check(self.driver.cuGraphLaunch(graph, 0))

    def free_graph(self, graph) -> None:
        self.driver.cuGraphExecDestroy(graph)  # one still running is freed when it finishes
