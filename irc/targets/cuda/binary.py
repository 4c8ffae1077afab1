"""The cuda target's binaries: CUDA C to a cubin by nvcc (or NVRTC), cached on disk. No TVM here.

    cubin(source, "sm_90")         # nvcc where it is on PATH, else NVRTC (cuda-python)
    fix_vector_alignment(source)   # TVM's CUDA C as NVRTC accepts it

Binaries are cached on disk by hash of (source, arch, compiler) in the compile
cache's `cuda/` folder (irc.runtime.cache, docs/cache.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from irc.errors import CompileError, IRCError
from irc.runtime import cache


def sm_version(arch: str) -> int:
    """The compute capability of an arch as a number: `sm_90a` -> 90 (0 where it is not `sm_NN`)."""
    digits = re.match(r"sm_(\d+)", arch)
    return int(digits[1]) if digits else 0


#: the first arch with TF32 tensor cores and `cp.async` (Ampere)
TF32_MIN_SM = 80


def nvcc_cubin(source: str, arch: str, nvcc: str) -> bytes:
    """Compile CUDA C to a cubin for `arch` (`sm_90`) with nvcc."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "kernels.cu", Path(tmp) / "kernels.cubin"
        src.write_text(source)
        result = subprocess.run(
            [nvcc, "-cubin", f"-arch={arch}", "-O3", "-w", "-o", str(out), str(src)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise CompileError(f"nvcc -arch={arch} failed on the generated CUDA source:\n{result.stderr.strip()}")
        return out.read_bytes()


_PTXAS_ENTRY = re.compile(r"Compiling entry function '(\w+)'")
_PTXAS_SPILLS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_PTXAS_USED = re.compile(r"Used (\d+) registers(?:.*?, (\d+) bytes smem)?")


def resource_usage(source: str, arch: str, nvcc: str = "nvcc") -> dict[str, dict[str, int]]:
    """What ptxas reports for each kernel of `source` on `arch` (`nvcc -Xptxas -v`): registers per
    thread, static shared memory, stack frame and spill bytes. A kernel that spills registers to local
    memory, or whose registers or shared memory limit how many blocks share an SM, is slower than its
    schedule promises: checkable without a GPU."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "kernels.cu"
        src.write_text(source)
        command = [nvcc, "-cubin", f"-arch={arch}", "-O3", "-w", "-Xptxas", "-v", "-o", str(Path(tmp) / "k.cubin")]
        result = subprocess.run([*command, str(src)], capture_output=True, text=True)
    if result.returncode != 0:
        raise CompileError(f"nvcc -arch={arch} failed on the generated CUDA source:\n{result.stderr.strip()}")
    usage: dict[str, dict[str, int]] = {}
    kernel = None
    for line in result.stderr.splitlines():
        if entry := _PTXAS_ENTRY.search(line):
            kernel = usage.setdefault(entry[1], {})
        elif kernel is not None and (spills := _PTXAS_SPILLS.search(line)):
            kernel.update(stack=int(spills[1]), spill_stores=int(spills[2]), spill_loads=int(spills[3]))
        elif kernel is not None and (used := _PTXAS_USED.search(line)):
            kernel.update(registers=int(used[1]), smem=int(used[2] or 0))
    return usage


def cuda_include_paths() -> list[Path]:
    """The header directories NVRTC needs for TVM's CUDA source (it includes libcu++'s <cuda/std/...>).

    A CUDA toolkit's (`CUDA_HOME`, default /usr/local/cuda), then the pip wheels'
    (`nvidia-cuda-cccl`, in the `cuda` extra); since CUDA 13 libcu++ sits in `include/cccl`.
    """
    roots = [Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "include"]
    wheels = importlib.util.find_spec("nvidia")
    if wheels is not None and wheels.submodule_search_locations:
        roots += [Path(p) / cu / "include" for p in wheels.submodule_search_locations for cu in ("cu13", "cu12")]
    return [path for root in roots for path in (root, root / "cccl") if path.is_dir()]


def nvrtc_available() -> bool:
    """NVRTC can be loaded (cuda-python and libnvrtc, both in the `cuda` extra)."""
    try:
        from cuda.bindings import nvrtc

        return int(nvrtc.nvrtcVersion()[0]) == 0
    except Exception:  # noqa: BLE001 - ImportError, or cuda-python's error for a missing libnvrtc
        return False


def nvrtc_cubin(source: str, arch: str) -> bytes:
    """Compile CUDA C to a cubin for `arch` with NVRTC (cuda-python), for machines without nvcc."""
    try:
        from cuda.bindings import nvrtc
    except ImportError as e:
        raise IRCError("compiling CUDA without nvcc needs NVRTC: pip install irc[cuda]") from e
    err, program = nvrtc.nvrtcCreateProgram(source.encode(), b"kernels.cu", 0, [], [])
    options = [f"--gpu-architecture={arch}".encode(), b"-default-device"]
    options += [f"--include-path={path}".encode() for path in cuda_include_paths()]
    (err,) = nvrtc.nvrtcCompileProgram(program, len(options), options)
    if int(err) != 0:
        _, size = nvrtc.nvrtcGetProgramLogSize(program)
        log = b" " * size
        nvrtc.nvrtcGetProgramLog(program, log)
        raise CompileError(f"NVRTC --gpu-architecture={arch} failed:\n{log.decode(errors='replace').strip()}")
    _, size = nvrtc.nvrtcGetCUBINSize(program)
    cubin = b" " * size
    nvrtc.nvrtcGetCUBIN(program, cubin)
    return cubin


def cubin(source: str, arch: str) -> bytes:
    """The cubin of `source` for `arch`: from the disk cache, else nvcc (on PATH), else NVRTC."""
    nvcc = shutil.which("nvcc")
    compiler = "nvcc" if nvcc else "nvrtc"
    key = hashlib.sha256(f"{compiler}\0{arch}\0{source}".encode()).hexdigest()
    path = cache.entry_path(cache.CUDA, f"{key}.cubin")
    if path is not None and cache.read_hit(path):
        with contextlib.suppress(OSError):  # evicted by another process meanwhile: build it again
            return path.read_bytes()
    binary = nvcc_cubin(source, arch, nvcc) if nvcc else nvrtc_cubin(source, arch)
    if path is not None:
        cache.store(path, binary)
    return binary


#: bytes of the scalar of each CUDA vector type TVM prints (`float2`, `uint4`, `longlong2`, ...)
_SCALAR_BYTES = {
    name: size
    for size, names in (
        (1, "char uchar"),
        (2, "short ushort half"),
        (4, "int uint float"),
        (8, "long ulong longlong ulonglong double"),
    )
    for name in names.split()
}
_VECTOR_TYPES = "|".join(sorted(_SCALAR_BYTES, key=len, reverse=True))
_ALIGNED_VECTOR = re.compile(rf"alignas\((\d+)\)(\s+)({_VECTOR_TYPES})([234])\b")


def _natural_alignment(match: re.Match) -> str:
    declared, space, scalar, lanes = match[1], match[2], match[3], int(match[4])
    natural = _SCALAR_BYTES[scalar] * (lanes if lanes != 3 else 1)
    return f"alignas({max(int(declared), min(natural, 16))}){space}{scalar}{lanes}"


def fix_vector_alignment(source: str) -> str:
    """`source` with every `alignas(N)` before a vector type raised to at least the type's own alignment.

    TVM declares a vectorized local accumulator with its element's alignment (`alignas(4) float2 acc[8]`,
    dlight's matmul); nvcc ignores that, NVRTC refuses it: "alignment cannot be set to less than the
    default alignment". A larger alignment is always valid.

        >>> fix_vector_alignment("alignas(4) float2 C[8];")
        'alignas(8) float2 C[8];'
    """
    return _ALIGNED_VECTOR.sub(_natural_alignment, source)
