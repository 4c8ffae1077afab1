"""CPU schedules for the TIR blocks of the loops-stage translation.

Each block is classified by its iterators and body, then scheduled:

* elementwise (only spatial iterators): fuse, parallel outer, vectorize inner;
* contraction (2+ spatial, reduce iterators, a `C += A * B` body with `B`'s
  last index the innermost spatial iterator): pack `B` into panels, tile for
  a register-resident `MR x NR` accumulator, vectorize, parallel;
* other reductions: parallel over the spatial iterators, init hoisted.

    mod = schedule_cpu(mod, "fn", cpu_info(target))
"""

from __future__ import annotations

import math

from tvm import IRModule, s_tir, tirx
from tvm.ir import TensorLoad
from tvm.s_tir import Schedule

from irc.targets.llvm import CPUInfo

# Below this many elements a nest runs serially: the thread pool costs more.
_MIN_PARALLEL_WORK = 1 << 14


def _block(sch: Schedule, rv) -> s_tir.SBlock:
    return sch.get(rv)


def _extents(sch: Schedule, loops) -> list[int]:
    return [int(sch.get(loop).extent) for loop in loops]


def _is_reduce(iter_var) -> bool:
    return iter_var.iter_type == tirx.IterVar.CommReduce


def _store(block: s_tir.SBlock) -> tirx.BufferStore | None:
    return block.body if isinstance(block.body, tirx.BufferStore) else None


def _largest_divisor(n: int, candidates: list[int]) -> int:
    return next((c for c in candidates if n % c == 0), 1)


def schedule_elementwise(sch: Schedule, block, cpu: CPUInfo) -> None:
    """Fuse all loops; parallel chunks outside, SIMD lanes inside."""
    loops = sch.get_loops(block)
    if not loops:
        return
    total = math.prod(_extents(sch, loops))
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    store = _store(_block(sch, block))
    lanes = cpu.lanes(str(store.buffer.dtype)) if store is not None else 1
    if total % lanes == 0 and total >= lanes:
        outer, inner = sch.split(fused, [None, lanes])
        sch.vectorize(inner)
    else:
        outer = fused
    if total >= _MIN_PARALLEL_WORK:
        sch.parallel(outer)


def schedule_reduction(sch: Schedule, block, cpu: CPUInfo) -> None:
    """Parallel over the fused spatial loops; the init leaves the reduce loops."""
    block_stmt = _block(sch, block)
    loops = sch.get_loops(block)
    n_spatial = sum(not _is_reduce(iv) for iv in block_stmt.iter_vars)
    if block_stmt.init is not None:
        sch.decompose_reduction(block, loops[n_spatial])
    if n_spatial == 0:
        return
    spatial = loops[:n_spatial]
    work = math.prod(_extents(sch, loops))
    fused = sch.fuse(*spatial) if n_spatial > 1 else spatial[0]
    if work >= _MIN_PARALLEL_WORK and int(sch.get(fused).extent) > 1:
        sch.parallel(fused)


def _contraction_operands(block: s_tir.SBlock):
    """(output store, A load, B load) of a `C[..] = C[..] + A[..] * B[..]` block, else None."""
    store = _store(block)
    if store is None or not isinstance(store.value, tirx.Add):
        return None
    acc, product = store.value.a, store.value.b
    if not isinstance(acc, TensorLoad) or not acc.source.same_as(store.buffer):
        acc, product = product, acc
    if not isinstance(acc, TensorLoad) or not isinstance(product, tirx.Mul):
        return None
    loads = [product.a, product.b]
    if not all(isinstance(x, TensorLoad) for x in loads):
        return None
    spatial = [iv.var for iv in block.iter_vars if not _is_reduce(iv)]
    j = spatial[-1]
    if len(spatial) < 2 or not (isinstance(store.indices[-1], tirx.Var) and store.indices[-1].same_as(j)):
        return None
    # B is the operand whose last index is j (contiguous along the vector dim); A must not use j.
    for b_load, a_load in (loads, loads[::-1]):
        last = b_load.indices[-1]
        if isinstance(last, tirx.Var) and last.same_as(j) and not _uses(a_load, j):
            return store, a_load, b_load
    return None


def _uses(load: TensorLoad, var: tirx.Var) -> bool:
    return any(v.same_as(var) for v in tirx.analysis.undefined_vars(load))


def schedule_contraction(sch: Schedule, block, cpu: CPUInfo) -> bool:
    """Register-tiled, B-packed matmul-like schedule; False if the block does not fit the pattern."""
    block_stmt = _block(sch, block)
    operands = _contraction_operands(block_stmt)
    if operands is None or block_stmt.init is None:
        return False
    store, _, b_load = operands
    loops = sch.get_loops(block)
    n_spatial = sum(not _is_reduce(iv) for iv in block_stmt.iter_vars)
    extents = _extents(sch, loops)
    lanes = cpu.lanes(str(store.buffer.dtype))
    nr = _largest_divisor(extents[n_spatial - 1], [2 * lanes, lanes])
    mr = _largest_divisor(extents[n_spatial - 2], [6, 4, 3, 2])
    if nr < lanes:
        return False
    _pack_panels(sch, block, b_load, block_stmt, nr)
    *batch, i, j = loops[:n_spatial]
    reduce = loops[n_spatial:]
    io, ii = sch.split(i, [None, mr])
    jo, ji = sch.split(j, [None, nr])
    sch.reorder(*batch, jo, io, *reduce, ii, ji)
    acc = sch.cache_write(block, 0, "global")
    sch.reverse_compute_at(acc, io)
    sch.unroll(ii)
    sch.vectorize(ji)
    outer = sch.fuse(*batch, jo, io)
    if math.prod(extents) >= _MIN_PARALLEL_WORK:
        sch.parallel(outer)
    init = sch.decompose_reduction(block, reduce[0])
    for rv in (init, acc):
        inner = sch.get_loops(rv)
        sch.vectorize(inner[-1])
        sch.unroll(inner[-2])
    return True


def _pack_panels(sch: Schedule, block, b_load: TensorLoad, block_stmt, nr: int) -> None:
    """Copy B[..., k, j] into B[..., j // nr, k, j % nr]: each micro-kernel then streams one contiguous panel."""
    index = next((n for n, r in enumerate(block_stmt.reads) if r.source.same_as(b_load.source)), None)
    if index is None or len(b_load.source.shape) < 2 or not all(isinstance(x, tirx.Var) for x in b_load.indices[-2:]):
        return
    packed = sch.cache_read(block, index, "global")
    sch.transform_layout(packed, ("write", 0), lambda *idx: (*idx[:-2], idx[-1] // nr, idx[-2], idx[-1] % nr))
    loops = sch.get_loops(packed)
    _, lanes_loop = sch.split(loops[-1], [None, nr])
    sch.vectorize(lanes_loop)
    sch.parallel(sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0])


def schedule_cpu(mod: IRModule, func_name: str, cpu: CPUInfo) -> IRModule:
    """Schedule every block of `func_name` in `mod` for the CPU described by `cpu`."""
    sch = Schedule(mod)
    sch.work_on(func_name)
    root = sch.get_sblock("root")
    for block in sch.get_child_blocks(root):
        iter_vars = _block(sch, block).iter_vars
        if not any(_is_reduce(iv) for iv in iter_vars):
            schedule_elementwise(sch, block, cpu)
        elif not schedule_contraction(sch, block, cpu):
            schedule_reduction(sch, block, cpu)
    return sch.mod
