"""Run irc's generated CUDA kernels on the CPU, to check their numbers on a machine without a GPU.

    run = emulate(module)            # a compiled cuda module (irc.targets.cuda.CUDAModule)
    (c,) = run(a, b)                 # numpy in, numpy out, like module(a, b) on a GPU

The CUDA source is translated to C++ and built with g++: each CUDA thread of a block is a std::thread,
`__syncthreads()` a barrier of the block; a warp's `mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32`
gathers the 32 lanes' registers at a barrier of the warp and multiplies as the PTX ISA's fragment
tables say (written out here again, apart from irc.targets.cuda.tensor_core: a layout both got wrong
the same way would pass), its operands' 13 low mantissa bits dropped as the tensor cores do; `cp.async`
copies at once, so commit and wait groups are no-ops. It covers what irc's matmul kernels use (scalar,
`float4`/`int4` vector code, shared memory, the asynchronous copies, TF32 mma): a kernel using
something else fails to build. What it cannot show: timing, and races the asynchronous copies could
have on a GPU (the copies here are done before the next statement).
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

PRELUDE = r"""
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>
#include <math.h>
#include <algorithm>
using std::max;
using std::min;
typedef unsigned int uint;
struct Dim { int x, y, z; };
static thread_local Dim threadIdx, blockIdx;
static thread_local int lane_id, warp_id;
static std::barrier<>* block_barrier;
static std::vector<std::barrier<>*> warp_barriers;
#define __syncthreads() block_barrier->arrive_and_wait()
#define CUDART_INF_F INFINITY
#define VECTOR_TYPES(T) \
  struct T##2 { T x, y; }; struct T##4 { T x, y, z, w; }; \
  static inline T##2 make_##T##2(T x, T y) { return {x, y}; } \
  static inline T##4 make_##T##4(T x, T y, T z, T w) { return {x, y, z, w}; }
VECTOR_TYPES(float)
VECTOR_TYPES(int)
VECTOR_TYPES(uint)

// one warp's mma operands, gathered from its 32 lanes
struct MmaScratch { uint32_t a[32][4]; uint32_t b[32][2]; float c[32][4]; };
static std::vector<MmaScratch> scratch;
static inline float tf32(uint32_t bits) { bits &= 0xffffe000u; float f; std::memcpy(&f, &bits, 4); return f; }
// PTX ISA, matrix fragments of mma.m16n8k8 .tf32 (groupID = lane / 4, threadID_in_group = lane % 4):
// A 16x8: a_r at row groupID + 8 * (r % 2), col threadID_in_group + 4 * (r / 2)
// B 8x8: b_r at row threadID_in_group + 4 * r, col groupID
// C, D 16x8: c_r at row groupID + 8 * (r / 2), col 2 * threadID_in_group + r % 2
static void mma_m16n8k8_tf32(float* d, const uint32_t* a, const uint32_t* b, const float* c) {
  MmaScratch& s = scratch[warp_id];
  std::memcpy(s.a[lane_id], a, 16); std::memcpy(s.b[lane_id], b, 8); std::memcpy(s.c[lane_id], c, 16);
  warp_barriers[warp_id]->arrive_and_wait();
  uint32_t A[16][8], B[8][8];
  for (int lane = 0; lane < 32; ++lane) {
    int g = lane / 4, t = lane % 4;
    for (int r = 0; r < 4; ++r) A[g + 8 * (r % 2)][t + 4 * (r / 2)] = s.a[lane][r];
    for (int r = 0; r < 2; ++r) B[t + 4 * r][g] = s.b[lane][r];
  }
  int g = lane_id / 4, t = lane_id % 4;
  float out[4];
  for (int r = 0; r < 4; ++r) {
    int row = g + 8 * (r / 2), col = 2 * t + r % 2;
    float acc = s.c[lane_id][r];
    for (int k = 0; k < 8; ++k) acc += tf32(A[row][k]) * tf32(B[k][col]);
    out[r] = acc;
  }
  warp_barriers[warp_id]->arrive_and_wait();  // every lane has read the scratch before it is reused
  std::memcpy(d, out, 16);
}
"""

_KERNEL = re.compile(r'extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(([^)]*)\)\s*\{')
_MMA = re.compile(
    r'__asm__ __volatile__\(\s*"mma\.sync\.aligned\.m16n8k8\.row\.col\.f32\.tf32\.tf32\.f32"\s*"[^"]*"\s*:(.*?):(.*?)\);',
    re.S,
)
_CP_ASYNC = re.compile(r"\bptx_cp_async_legacy_(pred_)?(ca|cg)_(\d+)_(\d+)_(\d+)\b")
_GROUP = re.compile(r"\btvm_builtin_ptx_cp_async_\w+\b")


def _operands(text: str) -> list[str]:
    """The C expressions of an asm operand list (`"=f"(expr), "r"(expr), ...`)."""
    exprs, depth, start = [], 0, None
    for pos, char in enumerate(text):
        if char == "(":
            if depth == 0:
                start = pos + 1
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                exprs.append(text[start:pos])
    return exprs


def _mma_call(match: re.Match) -> str:
    d = _operands(match[1])
    a, b, c = (lambda x: (x[:4], x[4:6], x[6:]))(_operands(match[2]))
    assert len(d) == 4 and len(c) == 4, match[0]
    stores = " ".join(f"{target} = d_[{i}];" for i, target in enumerate(d))
    return (
        f"{{ uint32_t a_[4] = {{{', '.join(a)}}}; uint32_t b_[2] = {{{', '.join(b)}}};"
        f" float c_[4] = {{{', '.join(c)}}}; float d_[4]; mma_m16n8k8_tf32(d_, a_, b_, c_); {stores} }}"
    )


def _helpers(source: str) -> str:
    """C++ for the copy helpers TVM's source defines with inline PTX (`cp.async` and its groups)."""
    lines = [f"static inline void {name}() {{}}" for name in sorted(set(_GROUP.findall(source)))]
    for name, pred, _, size, dst_bytes, src_bytes in sorted({(m[0], *m.groups()) for m in _CP_ASYNC.finditer(source)}):
        params = "void* dst, int dst_off, void* src, int src_off" + (", int predicate" if pred else "")
        dst, src = f"(char*)dst + dst_off * {dst_bytes}", f"(char*)src + src_off * {src_bytes}"
        copy = f"std::memcpy({dst}, {src}, {size});"
        body = f"if (predicate) {copy} else std::memset({dst}, 0, {size});" if pred else copy
        lines.append(f"static inline void {name}({params}) {{ {body} }}")
    return "\n".join(lines)


