"""GPU kernels for the loops-stage translation: one kernel per loop nest, scheduled, lowered, planned.

Every func of the translation (`irc.targets.tir`) is split into one kernel
function per top-level block nest. A kernel function takes every buffer of
the func as a parameter (inputs, outputs, constants, then the temporaries the
loops stage allocates), so kernels share buffers through the plan, not
through TVM's host code. Each nest is scheduled by the first rule that lowers
to valid GPU code:

* elementwise: all loops fused, split over `blockIdx.x` x `threadIdx.x`;
* contraction (2+ spatial, reduce iterators): on TF32 tensor cores where the target
  asks (`tf32`, irc.targets.cuda.tensor_core), dlight's `Matmul`, else a
  shared-memory tiling (`schedule_tiled`), else one thread per output;
* reduction with a long reduce domain: one block per output, the reduce
  loop split over the threads (TVM's cross-thread reduction), else one
  thread per output (softmax rows of 10, argmax, conv windows).

TVM lowers the module; the host side of each kernel function (after
`SplitHostDevice`) lists its kernel calls with their launch sizes, which
become the `ExecutionPlan` (`irc.runtime.plan`). The device side is codegen'd
to CUDA C or OpenCL C; on CUDA sm_80+ the copies of pipelined stages are
`cp.async` first (`async_copies`).

    program = compile_gpu(module, target({"kind": "cuda", "arch": "sm_90"}).tvm_target())
    program.source, program.plans["mlp"]
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tvm
import tvm_ffi
from tvm import s_tir, tirx
from tvm.ir import TensorLoad
from tvm.s_tir import Schedule, dlight
from tvm.s_tir.dlight.analysis import get_root_block
from tvm.s_tir.dlight.gpu.matmul import (
    auto_inline_consumer_chain,
    auto_inline_producers,
    get_index_map,
    get_reduction_blocks,
)
from tvm.s_tir.schedule import SBlockRV
from tvm.tirx.build import codegen_build, split_host_device_mods
from xdsl.dialects.builtin import ModuleOp

from irc.errors import CompileError
from irc.runtime.plan import BufferSpec, ExecutionPlan, KernelLaunch, Scalar
from irc.targets.cuda.binary import TF32_MIN_SM, sm_version
from irc.targets.cuda.tensor_core import schedule_tf32
from irc.targets.gpu_module import GPUProgram
from irc.targets.tir import TranslatedFunc, translate_module

# Threads per block of elementwise kernels and the most a reduction uses.
_THREADS = 256
# Reductions over at least this many elements get a whole thread block per output.
_CROSS_THREAD_MIN = 64
# What every kernel must respect (the smallest common limits of current GPUs).
_LIMITS = {"max_shared_memory_per_block": 48 * 1024, "max_threads_per_block": 1024}


# ----------------------------------------------------------------------------- kernel functions


@dataclass
class KernelFunctions:
    """One translated func as kernel functions: `buffers` are every kernel's parameters, in order."""

    entry: TranslatedFunc
    buffers: list[BufferSpec]
    funcs: dict[str, tirx.PrimFunc]  # kernel function name -> unscheduled PrimFunc (one nest)


def _zero_offset(buffer: tirx.Buffer) -> tirx.Buffer:
    return tirx.decl_buffer(buffer.shape, buffer.dtype, buffer.name, data_alignment=buffer.data_alignment)


def split_nests(entry: TranslatedFunc) -> KernelFunctions:
    """One PrimFunc per top-level block nest of `entry`, every buffer a parameter (at offset 0)."""
    func = entry.prim_func
    root = func.body.block
    nests = list(root.body.seq) if isinstance(root.body, tirx.SeqStmt) else [root.body]
    nests = [n for n in nests if not isinstance(n, tirx.Evaluate)]  # no nest (all outputs empty): T.evaluate(0)
    n_in = len(entry.arg_types) - entry.num_outputs
    kinds = ["input"] * n_in + ["output"] * entry.num_outputs + ["const"] * len(entry.constants)
    params = [_zero_offset(b) for b in func.params]
    specialize = dict(zip(func.params, params))
    buffers, seen = [], set()
    for b, kind in zip([*params, *root.alloc_buffers], kinds + ["temp"] * len(root.alloc_buffers)):
        name = b.name if b.name not in seen else f"{b.name}_{len(seen)}"
        seen.add(name)
        buffers.append(BufferSpec(name, tuple(int(d) for d in b.shape), str(b.dtype), kind))
    funcs = {}
    for k, nest in enumerate(nests):
        name = f"{entry.name}_k{k}"
        block = s_tir.SBlock([], [], [], "root", nest)
        body = s_tir.SBlockRealize([], True, block)
        kernel = tirx.PrimFunc([*func.params, *root.alloc_buffers], body, func.ret_type, func.attrs)
        funcs[name] = kernel.specialize(specialize).with_attr("global_symbol", name)
    return KernelFunctions(entry, buffers, funcs)


# ----------------------------------------------------------------------------- schedules


def _is_reduce(iter_var) -> bool:
    return iter_var.iter_type == tirx.IterVar.CommReduce


def _spatial_and_reduce(sch: Schedule, block) -> tuple[list, list]:
    loops = sch.get_loops(block)
    n_spatial = sum(not _is_reduce(iv) for iv in sch.get(block).iter_vars)
    spatial, reduce = list(loops[:n_spatial]), list(loops[n_spatial:])
    if not spatial:
        spatial = [sch.add_unit_loop(loops[0] if loops else block)]
    return spatial, reduce


def _extent(sch: Schedule, loops) -> int:
    return math.prod(int(sch.get(loop).extent) for loop in loops)


def _fuse(sch: Schedule, loops):
    return sch.fuse(*loops) if len(loops) > 1 else loops[0]


def _bind_threads(sch: Schedule, loop, threads: int) -> None:
    outer, inner = sch.split(loop, [None, threads])
    sch.bind(outer, "blockIdx.x")
    sch.bind(inner, "threadIdx.x")


