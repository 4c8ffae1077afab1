"""The kinds of compiled code the runtime runs, one `RuntimeKind` each: its package members and its device.

A package's manifest (`target.kind`), a compiled module (`module.kind`) and eager tensors (their device)
name a kind; the runtime looks it up here and never imports the targets that made the code
(irc.targets sits above it). Two ways to run exist: a shared library on the CPU (llvm's kind, no
`open_device`) and execution plans on a `Device` (irc.runtime.plan). A target whose code is one of
these kinds reuses its entry (`--target llvm` with other options still makes `llvm` code); a target
with a new device adds one entry here (docs/tutorial-add-a-target.md).

    >>> RUNTIME_KINDS["cuda"].kernel_file, RUNTIME_KINDS["cuda"].binary_file
    ('kernels.cu', 'kernels.cubin')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from irc.errors import IRCError
from irc.runtime.cuda import ARCH_NAME, CUDADevice, compute_capability
from irc.runtime.opencl import OpenCLDevice
from irc.runtime.plan import Device

#: `open_device(code, target, where)`: the Device running `code`, generated for the package manifest's
#: `target` (`where` names the code in errors); `open_device()`: a Device that only holds and moves data.
OpenDevice = Callable[..., Device]


@dataclass(frozen=True)
class RuntimeKind:
    """What the runtime knows about one kind of compiled code."""

    name: str
    #: where its inputs and outputs live: "cpu", or the device kind of its `DeviceArray`s
    device: str
    #: the package member holding the kernels: the shared library, or the device source
    kernel_file: str
    #: the package member holding the device binary built from the source (cuda's cubin); None: the
    #: device builds the source itself, and `code` is the source text
    binary_file: str | None = None
    #: None for a shared library the CPU runs (irc.runtime.executor.Kernel); else see `OpenDevice`
    open_device: OpenDevice | None = None


def _open_cuda(code: bytes | None = None, target: dict | None = None, where: str = "") -> Device:
    if code is None:
        return CUDADevice()
    arch, device_arch = target["arch"], compute_capability()  # a clear error without a driver or GPU
    built, have = (ARCH_NAME.fullmatch(a) for a in (arch, device_arch))
    if not (built and have and built[1] == have[1] and int(built[2]) <= int(have[2])):
        raise IRCError(f"{where}: holds a cubin for {arch}, which cannot run on this GPU ({device_arch})")
    return CUDADevice(code)


def _open_opencl(code: str | None = None, target: dict | None = None, where: str = "") -> Device:
    return OpenCLDevice(code)


#: kind name -> RuntimeKind
RUNTIME_KINDS: dict[str, RuntimeKind] = {
    kind.name: kind
    for kind in (
        RuntimeKind("llvm", "cpu", "kernels.so"),
        RuntimeKind("cuda", "cuda", "kernels.cu", "kernels.cubin", _open_cuda),
        RuntimeKind("opencl", "opencl", "kernels.cl", None, _open_opencl),
    )
}
