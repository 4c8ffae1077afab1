"""TF32 tensor-core matmuls for CUDA (sm_80+): PTX `mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32`.

    sch, block = irc.targets.gpu.normalized_matmul(func)
    schedule_tf32(sch, block)    # False (sch unchanged) where no tile fits or it is no float32 matmul

TVM 0.27 has no TF32 path of its own: dlight's tensor-core rules take float16 and int8 matmuls only,
and its CUDA codegen refuses float32 `wmma` fragments ("Matrix_a and matrix_b only support half or
char ..."). Its PTX `mma` builtin (`T.ptx_legacy.mma`) does emit `m16n8k8` with `.tf32` operands, so
this module registers tensor intrinsics around it (`TensorIntrin.register`): loads of A and B
fragments from shared memory in the register layout the PTX ISA gives for m16n8k8 .tf32 (one 32-bit
load per element: `ldmatrix`, which transposes 16-bit elements, would serve only operands stored
k-contiguous), and the multiply of a 16x16x8 tile as two m16n8k8 instructions. The accumulator layout is that of TVM's float16 `mma` intrinsics
(`shared_16x16_to_ldmatrix_32x8_layout`); its own fill and store intrinsics ask for 64-byte aligned
buffers, irc's are 4-byte aligned, hence the fill and store here.

The schedule follows TVM's `tvm.testing.tir.mma_schedule` on dlight's normalized matmul
(`C[s, i, j] += A[s, i, k] * B[s, j, k]`): a block computes a `block_m` x `block_n` tile with
`warps_m` x `warps_n` warps, each warp a grid of 16x16 accumulator tiles; per k-step of `block_k` the
A and B tiles are copied to shared memory, laid out the way the operand lies in global memory (an
operand contiguous along i or j is stored k-major), with `stages` buffers each, loaded asynchronously
(`cp.async`: `software_pipeline_async_stages`, irc.targets.gpu.async_copies). The elements are
rounded to TF32 as they are loaded into fragments (to nearest, ties away from zero): `mma` reads
float32 bit patterns as TF32 by dropping their 13 low mantissa bits, a truncation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tvm import tirx
from tvm.s_tir import Schedule, TensorIntrin
from tvm.s_tir.dlight.gpu.matmul import auto_inline_consumer_chain, auto_inline_producers
from tvm.s_tir.schedule import SBlockRV
from tvm.script import tirx as T

_LANES = 32  # threads of a warp
_ALIGN = 4  # irc's buffers are 4-byte aligned (a float's); an intrinsic's buffer may ask no more


def _a_fragment(i, k):
    """(lane, register) holding A[i, k] of a 16x8 A tile (PTX ISA, mma.m16n8k8 .tf32: a0..a3)."""
    return 4 * (i % 8) + k % 4, i // 8 + 2 * (k // 4)


def _a_element(lane, register):
    """(i, k) of A in (lane, register): the inverse of `_a_fragment`."""
    return lane // 4 + 8 * (register % 2), lane % 4 + 4 * (register // 2)


def _b_fragment(k, j):
    """(lane, register) holding B[k, j] of an 8x16 B tile: b0, b1 of the n8 tile j < 8, then of j >= 8."""
    return 4 * (j % 8) + k % 4, k // 4 + 2 * (j // 8)


def _b_element(lane, register):
    return lane % 4 + 4 * (register % 2), lane // 4 + 8 * (register // 2)


def _c_fragment(i, j):
    """(lane, register) holding C[i, j] of a 16x16 accumulator tile: c0..c3 of the n8 tile j < 8, then
    j >= 8; TVM's `shared_16x16_to_ldmatrix_32x8_layout`, which its `mma_fill`/`mma_store` use."""
    return 4 * (i % 8) + (j % 8) // 2, j % 2 + 2 * (i // 8) + 4 * (j // 8)