def translate(source: str) -> tuple[str, dict[str, int]]:
    """(C++ of the kernels of `source` with a `launch_<kernel>` entry each, kernel -> parameter count)."""
    body = source[source.index('extern "C" __global__') :]
    kernels = {name: len([p for p in params.split(",") if p.strip()]) for name, params in _KERNEL.findall(body)}
    body = re.sub(r'extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?', "static void ", body)
    body = re.sub(r"alignas\(\d+\)", "alignas(16)", body)
    body = body.replace("__shared__ alignas(16) ", "alignas(16) static ")  # one block at a time: its threads share them
    body = _MMA.sub(_mma_call, body)
    launchers = []
    for name, count in kernels.items():
        args = ", ".join(f"(float*)args[{i}]" for i in range(count))
        launchers.append(
            f'extern "C" void launch_{name}(void** args, int gx, int gy, int gz, int bx, int by, int bz) {{\n'
            f"  int n = bx * by * bz, warps = (n + 31) / 32;\n"
            f"  for (int z = 0; z < gz; ++z) for (int y = 0; y < gy; ++y) for (int x = 0; x < gx; ++x) {{\n"
            f"    std::barrier<> block(n); block_barrier = &block;\n"
            f"    std::vector<std::barrier<>*> wb; for (int w = 0; w < warps; ++w) wb.push_back(new std::barrier<>(std::min(32, n - 32 * w)));\n"
            f"    warp_barriers = wb; scratch.assign(warps, MmaScratch());\n"
            f"    std::vector<std::thread> threads;\n"
            f"    for (int id = 0; id < n; ++id) threads.emplace_back([=] {{\n"
            f"      threadIdx = {{id % bx, id / bx % by, id / (bx * by)}}; blockIdx = {{x, y, z}};\n"
            f"      lane_id = id % 32; warp_id = id / 32; {name}({args}); }});\n"
            f"    for (auto& t : threads) t.join();\n"
            f"    for (auto* b : wb) delete b;\n"
            f"  }}\n}}"
        )
    return PRELUDE + _helpers(source) + "\n" + body + "\n" + "\n".join(launchers), kernels


def emulate(module, workdir: Path | None = None) -> Callable[..., tuple[np.ndarray, ...]]:
    """`module`'s first entry run on the CPU: float32 buffers only (what a matmul's plan holds)."""
    cpp, kernels = translate(module.source)
    tmp = Path(workdir or tempfile.mkdtemp())
    (tmp / "kernels.cpp").write_text(cpp)
    # a name of its own: the dynamic loader hands out a library loaded before from the same path
    library = tmp / f"kernels-{hashlib.sha256(cpp.encode()).hexdigest()[:16]}.so"
    built = subprocess.run(
        ["g++", "-std=c++20", "-O1", "-fno-strict-aliasing", "-w", "-shared", "-fPIC", "-pthread",
         "-o", str(library), str(tmp / "kernels.cpp")],
        capture_output=True, text=True,
    )  # fmt: skip
    if built.returncode != 0:
        raise RuntimeError(f"the emulation of {tmp / 'kernels.cpp'} does not build:\n{built.stderr[-3000:]}")
    lib = ctypes.CDLL(str(library))
    plan = module.plan

    def run(*inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        buffers = {}
        for spec in plan.buffers:
            assert spec.dtype == "float32" and spec.base is None, spec
            buffers[spec.id] = np.zeros(spec.shape, np.float32)
        for name, value in zip(plan.inputs, inputs, strict=True):
            buffers[name][...] = value
        for launch in plan.launches:
            assert kernels[launch.name] == len(launch.args), launch
            args = (ctypes.c_void_p * len(launch.args))(*(buffers[a].ctypes.data for a in launch.args))
            getattr(lib, f"launch_{launch.name}")(args, *launch.grid, *launch.block)
        return tuple(buffers[name].copy() for name in plan.outputs)

    return run