def schedule_elementwise(sch: Schedule, block) -> None:
    """All loops fused, `_THREADS` per block."""
    spatial, _ = _spatial_and_reduce(sch, block)
    fused = _fuse(sch, spatial)
    _bind_threads(sch, fused, min(_THREADS, _extent(sch, [fused])))


def schedule_thread_per_output(sch: Schedule, block) -> None:
    """Each thread computes one output element with a serial reduce loop."""
    spatial, reduce = _spatial_and_reduce(sch, block)
    fused = _fuse(sch, spatial)
    _bind_threads(sch, fused, min(64, _extent(sch, [fused])))
    if reduce and sch.get(block).init is not None:  # after binding: the update alone is no reduction block
        sch.decompose_reduction(block, reduce[0])


def schedule_cross_thread(sch: Schedule, block) -> None:
    """One thread block per output; the fused reduce loop split over its threads (tree reduction)."""
    spatial, reduce = _spatial_and_reduce(sch, block)
    total = _extent(sch, reduce)
    if total < _CROSS_THREAD_MIN:
        raise CompileError("reduction too short for a cross-thread reduction")
    threads = min(_THREADS, 1 << (total - 1).bit_length())
    sch.bind(_fuse(sch, spatial), "blockIdx.x")
    _, inner = sch.split(_fuse(sch, reduce), [None, threads])
    sch.bind(inner, "threadIdx.x")


def _is_multiply_accumulate(block) -> bool:
    """`C[..] = C[..] + A[..] * B[..]` (either operand order) with an init: what `schedule_tiled` handles."""
    store = block.body
    if block.init is None or not isinstance(store, tirx.BufferStore) or not isinstance(store.value, tirx.Add):
        return False
    operands = [store.value.a, store.value.b]
    accumulates = [isinstance(x, TensorLoad) and x.source.same_as(store.buffer) for x in operands]
    return any(accumulates) and any(isinstance(x, tirx.Mul) for x, acc in zip(operands, accumulates) if not acc)


def _tile(extent: int) -> tuple[int, int]:
    """(threads, elements per thread) along one output dim of a tiled contraction."""
    if extent >= 64:
        return 16, 4
    return (16, 1) if extent >= 16 else (1 << (extent - 1).bit_length(), 1)


def schedule_tiled(sch: Schedule, block) -> None:
    """Output tiles per thread block, a small register tile per thread, operands staged in shared memory."""
    spatial, reduce = _spatial_and_reduce(sch, block)
    if len(spatial) < 2 or not reduce or not _is_multiply_accumulate(sch.get(block)):
        raise CompileError("not a contraction (C = C + A * B with an init)")
    *batch, i, j = spatial
    (ti, vi), (tj, vj) = _tile(_extent(sch, [i])), _tile(_extent(sch, [j]))
    bi, ti_loop, vi_loop = sch.split(i, [None, ti, vi])
    bj, tj_loop, vj_loop = sch.split(j, [None, tj, vj])
    k = _fuse(sch, reduce)
    # A k-step that divides the reduce domain: with a remainder step, staging regions of operands
    # indexed by output dims and k together (grouped convolutions) come out wrong.
    k_step = next(n for n in (8, 4, 2, 1) if _extent(sch, [k]) % n == 0)
    ko, ki = sch.split(k, [None, k_step])
    sch.reorder(*batch, bi, bj, ti_loop, tj_loop, ko, ki, vi_loop, vj_loop)
    if batch:
        sch.bind(_fuse(sch, batch), "blockIdx.z")
    sch.bind(bi, "blockIdx.y")
    sch.bind(bj, "blockIdx.x")
    sch.bind(ti_loop, "threadIdx.y")
    sch.bind(tj_loop, "threadIdx.x")
    acc = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(acc, tj_loop)
    output = sch.get(block).writes[0].source
    operands = [n for n, r in enumerate(sch.get(block).reads) if not r.source.same_as(output)]
    for index in operands:
        shared = sch.cache_read(block, index, "shared")
        sch.compute_at(shared, ko)
        copy = _fuse(sch, sch.get_loops(shared)[int(bool(batch)) + 5 :])  # the loops inside ko
        _, ty, tx = sch.split(copy, [None, ti, tj])
        sch.bind(ty, "threadIdx.y")
        sch.bind(tx, "threadIdx.x")
    sch.decompose_reduction(block, ko)


def _with_dlight(rule) -> Callable[[tirx.PrimFunc, tvm.target.Target], Schedule | None]:
    def apply(func: tirx.PrimFunc, target: tvm.target.Target) -> Schedule | None:
        sch = rule.apply(func, target, False)
        return sch[0] if isinstance(sch, list) else sch

    return apply


def _with_own(rule: Callable[[Schedule, object], None], checked: bool = True):
    def apply(func: tirx.PrimFunc, target: tvm.target.Target) -> Schedule:
        sch = Schedule(func, enable_check=checked)
        (block,) = sch.get_child_blocks(sch.get_sblock("root"))
        rule(sch, block)
        return sch

    return apply


#: the "matmul" option's fields that are irc's, not dlight's `Matmul.Config`
_OWN_TILE_FIELDS = ("pipeline_stages", "coalesced", "min_tiles")


