"""The `llvm` target's CPU: host CPU detection, the TVM target, and what the schedules need to know.

TVM's plain `"llvm"` target emits generic SSE2 code, and on virtual machines
LLVM's host CPU name may promise more than the CPU offers (a `znver4` without
AVX-512), so the target names the host CPU and switches off the vector
features the kernel does not report.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import tvm
from tvm.target import codegen

from irc.runtime.host import configure_tvm_threads, cpu_flags, missing_features

# LLVM feature-name prefixes worth checking against /proc/cpuinfo: the wide-vector
# extensions a VM may hide. Others (tuning flags like "fast-lzcnt") have no cpuinfo name.
_CHECKED_PREFIXES = ("avx", "amx", "evex")


@functools.cache
def host_target() -> dict:
    """The target dict for this machine's CPU, e.g. `{"kind": "llvm", "mcpu": "znver3", "mattr": [...]}`."""
    cpu = codegen.llvm_get_system_cpu()
    target = {"kind": "llvm", "mcpu": cpu}
    if cpu_flags() is None or cpu == "generic":
        return target
    features = codegen.llvm_get_cpu_features(tvm.target.Target(target))
    missing = sorted(f for f in missing_features(features, _CHECKED_PREFIXES) if f != "evex512")
    if "avx512f" in missing and "evex512" in features:
        missing.append("evex512")
    if missing:
        target["mattr"] = [f"-{f}" for f in missing]
    return target


@dataclass(frozen=True)
class CPUInfo:
    """What the schedules need to know about the CPU."""

    target: tvm.target.Target
    vector_bytes: int  # width of one SIMD register
    cores: int

    def lanes(self, dtype: str) -> int:
        """SIMD lanes for `dtype` (at least 1)."""
        bits = int(re.sub(r"\D", "", dtype) or 8) if dtype != "bool" else 8
        return max(1, self.vector_bytes * 8 // bits)


def resolve_target(target: str | dict = "llvm") -> tvm.target.Target:
    """`"llvm"` means the host CPU (see `host_target`); a dict or other string is used as given."""
    if target == "llvm":
        target = host_target()
    return tvm.target.Target(target)


def cpu_info(target: tvm.target.Target) -> CPUInfo:
    """Vector width and core count for `target` (the host's cores: we run here)."""
    attrs = set(target.attrs.get("mattr", []) or [])
    features = codegen.llvm_get_cpu_features(target) if str(target.attrs.get("mcpu", "")) else {}
    if "avx512f" in features and "-avx512f" not in attrs:
        width = 64
    elif "avx" in features and "-avx" not in attrs:
        width = 32
    else:
        width = max(16, codegen.llvm_get_vector_width(target) // 8) if features else 16
    return CPUInfo(target, width, num_threads())


def num_threads() -> int:
    """Threads TVM's runtime uses (`irc.runtime.host.configure_tvm_threads`: the core count unless set)."""
    return configure_tvm_threads()