def _c_element(lane, register):
    return 8 * (register % 4 // 2) + lane // 4, 8 * (register // 4) + 2 * (lane % 4) + register % 2


def _load_intrin(rows: int, cols: int, fragment, element):
    """shared memory (a `rows` x `cols` tile) -> a warp's fragment (32 lanes x 4 registers); `fragment`
    maps a tile position to (lane, register), `element` back."""

    @T.prim_func(s_tir=True)
    def desc(shared_handle: T.handle, warp_handle: T.handle) -> None:
        shared = T.match_buffer(shared_handle, (rows, cols), "float32", offset_factor=1, align=_ALIGN, scope="shared")
        warp = T.match_buffer(warp_handle, (_LANES, 4), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        with T.sblock("root"):
            T.reads(shared[0:rows, 0:cols])
            T.writes(warp[0:_LANES, 0:4])
            for ax0, ax1 in T.grid(rows, cols):
                with T.sblock("shared_warp"):
                    v0, v1 = T.axis.remap("SS", [ax0, ax1])
                    lane, register = T.meta_var(fragment(v0, v1))
                    T.reads(shared[v0, v1])
                    T.writes(warp[lane, register])
                    warp[lane, register] = shared[v0, v1]

    @T.prim_func(s_tir=True)
    def impl(shared_handle: T.handle, warp_handle: T.handle) -> None:
        s0 = T.int32()
        s1 = T.int32()
        shared = T.match_buffer(
            shared_handle, (rows, cols), "float32", offset_factor=1, align=_ALIGN, scope="shared", strides=[s0, s1]
        )
        warp = T.match_buffer(warp_handle, (_LANES, 4), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        with T.sblock("root"):
            T.reads(shared[0:rows, 0:cols])
            T.writes(warp[0:_LANES, 0:4])
            for tx in T.thread_binding(0, _LANES, "threadIdx.x"):
                for register in T.unroll(4):
                    row, col = T.meta_var(element(tx, register))
                    bits = T.meta_var(T.reinterpret("uint32", shared[row, col]))
                    # rounded to TF32's 10 mantissa bits (to nearest, ties away from zero): half a TF32
                    # ulp added, the 13 low bits dropped by mma; inf and nan (exponent all ones) kept
                    finite = T.meta_var(T.bitwise_and(bits, T.uint32(0x7F800000)) != T.uint32(0x7F800000))
                    warp[tx, register] = T.reinterpret("float32", T.if_then_else(finite, bits + T.uint32(0x1000), bits))

    return desc, impl


def _mma_intrin():
    """C (16x16) += A (16x8) B (8x16) on a warp's fragments: two m16n8k8 TF32 mma instructions."""

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (_LANES, 4), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        B = T.match_buffer(b, (_LANES, 4), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        C = T.match_buffer(c, (_LANES, 8), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        with T.sblock("root"):
            T.reads(C[0:_LANES, 0:8], A[0:_LANES, 0:4], B[0:_LANES, 0:4])
            T.writes(C[0:_LANES, 0:8])
            for i, j, k in T.grid(16, 16, 8):
                with T.sblock("C"):
                    vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                    c_lane, c_register = T.meta_var(_c_fragment(vi, vj))
                    a_lane, a_register = T.meta_var(_a_fragment(vi, vk))
                    b_lane, b_register = T.meta_var(_b_fragment(vk, vj))
                    T.reads(C[c_lane, c_register], A[a_lane, a_register], B[b_lane, b_register])
                    T.writes(C[c_lane, c_register])
                    C[c_lane, c_register] = C[c_lane, c_register] + A[a_lane, a_register] * B[b_lane, b_register]

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (_LANES, 4), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        B = T.match_buffer(b, (_LANES, 4), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        C = T.match_buffer(c, (_LANES, 8), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        with T.sblock("root"):
            T.reads(C[0:_LANES, 0:8], A[0:_LANES, 0:4], B[0:_LANES, 0:4])
            T.writes(C[0:_LANES, 0:8])
            for tx in T.thread_binding(0, _LANES, "threadIdx.x"):
                for n in T.unroll(2):  # the n8 tiles j < 8 and j >= 8
                    T.evaluate(
                        T.ptx_legacy.mma(
                            "m16n8k8",
                            "row",
                            "col",
                            "tf32",
                            "tf32",
                            "fp32",
                            A.data,
                            A.elem_offset + tx * 4,
                            B.data,
                            B.elem_offset + tx * 4 + n * 2,
                            C.data,
                            C.elem_offset + tx * 8 + n * 4,
                            False,
                            dtype="float32",
                        )
                    )

    return desc, impl


def _fill_intrin():
    """A warp's 16x16 accumulator tile set to zero."""

    @T.prim_func(s_tir=True)
    def desc(c: T.handle) -> None:
        C = T.match_buffer(c, (_LANES, 8), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        with T.sblock("root"):
            T.reads()
            T.writes(C[0:_LANES, 0:8])
            for i, j in T.grid(16, 16):
                with T.sblock("C_init"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    lane, register = T.meta_var(_c_fragment(vi, vj))
                    T.reads()
                    T.writes(C[lane, register])
                    C[lane, register] = T.float32(0)

    @T.prim_func(s_tir=True)
    def impl(c: T.handle) -> None:
        C = T.match_buffer(c, (_LANES, 8), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        with T.sblock("root"):
            T.reads()
            T.writes(C[0:_LANES, 0:8])
            for tx in T.thread_binding(0, _LANES, "threadIdx.x"):
                for register in T.unroll(8):
                    C[tx, register] = T.float32(0)

    return desc, impl


def _store_intrin():
    """A warp's 16x16 accumulator tile stored to global memory."""

    @T.prim_func(s_tir=True)
    def desc(c: T.handle, out: T.handle) -> None:
        C = T.match_buffer(c, (_LANES, 8), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        D = T.match_buffer(out, (16, 16), "float32", offset_factor=1, align=_ALIGN, scope="global")
        with T.sblock("root"):
            T.reads(C[0:_LANES, 0:8])
            T.writes(D[0:16, 0:16])
            for i, j in T.grid(16, 16):
                with T.sblock("C_warp"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    lane, register = T.meta_var(_c_fragment(vi, vj))
                    T.reads(C[lane, register])
                    T.writes(D[vi, vj])
                    D[vi, vj] = C[lane, register]

    @T.prim_func(s_tir=True)
    def impl(c: T.handle, out: T.handle) -> None:
        s0 = T.int32()
        s1 = T.int32()
        C = T.match_buffer(c, (_LANES, 8), "float32", offset_factor=1, align=_ALIGN, scope="warp")
        D = T.match_buffer(out, (16, 16), "float32", offset_factor=1, align=_ALIGN, scope="global", strides=[s0, s1])
        with T.sblock("root"):
            T.reads(C[0:_LANES, 0:8])
            T.writes(D[0:16, 0:16])
            for tx in T.thread_binding(0, _LANES, "threadIdx.x"):
                for register in T.unroll(8):
                    row, col = T.meta_var(_c_element(tx, register))
                    D[row, col] = C[tx, register]

    return desc, impl


#: the tensor intrinsics of the schedule (TVM keeps them by name, process-wide: `_register`)
LOAD_A = "irc_tf32_load_a"  # A tile stored [i, k]
LOAD_A_K_MAJOR = "irc_tf32_load_a_k_major"  # stored [k, i]
LOAD_B = "irc_tf32_load_b"  # B tile stored [j, k]
LOAD_B_K_MAJOR = "irc_tf32_load_b_k_major"  # stored [k, j]
MMA = "irc_tf32_mma_16x16x8"
FILL = "irc_tf32_fill_16x16"
STORE = "irc_tf32_store_16x16_global"


@functools.cache
def _register() -> None:
    """Register the intrinsics, once, at the first schedule (parsing them takes a while: not at import)."""
    intrinsics = {
        LOAD_A: _load_intrin(16, 8, _a_fragment, _a_element),
        LOAD_A_K_MAJOR: _load_intrin(8, 16, lambda k, i: _a_fragment(i, k), lambda t, r: _a_element(t, r)[::-1]),
        LOAD_B: _load_intrin(16, 8, lambda j, k: _b_fragment(k, j), lambda t, r: _b_element(t, r)[::-1]),
        LOAD_B_K_MAJOR: _load_intrin(8, 16, _b_fragment, _b_element),
        MMA: _mma_intrin(),
        FILL: _fill_intrin(),
        STORE: _store_intrin(),
    }
    for name, (desc, impl) in intrinsics.items():
        TensorIntrin.register(name, desc, impl, override=True)


@dataclass(frozen=True)
class Tile:
    """A block's tile: `warps_m` x `warps_n` warps of `tiles_m` x `tiles_n` 16x16 accumulator tiles,
    k-steps of `block_k` (a multiple of 8) through `stages` shared buffers per operand."""

    warps_m: int
    warps_n: int
    tiles_m: int
    tiles_n: int
    block_k: int
    stages: int = 2

    @property
    def block_m(self) -> int:
        return 16 * self.warps_m * self.tiles_m

    @property
    def block_n(self) -> int:
        return 16 * self.warps_n * self.tiles_n

    def fits(self, m: int, n: int, k: int) -> bool:
        return m % self.block_m == 0 and n % self.block_n == 0 and k % self.block_k == 0


#: the tiles tried, in order: the first that divides the matmul's M, N and K schedules it
TILES = (
    Tile(warps_m=2, warps_n=4, tiles_m=4, tiles_n=2, block_k=16),  # 128x128, 256 threads
    Tile(warps_m=2, warps_n=2, tiles_m=2, tiles_n=2, block_k=16),  # 64x64, 128 threads
    Tile(warps_m=2, warps_n=2, tiles_m=1, tiles_n=1, block_k=8),  # 32x32, 128 threads
)


def schedule_tf32(sch: Schedule, block: SBlockRV, tiles: tuple[Tile, ...] = TILES) -> bool:
    """Schedule `block` of `sch`, a float32 matmul normalized to `C[S, I, J] += A[S, I, K] * B[S, J, K]`
    (irc.targets.gpu.normalized_matmul), on TF32 tensor cores with the first of `tiles` that divides its
    M, N and K. False, `sch` unchanged, where none does or the block is not a float32 matmul."""
    stmt = sch.get(block)
    if len(stmt.reads) != 2 or any(str(r.source.dtype) != "float32" for r in [*stmt.reads, *stmt.writes]):
        return False
    _, m, n, k = (int(iv.dom.extent) for iv in stmt.iter_vars)
    tile = next((t for t in tiles if t.fits(m, n, k)), None)
    if tile is None:
        return False
    _register()
    _schedule(sch, block, tile)
    return True


def _schedule(sch: Schedule, block, tile: Tile) -> None:
    batch, i, j, k = sch.get_loops(block)
    i, i_tc = sch.split(i, [None, 16])
    j, j_tc = sch.split(j, [None, 16])
    k, k_tc = sch.split(k, [None, 8])
    sch.reorder(i, j, k, i_tc, j_tc, k_tc)
    inner = block
    outer = sch.blockize(i_tc)
    i0, i1, i2 = sch.split(i, [None, tile.warps_m, tile.tiles_m])
    j0, j1, j2 = sch.split(j, [None, tile.warps_n, tile.tiles_n])
    k0, k1 = sch.split(k, [None, tile.block_k // 8])
    sch.reorder(batch, i0, j0, i1, j1, k0, k1, i2, j2)
    sch.bind(batch, "blockIdx.z")
    sch.bind(i0, "blockIdx.y")
    sch.bind(j0, "blockIdx.x")
    sch.bind(sch.fuse(i1, j1), "threadIdx.y")
    warps = tile.warps_m * tile.warps_n

    loads = []
    for index in (0, 1):
        shared = sch.cache_read(outer, index, "shared")
        sch.compute_at(shared, k0, preserve_unit_loops=True)
        auto_inline_producers(sch, shared)  # the copy reads the operand (its reindexing inlined)
        copy = sch.get_loops(shared)[-2:]
        # the copy's axes are (i or j, k): an operand whose last axis the first indexes alone is
        # contiguous along i or j, and is copied and stored that way (k-major)
        copied = sch.get(shared)
        contiguous = set(tirx.analysis.undefined_vars(copied.reads[0].region[-1].min))
        k_major = bool(contiguous) and contiguous <= {copied.iter_vars[-2].var}
        if k_major:
            sch.transform_layout(shared, ("write", 0), lambda s, r, kk: (s, kk, r))
            copy = copy[::-1]
            sch.reorder(*copy)
        _, ty, tx, vec = sch.split(sch.fuse(*copy), [None, warps, _LANES, 4])
        sch.bind(ty, "threadIdx.y")
        sch.bind(tx, "threadIdx.x")
        sch.vectorize(vec)
        # rows padded so that a fragment's 32 loads hit 32 banks (and stay 16-byte aligned)
        sch.storage_align(shared, 0, axis=-2, factor=32 if k_major else 8, offset=8 if k_major else 4)
        loads.append(k_major)

    a_warp = sch.cache_read(outer, 0, "warp")
    b_warp = sch.cache_read(outer, 1, "warp")
    sch.compute_at(a_warp, k1)
    sch.compute_at(b_warp, k1)
    c_warp = sch.cache_write(outer, 0, "warp")
    sch.reverse_compute_at(c_warp, sch.get_loops(outer)[3])  # the warp's loop (threadIdx.y)
    ci, cj = sch.get_loops(c_warp)[-2:]
    cio, cii = sch.split(ci, [None, 16])
    cjo, cji = sch.split(cj, [None, 16])
    sch.reorder(cio, cjo, cii, cji)
    init = sch.decompose_reduction(outer, k0)

    def fragments(copy, rows: int, cols: int):
        r, c = sch.get_loops(copy)[-2:]
        ro, ri = sch.split(r, [None, rows])
        co, ci_ = sch.split(c, [None, cols])
        sch.reorder(ro, co, ri, ci_)
        return ri

    a_rows, a_cols = (8, 16) if loads[0] else (16, 8)
    b_rows, b_cols = (8, 16) if loads[1] else (16, 8)
    loop_a = fragments(a_warp, a_rows, a_cols)
    loop_b = fragments(b_warp, b_rows, b_cols)

    def layout(fragment, rows: int, cols: int):
        return lambda s, r, c: (s, r // rows, c // cols, *fragment(r % rows, c % cols))

    a_fragment = (lambda kk, i: _a_fragment(i, kk)) if loads[0] else _a_fragment
    b_fragment = _b_fragment if loads[1] else (lambda j, kk: _b_fragment(kk, j))
    sch.transform_layout(a_warp, ("write", 0), layout(a_fragment, a_rows, a_cols))
    sch.transform_layout(b_warp, ("write", 0), layout(b_fragment, b_rows, b_cols))
    sch.transform_layout(c_warp, ("read", 0), layout(_c_fragment, 16, 16))
    sch.tensorize(loop_a, LOAD_A_K_MAJOR if loads[0] else LOAD_A)
    sch.tensorize(loop_b, LOAD_B_K_MAJOR if loads[1] else LOAD_B)
    sch.tensorize(sch.get_loops(inner)[-3], MMA)
    sch.tensorize(sch.get_loops(sch.get_child_blocks(init)[0])[-2], FILL)
    auto_inline_consumer_chain(sch, c_warp)
    sch.tensorize(sch.get_loops(c_warp)[-2], STORE)

    if tile.stages > 1:
        sch.annotate(k0, "software_pipeline_stage", [0, 0, tile.stages - 1])
        sch.annotate(k0, "software_pipeline_order", [0, 1, 2])
        sch.annotate(k0, "software_pipeline_async_stages", [0])
