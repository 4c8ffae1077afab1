"""This machine's CPU as /proc/cpuinfo describes it, read once and without TVM.

Three things depend on it: the llvm target for the host (which vector
features a VM hides from LLVM's CPU guess), the compile cache's key (code
compiled for one CPU is not reused on another), and loading a package (a
library built with vector features this CPU lacks would die of SIGILL).
"""

from __future__ import annotations

import functools
import os
import platform
import re
from collections.abc import Iterable

#: prefixes of the LLVM feature names a package records and a loader checks: the vector extensions
#: whose absence makes code die with SIGILL (a VM may hide some). Others have no cpuinfo name.
VECTOR_FEATURES = ("avx", "amx", "fma", "f16c", "sse4.", "ssse3")

_MODEL_FIELDS = ("vendor_id", "cpu family", "model", "model name", "CPU implementer", "CPU part")  # x86, arm
_FLAG_FIELDS = ("flags", "Features")  # x86, arm


def normalize_feature(feature: str) -> str:
    """An LLVM feature or cpuinfo flag spelled so the two compare equal (`sse4.1` / `sse4_1` -> `sse41`)."""
    return re.sub(r"[._]", "", feature)


@functools.cache
def cpuinfo(path: str = "/proc/cpuinfo") -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (`{}` where there is none, e.g. macOS)."""
    fields: dict[str, str] = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.strip():  # the first processor's block is enough
                    break
                name, _, value = (part.strip() for part in line.partition(":"))
                fields.setdefault(name, value)
    except OSError:
        pass
    return fields


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags, normalized; None where the OS does not say."""
    value = next((cpuinfo()[name] for name in _FLAG_FIELDS if name in cpuinfo()), None)
    return None if value is None else {normalize_feature(flag) for flag in value.split()}


@functools.cache
def host_cpu() -> dict[str, str]:
    """What code generated for this host depends on: machine, CPU model and flags (the cache key's part)."""
    cpu = {"machine": platform.machine(), "processor": platform.processor()}
    for name, value in cpuinfo().items():
        if name in _FLAG_FIELDS:
            cpu[name] = " ".join(sorted(value.split()))
        elif name in _MODEL_FIELDS:
            cpu[name] = value
    return cpu


def missing_features(features: Iterable[str], prefixes: tuple[str, ...] = VECTOR_FEATURES) -> list[str] | None:
    """The LLVM `features` starting with `prefixes` that this CPU lacks; None where the OS does not say."""
    flags = cpu_flags()
    if flags is None:
        return None
    return [f for f in features if f.startswith(prefixes) and normalize_feature(f) not in flags]


def configure_tvm_threads() -> int:
    """`TVM_NUM_THREADS`, set to the number of cores this process may run on unless set, for TVM's CPU
    thread pool (it reads the variable once, when it starts); returns the pool's size."""
    os.environ.setdefault("TVM_NUM_THREADS", str(len(os.sched_getaffinity(0))))
    return int(os.environ["TVM_NUM_THREADS"])