class _TiledMatmul(dlight.gpu.Matmul):
    """dlight's Matmul with some of its config fields set (a GPU target's "matmul" option), its k-loop
    software-pipelined where the option asks for `pipeline_stages` > 1 (`pipeline_k_loop`); with
    `coalesced` 1, irc's copy of dlight's schedule whose tile copies read along the operands' rows
    (`coalesced_matmul`); with `min_tiles` n, a matmul of fewer than n output tiles (too few blocks
    to fill the GPU) gets dlight's own default tile instead."""

    def __init__(self, tile: dict[str, int]):
        super().__init__()
        self.tile = {k: v for k, v in tile.items() if k not in _OWN_TILE_FIELDS}
        self.stages = tile.get("pipeline_stages", 1)
        self.coalesced = bool(tile.get("coalesced", 0))
        self.min_tiles = tile.get("min_tiles", 0)

    def get_configs(self, target: tvm.target.Target):
        return dataclasses.replace(super().get_configs(target), **self.tile)

    def _output_tiles(self, func: tirx.PrimFunc, target: tvm.target.Target) -> int | None:
        """How many blocks of this tile the matmul's output takes (None: not a matmul dlight schedules)."""
        normalized = normalized_matmul(func)
        if normalized is None:
            return None
        sch, block = normalized
        s, m, n, _ = (int(iv.dom.extent) for iv in sch.get(block).iter_vars)
        config = self.get_configs(target)
        rows = config.vthread_x * config.block_size_x * config.micro_size_x
        cols = config.vthread_y * config.block_size_y * config.micro_size_y
        return s * -(-m // rows) * -(-n // cols)

    def apply(self, func: tirx.PrimFunc, target: tvm.target.Target, tunable: bool) -> Schedule | None:
        if self.min_tiles and (self._output_tiles(func, target) or 0) < self.min_tiles:
            return dlight.gpu.Matmul().apply(func, target, tunable)
        if self.coalesced:
            sch = coalesced_matmul(func, self.get_configs(target))
        else:
            sch = super().apply(func, target, tunable)
        if isinstance(sch, Schedule) and self.stages > 1:
            pipeline_k_loop(sch, self.stages, async_copies=has_cp_async(target))
        return sch


def normalized_matmul(func: tirx.PrimFunc) -> tuple[Schedule, SBlockRV] | None:
    """A schedule of `func` whose matmul block is normalized as dlight's `Matmul` does it, to
    `C[S, I, J] += A[S, I, K] * B[S, J, K]` (reindexed operands), and that block; None where dlight would
    not schedule the function."""
    sch = Schedule(func)
    blocks = sch.get_child_blocks(get_root_block(sch))
    reduction_blocks = get_reduction_blocks(sch, blocks)
    if reduction_blocks is None:
        return None
    main_block = reduction_blocks[0]
    if not get_index_map(sch.get(main_block)):
        return None
    reindex_a = sch.reindex(main_block, ("read", 0))
    reindex_b = sch.reindex(main_block, ("read", 1))
    reindex_c = sch.reindex(main_block, ("write", 0))
    matmul_map, a_map, b_map, c_map = get_index_map(sch.get(main_block))
    sch.transform_layout(reindex_a, ("write", 0), a_map)
    sch.transform_layout(reindex_b, ("write", 0), b_map)
    sch.transform_layout(reindex_c, ("read", 0), c_map)
    sch.transform_block_layout(main_block, matmul_map)
    return sch, main_block


def coalesced_matmul(func: tirx.PrimFunc, config) -> Schedule | None:
    """TVM dlight's `Matmul` schedule (its SIMT path; `config` a `Matmul.Config`) with the memory traffic
    of a classic SGEMM: tiles copied along the operands' rows, stored k-major, read as vectors.

    dlight normalizes a matmul to `C[s, i, j] += A[s, i, k] * B[s, j, k]`, copies both tiles with k the
    fastest loop into shared tiles laid out [s, i, k] and [s, j, k], and the multiply reads its A and B
    values from them one scalar at a time. For an operand stored k-major (the `b` of `a @ b`, k x n),
    neighbouring threads then read global addresses a row apart, each vector several scalar loads.
    Here:
    * a tile whose operand's last axis is not k is copied with that axis fastest (coalesced vector
      loads, contiguous shared stores); one contiguous along k is copied along k, as dlight does;
    * both shared tiles are laid out [s, k, i] and [s, k, j] (k-major), so a thread's values of one
      k-step are contiguous, and neighbouring threads' rows 8 floats apart rather than a padded row;
    * per k-step each thread first loads its A and B values into registers, as vectors.
    None where dlight would not schedule the function."""
    normalized = normalized_matmul(func)
    if normalized is None:
        return None
    sch, main_block = normalized
    # Step 1. Tile (as dlight, not inner_x)
    y_size = config.vthread_y * config.block_size_y * config.micro_size_y
    x_size = config.vthread_x * config.block_size_x * config.micro_size_x
    sch.pad_einsum(main_block, [1, x_size, y_size, config.micro_size_k])
    batch, x, y, k = sch.get_loops(main_block)
    by, vy, ty, yi = sch.split(y, [None, config.vthread_y, config.block_size_y, config.micro_size_y])
    bx, vx, tx, xi = sch.split(x, [None, config.vthread_x, config.block_size_x, config.micro_size_x])
    ko, ki = sch.split(k, factors=[None, config.micro_size_k])
    sch.reorder(by, bx, vy, vx, ty, tx, ko, ki, xi, yi)
    by = sch.fuse(batch, by)
    sch.bind(bx, "blockIdx.x")
    sch.bind(by, "blockIdx.y")
    sch.bind(vy, "vthread.y")
    sch.bind(vx, "vthread.x")
    sch.bind(ty, "threadIdx.y")
    sch.bind(tx, "threadIdx.x")
    if config.micro_size_y % config.vector_size == 0:
        _, v = sch.split(yi, [None, config.vector_size])
        sch.vectorize(v)
    if config.unroll > 0:
        sch.annotate(tx, ann_key="pragma_auto_unroll_max_step", ann_val=config.unroll)
        sch.annotate(tx, ann_key="pragma_unroll_explicit", ann_val=1)
    l2g = sch.cache_write(main_block, 0, "local")
    sch.reverse_compute_at(l2g, tx, preserve_unit_loops=True)
    if config.micro_size_x % config.vector_size == 0:
        _, v = sch.split(sch.get_loops(l2g)[-1], [None, config.vector_size])
        sch.vectorize(v)

    # Step 2. The tile copies, each along its operand's contiguous axis
    def fetch(index: int) -> None:
        block = sch.cache_read(main_block, index, "shared")
        n_loops = len(sch.get_loops(block))
        sch.compute_at(block, ko, preserve_unit_loops=True)
        auto_inline_producers(sch, block)  # the copy reads the operand (its reindexing inlined)
        loops = sch.get_loops(block)[-n_loops:]
        stmt = sch.get(block)
        grouped = False
        if len(stmt.reads) == 1 and len(loops) == 3:
            # the copy's axes are (s, i or j, k): the operand is stored k-major where its last
            # axis is indexed by the middle one alone
            contiguous = set(tirx.analysis.undefined_vars(stmt.reads[0].region[-1].min))
            along_k = not (contiguous and contiguous <= {stmt.iter_vars[1].var})
            # contiguous along k (the a of a @ b): each thread copies a vector along k and stores it down a
            # column of the k-major tile, one row per element. The rows are grouped by the vector
            # (k // v, k % v), so that each group can be padded on its own below.
            v = config.vector_size
            grouped = along_k and v > 1 and config.micro_size_k % v == 0 and bool(config.storage_align)
            k_major = (lambda s, r, kk: (s, kk // v, kk % v, r)) if grouped else (lambda s, r, kk: (s, kk, r))
            sch.transform_layout(block, ("write", 0), k_major)
            if not along_k:  # copied along its contiguous axis
                loops = [loops[0], loops[2], loops[1]]
                sch.reorder(*loops)
        ty_, tx_, _, vec = sch.split(
            sch.fuse(*loops), factors=[config.block_size_y, config.block_size_x, None, config.vector_size]
        )
        sch.vectorize(vec)
        sch.bind(ty_, "threadIdx.y")
        sch.bind(tx_, "threadIdx.x")
        if grouped:
            # Rows padded to 4 mod 8 floats as below, and groups of v rows to 8 mod 32: the threads of a
            # warp that store the same element of their vectors (one k of each group, 8 neighbouring
            # columns in each) then hit 32 different banks. With the rows alone padded, 4 groups fell
            # on 2 bank offsets: an H200 counted 53M bank conflicts in the 25M shared stores of a 4096
            # matmul (ncu), its largest stall waiting on shared memory; 36M with the groups (the rest
            # are b's vector stores), and the kernel ran 3.45 ms instead of 3.50.
            sch.storage_align(block, 0, axis=2, factor=8, offset=config.vector_size)
            sch.storage_align(block, 0, axis=1, factor=32, offset=8)
        elif config.storage_align:
            sch.storage_align(block, 0, axis=1, factor=8, offset=config.vector_size)

    fetch(0)
    fetch(1)
    # Step 3. Per k, each thread's A and B values in registers first, loaded as vectors from the
    # k-major tiles (they are contiguous there)
    for index in (0, 1):
        fragment = sch.cache_read(main_block, index, "local")
        sch.compute_at(fragment, ki, preserve_unit_loops=True)
        inner = sch.get_loops(fragment)[-1]
        if sch.get(inner).extent.value % config.vector_size == 0:
            _, v = sch.split(inner, [None, config.vector_size])
            sch.vectorize(v)
    auto_inline_consumer_chain(sch, l2g)
    sch.decompose_reduction(main_block, ko)
    return sch


def pipeline_k_loop(sch: Schedule, stages: int, async_copies: bool = False) -> bool:
    """Software-pipeline the k-loop of dlight's (shared-memory) matmul schedule: its body is the copy of
    the A tile to shared memory, the copy of the B tile, and the multiply of the two. The copies become
    stage 0 and the multiply stage `stages` - 1, so TVM's `InjectSoftwarePipeline` gives each tile
    `stages` shared buffers and loads the tiles of k-step i + `stages` - 1 while step i is multiplied
    (double buffering for 2). With `async_copies` (CUDA, sm_80+: `has_cp_async`) stage 0 is asynchronous:
    its copies are grouped (`cp.async.commit_group`) and waited for (`cp.async.wait_group`) by TVM, and
    become `cp.async` instructions in `async_copies` after lowering. False, the schedule unchanged, where
    the k-loop is not of that form (a tensor-core schedule, a schedule without shared memory)."""
    root = sch.get_sblock("root")
    updates = [b for b in sch.get_child_blocks(root) if sch.get(b).name_hint.endswith("_update")]
    if len(updates) != 1:
        return False
    for loop in sch.get_loops(updates[0]):
        body = sch.get(loop).body
        if isinstance(body, tirx.SeqStmt) and len(body.seq) == 3:
            copies = [_realized_blocks(stmt) for stmt in body.seq[:2]]
            if all(len(c) == 1 and c[0].name_hint.endswith("_shared") for c in copies):
                sch.annotate(loop, "software_pipeline_stage", [0, 0, stages - 1])
                sch.annotate(loop, "software_pipeline_order", [0, 1, 2])
                if async_copies:
                    sch.annotate(loop, "software_pipeline_async_stages", [0])
                return True
    return False


def _realized_blocks(stmt) -> list:
    """The blocks of a loop nest with no branching (a copy loop nest), outermost first."""
    blocks = []
    while stmt is not None:
        if isinstance(stmt, s_tir.SBlockRealize):
            blocks.append(stmt.block)
            stmt = stmt.block.body
        elif isinstance(stmt, tirx.For):
            stmt = stmt.body
        else:
            stmt = None
    return blocks


# ----------------------------------------------------------------------------- asynchronous copies


def has_cp_async(target: tvm.target.Target) -> bool:
    """Whether `target` is CUDA on sm_80 or newer, whose global -> shared copies can be `cp.async` (and
    whose tensor cores take TF32)."""
    return target.kind.name == "cuda" and sm_version(str(target.attrs.get("arch", ""))) >= TF32_MIN_SM


_CP_ASYNC = "tirx.s_tir.cp_async_raw"
_IF_THEN_ELSE = "prim.if_then_else"


def async_copies(func: tirx.PrimFunc) -> tirx.PrimFunc:
    """`func` (a lowered CUDA device function) with the global -> shared stores of its asynchronous
    pipeline stages (`async_scope`, from `software_pipeline_async_stages`) as `cp.async` copies (TVM's
    `cp_async_raw`, commit and wait groups are TVM's already).

    TVM's own pass for this (`s_tir.InjectPTXAsyncCopy`, pass config `tirx.use_async_copy`) copies
    `lanes` contiguous elements from the first address of a vector load or store whatever its stride
    (dlight's copy of the B tile of `a @ b` reads down a column: `B[T.Ramp(i, n, 4)]` would load
    B[i..i+3] instead of B[i], B[i+n], ...; the `coalesced` tile's A copy stores across k likewise), and
    stops with a failed check where a vector is stored into a shared buffer of vector type (the B copy of
    the `coalesced` tile). Here a store becomes one copy of 4, 8 or 16 bytes where both its sides are
    contiguous, one 4-byte copy per element where a side is strided, and stays a plain (synchronous, still
    correct) store where neither fits; a store guarded by `if_then_else(p, load, 0)` (padded tiles)
    becomes a predicated copy that fills zeros where `p` is false."""
    body = _rewrite_async(func.body, False)
    return func if body.same_as(func.body) else func.with_body(body)


def _rewrite_async(stmt, in_async: bool):
    """`stmt` with the stores inside `async_scope` attributes replaced by `_cp_async` copies."""
    if isinstance(stmt, tirx.SeqStmt):
        seq = [_rewrite_async(s, in_async) for s in stmt.seq]
        if all(new.same_as(old) for new, old in zip(seq, stmt.seq)):
            return stmt
        flat = [s for new in seq for s in (new.seq if isinstance(new, tirx.SeqStmt) else [new])]
        return tirx.SeqStmt(flat)
    if isinstance(stmt, tirx.AttrStmt):
        body = _rewrite_async(stmt.body, in_async or stmt.attr_key == "async_scope")
        return stmt if body.same_as(stmt.body) else tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, body)
    if isinstance(stmt, tirx.For):
        body = _rewrite_async(stmt.body, in_async)
        if body.same_as(stmt.body):
            return stmt
        return tirx.For(
            stmt.loop_var, stmt.min, stmt.extent, stmt.kind, body, stmt.thread_binding, stmt.annotations, stmt.step
        )
    if isinstance(stmt, tirx.IfThenElse):
        then = _rewrite_async(stmt.then_case, in_async)
        other = None if stmt.else_case is None else _rewrite_async(stmt.else_case, in_async)
        if then.same_as(stmt.then_case) and (other is None or other.same_as(stmt.else_case)):
            return stmt
        return tirx.IfThenElse(stmt.condition, then, other)
    if isinstance(stmt, tirx.While):
        body = _rewrite_async(stmt.body, in_async)
        return stmt if body.same_as(stmt.body) else tirx.While(stmt.condition, body)
    if in_async and isinstance(stmt, tirx.BufferStore):
        copies = _cp_async(stmt)
        if copies:
            return copies[0] if len(copies) == 1 else tirx.SeqStmt(copies)
    return stmt


def _lane_offsets(buffer: tirx.Buffer, indices, lanes: int) -> tuple[object, list | None] | None:
    """Where the `lanes` elements of a flat access of `buffer` lie, in scalars: (first offset, None) where
    they are contiguous, (None, each lane's offset) where they are strided; None for an access of
    another form. (TVM's `cp_async_raw` codegen scales an offset by the size of the pointer's scalar,
    also for a buffer of a vector type: one of `float32x4` is 4 bytes, not 16.)"""
    if len(indices) != 1:
        return None
    (index,) = indices
    buffer_lanes = tvm.DataType(str(buffer.dtype)).lanes
    if buffer_lanes > 1:  # a vector-typed buffer: one scalar index addresses `lanes` elements
        return (index * buffer_lanes, None) if buffer_lanes == lanes and _lanes_of(index) == 1 else None
    if lanes == 1 and _lanes_of(index) == 1:
        return index, None
    if isinstance(index, tirx.Ramp) and int(index.lanes) == lanes:
        if isinstance(index.stride, tirx.IntImm) and int(index.stride) == 1:
            return index.base, None
        return None, [index.base + index.stride * i for i in range(lanes)]
    return None


def _lanes_of(expr) -> int:
    return tvm.DataType(str(expr.ty.dtype)).lanes


def _cp_async(store: tirx.BufferStore) -> list[tirx.Evaluate] | None:
    """The `cp.async` copies that do `store` (a global -> shared copy), or None where they cannot."""
    dst = store.buffer
    value, predicate = store.value, None
    if isinstance(value, tvm.ir.Call) and getattr(value.op, "name", "") == _IF_THEN_ELSE:
        predicate, value, otherwise = value.args
        if isinstance(otherwise, tirx.Broadcast):
            otherwise = otherwise.value
        if not isinstance(otherwise, tirx.FloatImm | tirx.IntImm) or otherwise.value != 0:
            return None  # cp.async fills zeros where its predicate is false
        if _lanes_of(predicate) != 1:
            return None
    if dst.scope() not in ("shared", "shared.dyn") or not isinstance(value, TensorLoad):
        return None
    src = value.source
    if src.scope() != "global":
        return None
    lanes = _lanes_of(value)
    element = tvm.DataType(str(src.dtype))
    if element.lanes != 1:
        return None
    element_bytes = element.bits // 8
    to, frm = _lane_offsets(dst, store.indices, lanes), _lane_offsets(src, value.indices, lanes)
    if to is None or frm is None:
        return None
    extra = [] if predicate is None else [predicate]

    def copy(dst_offset, src_offset, size: int) -> tirx.Evaluate:
        call = tirx.call_intrin(str(src.dtype), _CP_ASYNC, dst.data, dst_offset, src.data, src_offset, size, *extra)
        return tirx.Evaluate(call)

    if to[1] is None and frm[1] is None and lanes * element_bytes in (4, 8, 16):
        return [copy(to[0], frm[0], lanes * element_bytes)]
    if element_bytes not in (4, 8, 16):
        return None  # cp.async copies 4, 8 or 16 bytes
    to_lanes = to[1] or [to[0] + i for i in range(lanes)]
    from_lanes = frm[1] or [frm[0] + i for i in range(lanes)]
    return [copy(t, f, element_bytes) for t, f in zip(to_lanes, from_lanes)]


#: the rule of float32 matmuls on TF32 tensor cores (a cuda target's option "tf32")
TF32_RULE = "tf32-mma"


def _tf32(func: tirx.PrimFunc, target: tvm.target.Target) -> Schedule | None:
    normalized = normalized_matmul(func) if has_cp_async(target) else None
    return normalized[0] if normalized is not None and schedule_tf32(*normalized) else None


def _rules(
    func: tirx.PrimFunc, matmul_tile: dict[str, int] | None = None, tf32: bool = False
) -> list[tuple[str, Callable]]:
    """The schedules to try for the one nest of `func`, best first (`matmul_tile`: dlight Matmul's config;
    `tf32`: float32 matmuls on TF32 tensor cores first)."""
    nest = Schedule(func)
    blocks = nest.get_child_blocks(nest.get_sblock("root"))
    if len(blocks) != 1:
        raise CompileError(f"{func.attrs['global_symbol']}: expected one block nest, found {len(blocks)}")
    iter_vars = nest.get(blocks[0]).iter_vars
    n_reduce = sum(_is_reduce(iv) for iv in iter_vars)
    if not n_reduce:
        return [("elementwise", _with_own(schedule_elementwise))]
    rules = []
    if len(iter_vars) - n_reduce >= 2:
        matmul = dlight.gpu.Matmul() if matmul_tile is None else _TiledMatmul(matmul_tile)
        rules += [(TF32_RULE, _tf32)] if tf32 else []
        rules += [("dlight.Matmul", _with_dlight(matmul)), ("tiled", _with_own(schedule_tiled))]
    return rules + [
        ("cross-thread", _with_own(schedule_cross_thread)),
        # Blocks without an init (argmax: two stores) are no "reduction block" for TVM's dataflow
        # check; one thread per output keeps the whole reduce loop in one thread, so it is safe anyway.
        ("thread-per-output", _with_own(schedule_thread_per_output, checked=False)),
    ]


def _lower(
    mod: tvm.IRModule, target: tvm.target.Target, tensor_cores: bool = False
) -> tuple[tvm.IRModule, tvm.IRModule]:
    """TVM's default TIR pipeline: (host functions right after SplitHostDevice, finalized device module).
    On CUDA sm_80+ the device functions get their `cp.async` copies (`async_copies`) before they are
    finalized.

    `tensor_cores` (a kernel of `TF32_RULE`): without TVM's common subexpression elimination, which binds
    the fragment indices of warp buffers to variables that `LowerWarpMemory` (it runs after, when the
    device module is finalized) cannot see the lane in ("require positive constant coefficient on warp
    index threadIdx_x"), and with every warp buffer lowered (`_lower_warp_memory`)."""

    @tvm.instrument.pass_instrument
    class HostCapture:
        host = None

        def run_before_pass(self, mod, info):
            if info.name == "tirx.MakePackedAPI":
                self.host = mod

    capture = HostCapture()
    mod = tirx.transform.BindTarget(target)(mod)
    pipeline, _, finalize_device = tirx.get_tir_pipeline("default")
    config = {"tirx.disable_cse_tir": True} if tensor_cores else {}
    with tvm.transform.PassContext(instruments=[capture], config=config):
        lowered = pipeline(mod)
    _, devices = split_host_device_mods(lowered)
    device = next(iter(devices.values()), tvm.IRModule({}))
    if has_cp_async(target):
        device = device.clone()
        for gv, kernel in list(device.functions.items()):
            device.update_func(gv, async_copies(kernel))
    if tensor_cores:
        device = _lower_warp_memory(device)
    device = finalize_device()(device)
    for gv, kernel in device.functions.items():
        if not s_tir.analysis.verify_gpu_code(kernel, _LIMITS):
            raise CompileError(f"kernel {gv.name_hint} exceeds the GPU limits {_LIMITS}")
    return capture.host, device


def _lower_warp_memory(device: tvm.IRModule) -> tvm.IRModule:
    """`device` with every warp-scope buffer lowered to registers. TVM's `LowerWarpMemory` lowers only
    the first warp buffer allocated in a statement sequence (it rewrites the statements after it as that
    buffer's scope and does not visit them again), so a tensor-core kernel's A and B fragments stayed
    arrays of a whole warp's fragments in every thread; each run lowers at least one more."""
    for _ in range(max((_warp_buffers(kernel.body) for kernel in device.functions.values()), default=0)):
        device = tirx.transform.LowerWarpMemory()(device)
    return device


def _warp_buffers(stmt) -> int:
    """How many warp-scope buffers `stmt` allocates."""
    if isinstance(stmt, tirx.AllocBuffer):
        return int(stmt.buffer.scope() == "warp")
    if isinstance(stmt, tirx.SeqStmt):
        return sum(_warp_buffers(s) for s in stmt.seq)
    if isinstance(stmt, tirx.IfThenElse):
        return _warp_buffers(stmt.then_case) + (0 if stmt.else_case is None else _warp_buffers(stmt.else_case))
    body = getattr(stmt, "body", None)
    return 0 if body is None else _warp_buffers(body)


def schedule_kernel(
    func: tirx.PrimFunc,
    target: tvm.target.Target,
    check: bool = True,
    matmul_tile: dict[str, int] | None = None,
    tf32: bool = False,
) -> tuple[str, tirx.PrimFunc]:
    """(rule name, scheduled func) for the first rule whose result lowers to valid GPU code (`check`), or
    (not `check`) for the first rule that schedules it: TVM lowers those almost always (a rule refuses by
    raising, and only 1 of ~450 kernels of the test suite's GPU programs then failed to lower)."""
    name = func.attrs["global_symbol"]
    errors = []
    for rule_name, rule in _rules(func, matmul_tile, tf32):
        try:
            sch = rule(func, target)
            if sch is None:
                continue
            scheduled = sch.mod["main"].with_attr("global_symbol", name)
            if check:
                _lower(tvm.IRModule({name: scheduled}), target, tensor_cores=rule_name == TF32_RULE)
            return rule_name, scheduled
        except Exception as e:  # noqa: BLE001 - any failing rule (TVM raises assorted errors) falls back to the next
            errors.append(f"{rule_name}: {str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__}")
    raise CompileError(f"no GPU schedule applies to {name}: {'; '.join(errors)}")


# ----------------------------------------------------------------------------- plans


def _host_statements(stmt) -> list:
    """The flat statement list of a host function body (allocations, buffer declarations, kernel calls)."""
    if isinstance(stmt, tirx.SeqStmt):
        return [s for child in stmt.seq for s in _host_statements(child)]
    body = getattr(stmt, "body", None)
    if isinstance(stmt, tirx.AllocBuffer | tirx.DeclBuffer | tirx.AttrStmt) and body is not None:
        return [stmt, *_host_statements(body)]
    return [stmt]


class _Buffers:
    """Host buffer var -> plan buffer id, by identity (TVM expressions compare by building `==` nodes)."""

    def __init__(self):
        self._items: list[tuple[object, str]] = []

    def __setitem__(self, buffer, id_: str) -> None:
        self._items.append((buffer, id_))

    def get(self, expr) -> str | None:
        """The id of a buffer, or of `buffer_data(buffer)`; None for other expressions."""
        if isinstance(expr, tvm.ir.Call) and getattr(expr.op, "name", "") == "tirx.buffer_data":
            expr = expr.args[0]
        return next((id_ for buffer, id_ in self._items if buffer.same_as(expr)), None)


def _scalar(expr) -> Scalar:
    if isinstance(expr, tirx.IntImm | tirx.FloatImm):
        return Scalar(expr.value, str(expr.dtype))
    raise CompileError(f"kernel argument {expr} is not a constant (irc plans need static shapes)")


#: device function name -> (its parameter count, `written_params`)
Writes = dict[str, tuple[int, tuple[int, ...] | None]]


def _launches(
    host: tirx.PrimFunc, kernels: KernelFunctions, plan_buffers: list[BufferSpec], writes: Writes
) -> list[KernelLaunch]:
    """Kernel calls of one lowered kernel function, with its data vars mapped to plan buffer ids and
    `writes` (device function name -> its parameter count and `written_params`).

    Global scratch buffers TVM allocates on the host side become new temporaries of the plan."""
    ids = _Buffers()
    for param, spec in zip(host.params, kernels.buffers):
        ids[param] = spec.id
    launches = []
    for stmt in _host_statements(host.body):
        b = getattr(stmt, "buffer", None)
        if isinstance(stmt, tirx.AllocBuffer):
            spec = BufferSpec(f"{host.attrs['global_symbol']}_{b.name}", (math.prod(b.shape),), str(b.dtype), "temp")
            plan_buffers.append(spec)
            ids[b] = spec.id
        elif isinstance(stmt, tirx.DeclBuffer):
            base, offset = ids.get(stmt.data), int(b.elem_offset)
            if base is not None and offset:
                shape = tuple(int(d) for d in b.shape)
                plan_buffers.append(BufferSpec(f"{base}@{offset}", shape, str(b.dtype), "temp", base, offset))
                base = plan_buffers[-1].id
            if base is not None:
                ids[b] = base
        elif isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, tvm.ir.Call):
            call = stmt.value
            if str(call.op) != "Op(tirx.call_ffi_kernel)" and getattr(call.op, "name", "") != "tirx.call_ffi_kernel":
                raise CompileError(f"unexpected host call {call}")
            launches.append(_launch(call, ids, writes))
        else:
            raise CompileError(f"unexpected host statement in {host.attrs['global_symbol']}: {type(stmt).__name__}")
    return launches


#: statements that only order threads (no memory of a kernel argument changes)
_BARRIERS = ("tirx.tvm_storage_sync",)
#: calls that write memory through one of their arguments, by its position: `cp.async` (to shared memory)
#: and `mma` (to the accumulator's registers)
_WRITES_THROUGH = {_CP_ASYNC: 0, "tirx.ptx_legacy.mma": 10}


def written_params(kernel: tirx.PrimFunc) -> tuple[int, ...] | None:
    """Positions of the parameters of a lowered device function that it may write: the buffers its stores
    go to (declared on a parameter: `T.decl_buffer(..., data=p)`), and the parameters a `cp.async` or `mma`
    call writes through (`_WRITES_THROUGH`; they write shared memory and registers). None, every buffer
    parameter written, where the body holds something this does not follow (another call statement but a
    barrier, a buffer declared on something but a parameter or the kernel's own memory, a statement kind
    it does not know)."""
    params = list(kernel.params)
    declared: list[tuple[object, int | str | None]] = []  # (buffer, parameter position, "local" or None)
    allocated: list[object] = []  # the data of the kernel's own buffers (TVM may declare others on them)
    stored: list[object] = []
    written_through: set[int] = set()  # parameters a call writes through

    def walk(stmt) -> bool:
        if isinstance(stmt, tirx.SeqStmt):
            return all(walk(s) for s in stmt.seq)
        if isinstance(stmt, tirx.BufferStore):
            stored.append(stmt.buffer)
            return True
        body = getattr(stmt, "body", None)  # declarations hold their scope or stand in a sequence
        if isinstance(stmt, tirx.DeclBuffer):
            data = stmt.data
            own = "local" if any(tvm_ffi.structural_equal(a, data) for a in allocated) else None
            declared.append((stmt.buffer, next((i for i, p in enumerate(params) if p.same_as(data)), own)))
            return body is None or walk(body)
        if isinstance(stmt, tirx.AllocBuffer):  # the kernel's own shared or local memory
            allocated.append(stmt.buffer.data)
            return body is None or walk(body)
        if isinstance(stmt, tirx.IfThenElse):
            return walk(stmt.then_case) and (stmt.else_case is None or walk(stmt.else_case))
        if isinstance(stmt, tirx.Evaluate):
            value = stmt.value
            name = getattr(value.op, "name", "") if isinstance(value, tvm.ir.Call) else ""
            if name in _WRITES_THROUGH:
                pointer = value.args[_WRITES_THROUGH[name]]
                written_through.update(i for i, p in enumerate(params) if p.same_as(pointer))
                return True
            return name in _BARRIERS
        if isinstance(stmt, tirx.Bind):  # a scalar let: its value is an expression (loads, arithmetic)
            return True
        if isinstance(stmt, tirx.For | tirx.AttrStmt | tirx.While | tirx.LetStmt):
            return walk(stmt.body)
        return False

    if not walk(kernel.body):
        return None
    written = set(written_through)
    for buffer in stored:
        owner = next((position for b, position in declared if b.same_as(buffer)), "local")
        if owner is None:
            return None
        if owner != "local":
            written.add(owner)
    return tuple(sorted(written))


def _launch(call, ids: _Buffers, writes: Writes) -> KernelLaunch:
    name, *args = call.args
    tags = list(call.attrs.launch_params)
    value_tags = [t for t in tags if t.startswith(("blockIdx", "threadIdx")) or t == "tirx.use_dyn_shared_memory"]
    n_values = len(value_tags)
    operands, values = args[: len(args) - n_values], args[len(args) - n_values :]
    sizes = {"blockIdx": [1, 1, 1], "threadIdx": [1, 1, 1]}
    shared = 0
    for tag, value in zip(value_tags, values):
        if tag == "tirx.use_dyn_shared_memory":
            shared = int(value)
        else:
            kind, axis = tag.split(".")
            sizes[kind]["xyz".index(axis)] = int(value)
    kernel_args = tuple(ids.get(a) or _scalar(a) for a in operands)
    name = str(name.value)
    grid, block = tuple(sizes["blockIdx"]), tuple(sizes["threadIdx"])
    count, written = writes.get(name, (None, None))
    if count != len(kernel_args):  # parameters that are not the call's arguments: writes unknown
        written = None
    return KernelLaunch(name, kernel_args, grid, block, shared, written)


def compile_gpu(
    module: ModuleOp, target: tvm.target.Target, matmul_tile: dict[str, int] | None = None, tf32: bool = False
) -> GPUProgram:
    """Translate, split, schedule and lower `module`; the device source and the plans (see module docstring).
    `matmul_tile`: dlight Matmul config fields for the matmul schedule (a GPU target's "matmul" option);
    `tf32`: float32 matmuls on TF32 tensor cores where they fit (a cuda target's "tf32" option, sm_80+)."""
    entries = [split_nests(f) for f in translate_module(module, scratch_scope="local")]
    funcs = {name: func for kernels in entries for name, func in kernels.funcs.items()}
    # each kernel gets the first rule that schedules it, and the module is lowered once; lowering each
    # kernel on its own to check its rule doubled the lowering (7 of the 21 s of a CNN training step's
    # OpenCL compile). Where the module does not lower, each kernel's rule is checked alone.
    scheduled, schedules = {}, {}
    for name, func in funcs.items():
        schedules[name], scheduled[name] = schedule_kernel(func, target, False, matmul_tile, tf32)
    try:
        mod = tvm.IRModule(scheduled)
        host, device = _lower(mod, target, tensor_cores=TF32_RULE in schedules.values())
    except Exception:  # noqa: BLE001 - a schedule TVM accepted but cannot lower: check each kernel's
        for name, func in funcs.items():
            schedules[name], scheduled[name] = schedule_kernel(func, target, True, matmul_tile, tf32)
        mod = tvm.IRModule(scheduled)
        host, device = _lower(mod, target, tensor_cores=TF32_RULE in schedules.values())
    writes = {gv.name_hint: (len(kernel.params), written_params(kernel)) for gv, kernel in device.functions.items()}
    plans = {}
    for kernels in entries:
        entry = kernels.entry
        buffers = list(kernels.buffers)
        launches = [launch for name in kernels.funcs for launch in _launches(host[name], kernels, buffers, writes)]
        consts = [b.id for b in buffers if b.kind == "const"]
        plans[entry.name] = ExecutionPlan(
            entry.name,
            [b.id for b in buffers if b.kind == "input"],
            [b.id for b in buffers if b.kind == "output"],
            buffers,
            launches,
            {name: np.asarray(c, order="C") for name, c in zip(consts, entry.constants)},
        )
    source = device_source(device, target) if device.functions else ""
    return GPUProgram(mod.script(), source, plans, schedules)


#: the factory TVM's CUDA codegen hands its source to when TVM's CUDA runtime is loaded (a CUDA driver is there)
_CUDA_MODULE_FACTORY = "ffi.Module.create.cuda"


_registry_lock = threading.Lock()


@contextlib.contextmanager
def _without_global_func(name: str) -> Iterator[None]:
    """TVM's global function `name` unregistered inside the block (put back after it); one block at a time."""
    with _registry_lock:
        func = tvm_ffi.get_global_func(name, allow_missing=True)
        if func is None:
            yield
            return
        tvm_ffi.remove_global_func(name)
        try:
            yield
        finally:
            tvm_ffi.register_global_func(name, func, override=True)


def device_source(device: tvm.IRModule, target: tvm.target.Target) -> str:
    """The CUDA C / OpenCL C of the lowered device module: TVM's codegen, source only.

    Where a CUDA driver is loaded, TVM's CUDA runtime registers a module factory that compiles the
    source at once through the `tvm_callback_cuda_compile` hook (NVRTC by default): a second, uncached
    compile beside irc's own (`irc.targets.cuda.cubin`), which failed on dlight's matmuls (see
    `irc.targets.cuda.fix_vector_alignment`). Without the factory, TVM's codegen keeps the source in a
    source-only module, as on a machine without a driver.
    """
    hide = _without_global_func(_CUDA_MODULE_FACTORY) if target.kind.name == "cuda" else contextlib.nullcontext()
    with hide:
        return codegen_build(device, target).inspect_source()
