"""CPU schedules for the TIR blocks of the loops-stage translation.

Each block is classified by its iterators and body, then scheduled by the first
rule of its class whose preconditions hold:

* elementwise (only spatial iterators): fuse, parallel outer, vectorize inner;
* contraction (2+ spatial, reduce iterators, a `C += A * B` body with `B`'s
  last index the innermost spatial iterator): pack `B` into panels, tile for
  a register-resident `MR x NR` accumulator, vectorize, parallel (a narrow
  output, like a classifier's 10 columns, is one panel);
* row reduction (the reduced index is the contiguous one, as in softmax rows):
  `rfactor` into SIMD-lane partial results, vectorized, then a short final sum;
* column reduction (the last spatial index is the contiguous one): SIMD lanes
  of the output innermost, the reduce loops around them;
* other reductions: parallel over the spatial iterators, init hoisted.

Rules are fail-safe: each runs on a copy of the schedule (or, for the simple
elementwise rules, in place: see `_rules`), and if a TVM primitive still refuses
it, the block falls back to the next, simpler rule (in the end, no schedule at
all). A schedule primitive that succeeds preserves the semantics, so a fallback
costs speed, never correctness. The refusals are returned as notes.

    mod, notes = schedule_cpu(mod, "fn", cpu_info(target))
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable

import tvm
from tvm import IRModule, s_tir, tirx
from tvm.ir import TensorLoad
from tvm.s_tir import Schedule
from tvm.s_tir.schedule import LoopRV

from irc.targets.llvm.cpu import CPUInfo

# Below this many elements a nest runs serially: the thread pool costs more.
_MIN_PARALLEL_WORK = 1 << 14
# A contraction with at least this many B panels runs them in parallel, each packed by its task.
_MIN_PANEL_TASKS = 8
# A contraction whose vector iterator is at most two SIMD registers wide and not a multiple
# of one still gets the register-tiled schedule (its whole width as one panel) from this width on.
_MIN_NARROW_PANEL = 4
# Reduce steps of the contraction micro-kernel unrolled together.
_K_UNROLL = 8
# Row reductions shorter than this many SIMD vectors are not worth an rfactor.
_MIN_VECTOR_ROW = 4

# A rule schedules one block (by name) in place; False: its preconditions do not hold.
# The schedule_* functions also take the function's writer counts, bound by `_rules`.
Rule = Callable[[Schedule, str, CPUInfo], bool]


def _block(sch: Schedule, rv) -> s_tir.SBlock:
    return sch.get(rv)


def _extents(sch: Schedule, loops) -> list[int]:
    return [int(sch.get(loop).extent) for loop in loops]


def _is_reduce(iter_var) -> bool:
    return iter_var.iter_type == tirx.IterVar.CommReduce


def _n_spatial(block: s_tir.SBlock) -> int:
    return sum(not _is_reduce(iv) for iv in block.iter_vars)


def _store(block: s_tir.SBlock) -> tirx.BufferStore | None:
    return block.body if isinstance(block.body, tirx.BufferStore) else None


def _output_store(block: s_tir.SBlock) -> tirx.BufferStore | None:
    """The block's one store to a buffer outside it, after any stores to its own scratch buffers (values
    the translator materialized: `irc.targets.tir._FuncTranslator._materialized`)."""
    stmts = top_statements(block.body)
    own = set(block.alloc_buffers)
    if not all(isinstance(s, tirx.BufferStore) for s in stmts) or any(s.buffer in own for s in stmts[-1:]):
        return None
    if any(s.buffer not in own for s in stmts[:-1]):
        return None
    return stmts[-1]


def _largest_divisor(n: int, candidates: list[int]) -> int:
    return next((c for c in candidates if n % c == 0), 1)


def count_writers(sch: Schedule) -> Counter:
    """How many blocks write each buffer (see `_only_writer`)."""
    writers = Counter()
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        writers.update(region.source for region in _block(sch, block).writes)
    return writers


def _only_writer(sch: Schedule, rv, writers: Counter) -> bool:
    """The block is the only writer of its outputs, and (if spatial) reads none of them.

    These are the dataflow conditions of TVM's complete / reduction blocks, which
    `parallel`, `cache_write` and `decompose_reduction` require. `writers` is
    `count_writers` of the unscheduled function: the rules never add a writer to
    another block's buffer, so counting once holds for every block (counting
    anew walks every block: quadratic in a training step's ~200 blocks).
    """
    block = _block(sch, rv)
    written = [region.source for region in block.writes]
    if any(writers[buffer] != 1 for buffer in written):
        return False
    is_reduction = any(_is_reduce(iv) for iv in block.iter_vars)
    return is_reduction or not any(r.source.same_as(w) for r in block.reads for w in written)


def schedule_elementwise(sch: Schedule, name: str, cpu: CPUInfo, writers: Counter, parallel: bool = True) -> bool:
    """Fuse all loops; parallel chunks outside (when the block may run in parallel), SIMD lanes inside."""
    block = sch.get_sblock(name)
    loops = sch.get_loops(block)
    if not loops:
        return False
    total = math.prod(_extents(sch, loops))
    parallel = parallel and total >= _MIN_PARALLEL_WORK and _only_writer(sch, block, writers)
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    store = _output_store(_block(sch, block))
    lanes = cpu.lanes(str(store.buffer.dtype)) if store is not None else 1
    if total % lanes == 0 and total >= lanes:
        outer, inner = sch.split(fused, [None, lanes])
        sch.vectorize(inner)
    else:
        outer = fused
    if parallel:
        sch.parallel(outer)
    return True


def schedule_reduction(sch: Schedule, name: str, cpu: CPUInfo, writers: Counter, parallel: bool = True) -> bool:
    """Parallel over the fused spatial loops; the init leaves the reduce loops."""
    block = sch.get_sblock(name)
    block_stmt = _block(sch, block)
    loops = sch.get_loops(block)
    n_spatial = _n_spatial(block_stmt)
    has_init = block_stmt.init is not None and _only_writer(sch, block, writers)
    if n_spatial > 0 and parallel and has_init and math.prod(_extents(sch, loops)) >= _MIN_PARALLEL_WORK:
        spatial = loops[:n_spatial]
        fused = sch.fuse(*spatial) if n_spatial > 1 else spatial[0]
        if int(sch.get(fused).extent) > 1:
            sch.parallel(fused)  # before decompose_reduction: parallel needs the block's init
        loops = sch.get_loops(block)
        n_spatial = 1
    if has_init:
        sch.decompose_reduction(block, loops[n_spatial])
    return has_init


def _contiguous_var(load: TensorLoad) -> tirx.Var | None:
    last = load.indices[-1] if load.indices else None
    return last if isinstance(last, tirx.Var) else None


def schedule_row_reduction(sch: Schedule, name: str, cpu: CPUInfo, writers: Counter) -> bool:
    """`O[s] = O[s] + X[s, r]` with `r` the contiguous index of `X` (a softmax row sum):
    per row, `rfactor` into SIMD-lane partial results (vectorized), then sum the lanes."""
    block = sch.get_sblock(name)
    block_stmt = _block(sch, block)
    store = _store(block_stmt)
    n_spatial = _n_spatial(block_stmt)
    # TVM's rfactor knows the standard reducers only (not the NaN-propagating float max/min).
    if store is None or not isinstance(store.value, tirx.Add | tirx.Mul | tirx.Max | tirx.Min):
        return False
    if block_stmt.init is None or n_spatial == 0 or not _only_writer(sch, block, writers):
        return False
    reduce_vars = [iv.var for iv in block_stmt.iter_vars[n_spatial:]]
    reads = [r for r in block_stmt.reads if not r.source.same_as(store.buffer)]
    if len(reduce_vars) != 1 or not reads or any(not _same(_contiguous_read_var(r), reduce_vars[0]) for r in reads):
        return False
    loops = sch.get_loops(block)
    lanes = cpu.lanes(str(store.buffer.dtype))
    extents = _extents(sch, loops)
    if extents[-1] % lanes or extents[-1] < _MIN_VECTOR_ROW * lanes:
        return False
    sch.split(loops[-1], [None, lanes])
    partial = sch.rfactor(sch.get_loops(block)[-1], n_spatial)  # partial[s, lane] over the row's vectors
    spatial = sch.get_loops(block)[:n_spatial]
    row = sch.fuse(*spatial) if n_spatial > 1 else spatial[0]
    sch.compute_at(partial, row)  # one row's lanes at a time: a small stack buffer
    lane, vec = sch.get_loops(partial)[-2:]  # compute_at orders loops as the rfactor block's iters: lane, ro
    sch.reorder(vec, lane)
    if math.prod(extents) >= _MIN_PARALLEL_WORK:
        sch.parallel(row)
    sch.vectorize(sch.get_loops(partial)[-1])  # before decompose_reduction: it needs the init
    init = sch.decompose_reduction(partial, sch.get_loops(partial)[-2])
    sch.vectorize(sch.get_loops(init)[-1])
    sch.decompose_reduction(block, sch.get_loops(block)[-1])
    return True


def schedule_column_reduction(sch: Schedule, name: str, cpu: CPUInfo, writers: Counter) -> bool:
    """`O[.., j] = O[.., j] op X[.., r, .., j]` with `j` (the last spatial iterator) the contiguous index
    of every access (`sum(0)`): split `j` by the SIMD width, reduce loops between, vectorize the lanes."""
    block = sch.get_sblock(name)
    block_stmt = _block(sch, block)
    store = _store(block_stmt)
    n_spatial = _n_spatial(block_stmt)
    if store is None or block_stmt.init is None or n_spatial == 0 or not _only_writer(sch, block, writers):
        return False
    j = block_stmt.iter_vars[n_spatial - 1].var
    if not all(_same(_contiguous_read_var(r), j) for r in [*block_stmt.reads, *block_stmt.writes]):
        return False
    loops = sch.get_loops(block)
    lanes = cpu.lanes(str(store.buffer.dtype))
    extents = _extents(sch, loops)
    if extents[n_spatial - 1] % lanes:
        return False
    *outer, j_loop = loops[:n_spatial]
    jo, ji = sch.split(j_loop, [None, lanes])
    sch.reorder(jo, *loops[n_spatial:], ji)
    sch.vectorize(ji)
    fused = sch.fuse(*outer, jo) if outer else jo
    if math.prod(extents) >= _MIN_PARALLEL_WORK and int(sch.get(fused).extent) > 1:
        sch.parallel(fused)
    init = sch.decompose_reduction(block, sch.get_loops(block)[1])
    sch.vectorize(sch.get_loops(init)[-1])
    return True


def _contiguous_read_var(region) -> tirx.Var | None:
    """The variable indexing the last dim of a single-point read region (`X[.., v]`), else None."""
    last = region.region[-1] if len(region.region) else None
    if last is None or not isinstance(last.min, tirx.Var) or int(getattr(last.extent, "value", 0)) != 1:
        return None
    return last.min


def _same(a: tirx.Var | None, b: tirx.Var) -> bool:
    return a is not None and a.same_as(b)


def _contraction_operands(block: s_tir.SBlock):
    """(output store, A load, B load, j) of a `C[..] = C[..] + A[..] * B[..]` block, or of
    `C[..] + (A[..] ? B[..] : 0)` (a bool A: hl.scatter's one-hot sum), else None.

    `j`, the vector iterator, is a spatial iterator that indexes C and B as a plain variable and
    that A does not use: the last spatial one if it qualifies (a matmul), else the last that does
    and whose B index is all plain variables (B is then packed with `j` last: a convolution's
    output channel, its filter `B[co, ci, kh, kw]`).
    """
    store = _store(block)
    spatial = [iv.var for iv in block.iter_vars if not _is_reduce(iv)]
    if store is None or len(spatial) < 2 or not isinstance(store.value, tirx.Add):
        return None
    acc, product = store.value.a, store.value.b
    if not isinstance(acc, TensorLoad) or not acc.source.same_as(store.buffer):
        acc, product = product, acc
    if isinstance(acc, TensorLoad) and _is_masked(product):
        loads = [product.condition, product.true_value]
    elif isinstance(acc, TensorLoad) and isinstance(product, tirx.Mul):
        loads = [product.a, product.b]
    else:
        return None
    if not all(isinstance(x, TensorLoad) for x in loads):
        return None
    for j in reversed(spatial):
        if not _plain_index(store, j):
            continue
        for b_load, a_load in (loads, loads[::-1]):
            if _uses(a_load, j):
                continue
            last = _contiguous_var(b_load)
            if j.same_as(spatial[-1]) and _same(last, j) and _same(_contiguous_var(store), j):
                return store, a_load, b_load, j
            if _plain_index(b_load, j) and all(isinstance(x, tirx.Var) for x in b_load.indices):
                return store, a_load, b_load, j
    return None


def _is_masked(value) -> bool:
    """`A ? B : 0` with loads A (bool) and B."""
    return (
        isinstance(value, tirx.Select)
        and isinstance(value.condition, TensorLoad)
        and isinstance(value.true_value, TensorLoad)
        and isinstance(value.false_value, (tirx.FloatImm, tirx.IntImm))
        and value.false_value.value == 0
    )


def _plain_index(access, var: tirx.Var) -> bool:
    """`var` is one of the access's indices, as a plain variable."""
    return any(isinstance(x, tirx.Var) and x.same_as(var) for x in access.indices)


def _position(access, var: tirx.Var) -> int:
    return next(n for n, x in enumerate(access.indices) if isinstance(x, tirx.Var) and x.same_as(var))


def _uses(load: TensorLoad, var: tirx.Var) -> bool:
    return any(v.same_as(var) for v in tirx.analysis.undefined_vars(load))


def schedule_contraction(sch: Schedule, name: str, cpu: CPUInfo, writers: Counter) -> bool:
    """Register-tiled, B-packed matmul-like schedule; False if the block does not fit the pattern.

    The `MR x NR` accumulator tile lives in registers across the whole reduction. With enough
    `NR`-wide panels of `B` (per batch), the parallel loop runs over them and each task packs its
    own panel just before using it (it is then still in cache, and the threads share the work of
    packing); otherwise `B` is packed up front and the parallel loop also spans the row tiles.
    """
    block = sch.get_sblock(name)
    block_stmt = _block(sch, block)
    operands = _contraction_operands(block_stmt)
    if operands is None or block_stmt.init is None or not _only_writer(sch, block, writers):
        return False
    store, a_load, b_load, j_var = operands
    loops = sch.get_loops(block)
    n_spatial = _n_spatial(block_stmt)
    spatial_vars = [iv.var for iv in block_stmt.iter_vars[:n_spatial]]
    j_pos = next(n for n, v in enumerate(spatial_vars) if v.same_as(j_var))
    # The row iterator: the innermost other spatial one that A uses (B is then reused across rows).
    others = [n for n in range(n_spatial) if n != j_pos]
    i_pos = next((n for n in reversed(others) if _uses(a_load, spatial_vars[n])), others[-1])
    extents = _extents(sch, loops)
    lanes = cpu.lanes(str(store.buffer.dtype))
    nr = _largest_divisor(extents[j_pos], [2 * lanes, lanes])
    if nr == 1 and extents[j_pos] <= 2 * lanes:  # a narrow output (a classifier's 10 columns): one panel
        nr = extents[j_pos]
    mr = _largest_divisor(extents[i_pos], [6, 4, 3, 2])
    if nr < min(lanes, _MIN_NARROW_PANEL):
        return False
    packed = _pack_panels(sch, block, b_load, block_stmt, nr, j_var)
    j_last = j_pos == n_spatial - 1 and _same(_contiguous_var(b_load), j_var)
    if packed is None and not j_last:
        return False
    i, j = loops[i_pos], loops[j_pos]
    batch = [loops[n] for n in range(n_spatial) if n not in (i_pos, j_pos)]
    reduce = loops[n_spatial:]
    io, ii = sch.split(i, [None, mr])
    jo, ji = sch.split(j, [None, nr])
    sch.reorder(*batch, jo, io, *reduce, ii, ji)
    acc = sch.cache_write(block, 0, "global")
    if not _same(_contiguous_var(store), j_var):  # the accumulator tile: j contiguous, i next to it
        c_pos = [_position(store, spatial_vars[n]) for n in (i_pos, j_pos)]
        sch.transform_layout(
            block,
            ("write", 0),
            lambda *idx: (*(x for n, x in enumerate(idx) if n not in c_pos), *(idx[n] for n in c_pos)),
        )
    sch.reverse_compute_at(acc, io)
    sch.unroll(ii)
    sch.vectorize(ji)
    # Per-panel packing repacks B for every batch index: only where B has its own batches.
    per_panel = math.prod(extents[:n_spatial]) // nr >= _MIN_PANEL_TASKS and all(
        _uses(b_load, spatial_vars[n]) for n in range(n_spatial) if n not in (i_pos, j_pos)
    )
    outer = sch.fuse(*batch, jo) if per_panel else sch.fuse(*batch, jo, io)
    if math.prod(extents) >= _MIN_PARALLEL_WORK:
        sch.parallel(outer)
    if packed is not None:
        if per_panel:
            sch.compute_at(packed, outer)
            _vectorize_lanes(sch, sch.get_loops(packed)[-1], lanes)
        elif j_last:
            _vectorize_pack(sch, packed, nr)
    init = sch.decompose_reduction(block, reduce[0])
    k_loop = sch.get_loops(block)[-3]  # the innermost reduce loop, around the ii x ji tile
    unroll = _largest_divisor(int(sch.get(k_loop).extent), [_K_UNROLL, 4, 2])
    if unroll > 1:  # LLVM alone unrolls it by 2; 8 steps per iteration measured 5-15% faster
        sch.unroll(sch.split(k_loop, [None, unroll])[1])
    for rv in (init, acc):
        inner = sch.get_loops(rv)
        sch.vectorize(inner[-1])
        sch.unroll(inner[-2])
    return True


def _pack_panels(
    sch: Schedule, block, b_load: TensorLoad, block_stmt, nr: int, j_var: tirx.Var
) -> s_tir.SBlockRV | None:
    """Copy B so that each micro-kernel streams one contiguous `nr`-wide panel: B[..., k, j] into
    B[..., j // nr, k, j % nr]; with `j` elsewhere (B[j, k0, k1]), into B[j // nr, k0, k1, j % nr].
    The copy block, or None when B's indices are not plain iterators."""
    index = next((n for n, r in enumerate(block_stmt.reads) if r.source.same_as(b_load.source)), None)
    if index is None or len(b_load.source.shape) < 2 or not all(isinstance(x, tirx.Var) for x in b_load.indices[-2:]):
        return None
    if _same(_contiguous_var(b_load), j_var):
        layout = lambda *idx: (*idx[:-2], idx[-1] // nr, idx[-2], idx[-1] % nr)  # noqa: E731
    elif all(isinstance(x, tirx.Var) for x in b_load.indices):
        p = _position(b_load, j_var)
        layout = lambda *idx: (idx[p] // nr, *idx[:p], *idx[p + 1 :], idx[p] % nr)  # noqa: E731
    else:
        return None
    packed = sch.cache_read(block, index, "global", consumer_blocks=[block])
    sch.transform_layout(packed, ("write", 0), layout)
    return packed


def _vectorize_lanes(sch: Schedule, loop: LoopRV, lanes: int) -> None:
    """Vectorize `loop`; one longer than two SIMD registers `lanes` at a time (not at all if no width divides it).

    LLVM's code generation time grows steeply with the vector width: a 784-wide copy (a transposed
    weight's panel) took 5 of the 8 s LLVM spent on an MLP training step, and ran no faster.
    """
    extent = int(sch.get(loop).extent)
    if extent > 2 * lanes:
        width = _largest_divisor(extent, [w for w in (lanes, lanes // 2, lanes // 4) if w > 1])
        if width == 1:
            return
        loop = sch.split(loop, [None, width])[1]
    sch.vectorize(loop)


def _vectorize_pack(sch: Schedule, packed: s_tir.SBlockRV, nr: int) -> None:
    """The up-front copy of all panels: parallel rows, `nr` lanes at a time."""
    loops = sch.get_loops(packed)
    _, lanes_loop = sch.split(loops[-1], [None, nr])
    sch.vectorize(lanes_loop)
    sch.parallel(sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0])


def _rules(block: s_tir.SBlock, writers: Counter) -> list[tuple[str, Rule, bool]]:
    """The rules to try on `block`, best first, each with whether it may run on the schedule itself.

    A rule that only fuses, splits, vectorizes and parallelizes the block's own
    loops runs in place: if TVM refuses a step, the nest is left partly
    scheduled, which is still correct. The others run on a copy (a copy of a
    large function's schedule costs tens of milliseconds).
    """

    def with_writers(rule, **options) -> Rule:
        return functools.partial(rule, writers=writers, **options)

    if not any(_is_reduce(iv) for iv in block.iter_vars):
        return [
            ("elementwise", with_writers(schedule_elementwise), True),
            ("serial elementwise", with_writers(schedule_elementwise, parallel=False), True),
        ]
    return [
        ("contraction", with_writers(schedule_contraction), False),
        ("row reduction", with_writers(schedule_row_reduction), False),
        ("column reduction", with_writers(schedule_column_reduction), False),
        ("reduction", with_writers(schedule_reduction), False),
        ("serial reduction", with_writers(schedule_reduction, parallel=False), False),
    ]


def schedule_cpu(mod: IRModule, func_name: str, cpu: CPUInfo) -> tuple[IRModule, list[str]]:
    """Schedule every block of `func_name` in `mod` for the CPU described by `cpu`.

    Returns the scheduled module and one note per rule that TVM refused (the
    block then got the next rule): empty when every block got its best rule.

    Each top-level loop nest is scheduled in a function of its own (`_nest_function`: the nest, the
    buffers it uses) and the scheduled nests are put back in order. A TVM schedule primitive costs
    time in the size of the function it works on (it looks blocks up by name, recomputes the scope's
    dependences, rewrites the whole body): scheduling a training step's ~1000 nests in one function
    grew with the square of its size (docs/compile-time.md). The result is the same TIR.
    """
    func = mod[func_name]
    root = func.body.block
    whole = Schedule(mod)
    whole.work_on(func_name)
    writers = count_writers(whole)
    front: list[tirx.Stmt] = []  # copies of the function's inputs: TVM puts them first in the function
    body: list[tirx.Stmt] = []
    originals = list(root.alloc_buffers)
    allocs = list(originals)
    notes: list[str] = []
    for nest in top_statements(root.body):
        used = _buffers_of(nest)
        nest_allocs = originals if used is None else [b for b in originals if b in used]
        nest_mod = IRModule({func_name: _nest_function(func, nest, nest_allocs, used)})
        try:
            scheduled, nest_notes = _schedule_blocks(nest_mod, func_name, cpu, writers, careful=False)
        except _Refused:  # rare: the tests assert no refusals for the programs they cover
            scheduled, nest_notes = _schedule_blocks(nest_mod, func_name, cpu, writers, careful=True)
        notes += nest_notes
        nest_root = scheduled[func_name].body.block
        added = list(nest_root.alloc_buffers)[len(nest_allocs) :]  # cache_read/write, rfactor buffers
        stmts = top_statements(nest_root.body)
        copies = _input_copies(stmts, added, writers)
        front[:0] = stmts[:copies]  # as `cache_read` of an input in the whole function: at its start
        body += stmts[copies:]
        allocs += added
    functions = {gv.name_hint: f for gv, f in mod.functions_items()}
    functions[func_name] = widen_lane_buffers(with_root(func, [*front, *body], allocs))
    return IRModule(functions), notes


def widen_lane_buffers(func: tirx.PrimFunc) -> tirx.PrimFunc:
    """`func` where each block in a vectorized loop that allocates buffers (the translator's
    materialized values: `irc.targets.tir._FuncTranslator._materialized`) has them allocated by an
    opaque block around the loop instead, one element per lane.

    TVM's vectorizer leaves a buffer allocated inside the vectorized loop as it is ("vectorization of
    AllocBuffer not yet implemented"): one element, and every lane read the last lane's value. Such a
    buffer is declared over the nest's whole iteration space and indexed by the element's position
    `flat` in it, which the elementwise schedule's fused and split loop makes `outer * lanes + lane`
    (`schedule_elementwise`); TVM allocates a buffer where its accesses meet and compacts it to the
    region they span. A read of the first lane's element (`outer * lanes`, unused) in the opaque block
    makes that the place, and the region `lanes` elements: a vector register after LLVM. A vectorized
    loop this finds no outer loop for (none is expected) runs serially instead.
    """
    return _map_loops(_map_loops(func, _lift_lane_buffers), _serial_if_allocating)


def _serial_if_allocating(loop: tirx.For) -> tirx.Stmt:
    body = loop.body
    if loop.kind != tirx.ForKind.VECTORIZED or not isinstance(body, s_tir.SBlockRealize):
        return loop
    if not body.block.alloc_buffers:
        return loop
    return _loop_with(loop, body, tirx.ForKind.SERIAL)


def _lift_lane_buffers(outer: tirx.For) -> tirx.Stmt:
    loop = outer.body
    if not isinstance(loop, tirx.For) or loop.kind != tirx.ForKind.VECTORIZED:
        return outer
    realize = loop.body
    if not isinstance(realize, s_tir.SBlockRealize) or not realize.block.alloc_buffers:
        return outer
    block = realize.block
    lanes = int(loop.extent)
    first = outer.loop_var * tirx.IntImm(str(outer.loop_var.ty.dtype), lanes)
    flat = tirx.IntImm(str(block.iter_vars[0].var.ty.dtype), 0)
    for iv in block.iter_vars:
        flat = flat * iv.dom.extent + iv.var
    buffers = list(block.alloc_buffers)
    regions = [tirx.BufferRegion(b, [tvm.ir.Range.from_min_extent(flat, 1)]) for b in buffers]
    inner = s_tir.SBlock(
        block.iter_vars, [*block.reads, *regions], [*block.writes, *regions], block.name_hint, block.body,
        block.init, [], block.match_buffers, block.annotations,
    )  # fmt: skip
    loop = _loop_with(loop, s_tir.SBlockRealize(realize.iter_values, realize.predicate, inner))
    anchors = [tirx.Evaluate(tirx.BufferLoad(b, [tirx.Cast(str(b.shape[0].ty.dtype), first)])) for b in buffers]
    lanes_block = s_tir.SBlock([], [], [], block.name_hint + "_lanes", tirx.SeqStmt([*anchors, loop]), None, buffers)
    return _loop_with(outer, s_tir.SBlockRealize([], True, lanes_block))


def _loop_with(loop: tirx.For, body: tirx.Stmt, kind: tirx.ForKind | None = None) -> tirx.For:
    """`loop` with `body` (and `kind`, if given) in place of its own."""
    return tirx.For(
        loop.loop_var, loop.min, loop.extent, loop.kind if kind is None else kind, body, loop.thread_binding,
        loop.annotations, loop.step,
    )  # fmt: skip


def _map_loops(func: tirx.PrimFunc, fn: Callable[[tirx.For], tirx.Stmt]) -> tirx.PrimFunc:
    """`func` with `fn` applied to each loop under its root block, innermost first (loops, sequences
    and blocks are walked)."""

    def walk(stmt: tirx.Stmt) -> tirx.Stmt:
        if isinstance(stmt, tirx.For):
            body = walk(stmt.body)
            return fn(stmt if body.same_as(stmt.body) else _loop_with(stmt, body))
        if isinstance(stmt, tirx.SeqStmt):
            stmts = [walk(s) for s in stmt]
            return stmt if all(a.same_as(b) for a, b in zip(stmts, stmt)) else tirx.SeqStmt(stmts)
        if isinstance(stmt, s_tir.SBlockRealize):
            body = walk(stmt.block.body)
            return stmt if body.same_as(stmt.block.body) else with_root_body(stmt, body)
        return stmt

    body = walk(func.body)
    return func if body.same_as(func.body) else func.with_body(body)


def top_statements(stmt: tirx.Stmt) -> list[tirx.Stmt]:
    """The statements of a root block's body, in order (one when it is not a sequence)."""
    return list(stmt) if isinstance(stmt, tirx.SeqStmt) else [stmt]


def with_root(func: tirx.PrimFunc, stmts: list[tirx.Stmt], allocs: list, params=None) -> tirx.PrimFunc:
    """`func` whose root block holds `stmts` and allocates `allocs` (and with `params`, if given)."""
    body = with_root_body(func.body, tirx.SeqStmt(stmts) if len(stmts) > 1 else stmts[0], allocs)
    return func.with_body(body) if params is None else tirx.PrimFunc(params, body, func.ret_type, func.attrs)


def with_root_body(realize: s_tir.SBlockRealize, body: tirx.Stmt, allocs: list | None = None) -> s_tir.SBlockRealize:
    """A function's root block (or any block: `realize`) with `body` and, if given, `allocs` in place of
    its own."""
    b = realize.block
    allocs = b.alloc_buffers if allocs is None else allocs
    block = s_tir.SBlock(
        b.iter_vars, b.reads, b.writes, b.name_hint, body, b.init, allocs, b.match_buffers, b.annotations
    )
    return s_tir.SBlockRealize(realize.iter_values, realize.predicate, block)


def _nest_function(func: tirx.PrimFunc, nest: tirx.Stmt, allocs: list, used: set | None) -> tirx.PrimFunc:
    """`func` with only `nest` in its root block, which allocates `allocs`; its parameters are those
    in `used` (all of them when None)."""
    return with_root(func, [nest], allocs, func.params if used is None else [p for p in func.params if p in used])


def _input_copies(stmts: list[tirx.Stmt], added: list, writers: Counter) -> int:
    """How many of a scheduled nest's leading statements are copies (`cache_read`, into a buffer in
    `added`) of buffers no block of the whole function writes: in the whole function, TVM inserts
    those at its start.

    Copies of a buffer that another nest writes stay where they are, right before their nest, as
    TVM places them in the whole function too.
    """
    count = 0
    for stmt in stmts:
        block = _only_block(stmt)
        if block is None or len(block.reads) != 1 or len(block.writes) != 1:
            break
        written = block.writes[0].source
        if not any(written.same_as(b) for b in added) or writers[block.reads[0].source]:
            break
        count += 1
    return count


def _buffers_of(stmt: tirx.Stmt) -> set | None:
    """The buffers the blocks of an unscheduled nest access (their read and write regions), or None
    for a statement of another kind than loops, sequences, conditions and blocks."""
    found = set()
    todo = [stmt]
    while todo:
        stmt = todo.pop()
        if isinstance(stmt, tirx.For):
            todo.append(stmt.body)
        elif isinstance(stmt, tirx.SeqStmt):
            todo.extend(stmt)
        elif isinstance(stmt, tirx.IfThenElse):
            todo.extend(s for s in (stmt.then_case, stmt.else_case) if s is not None)
        elif isinstance(stmt, s_tir.SBlockRealize):
            block = stmt.block
            found.update(region.source for region in [*block.reads, *block.writes])
            if block.match_buffers:
                return None
            todo.extend(s for s in (block.body, block.init) if s is not None and not isinstance(s, tirx.BufferStore))
        else:
            return None
    return found


def _only_block(stmt: tirx.Stmt) -> s_tir.SBlock | None:
    """The block under a chain of loops, or None when the statement is anything else."""
    while isinstance(stmt, tirx.For):
        stmt = stmt.body
    return stmt.block if isinstance(stmt, s_tir.SBlockRealize) else None


class _Refused(Exception):
    """TVM refused a step of a rule that ran on the schedule itself: schedule again, carefully."""


def _schedule_blocks(
    mod: IRModule, func_name: str, cpu: CPUInfo, writers: Counter, careful: bool
) -> tuple[IRModule, list[str]]:
    """Apply each block's first rule that holds. A rule returns False before it changes anything, so
    every rule first runs on the schedule itself; when TVM refuses a step halfway, a rule that is not
    in place (see `_rules`) would leave a half-done state for the next one: `careful` runs those on a
    copy instead, and without it `_Refused` is raised. (Copying before every such rule took 45% of a
    training step's scheduling time.)
    """
    sch = Schedule(mod)
    sch.work_on(func_name)
    _loop_every_block(sch)
    names = [_block(sch, rv).name_hint for rv in sch.get_child_blocks(sch.get_sblock("root"))]
    notes: list[str] = []
    for name in names:
        for rule_name, rule, in_place in _rules(_block(sch, sch.get_sblock(name)), writers):
            trial = sch.copy() if careful and not in_place else sch
            try:
                applied = rule(trial, name, cpu)
            except Exception as e:  # noqa: BLE001 - any refusal falls back to the next rule
                if trial is sch and not in_place:
                    raise _Refused from e
                notes.append(f"@{func_name} block {name}: {rule_name} schedule failed: {_first_line(e)}")
                continue
            if applied:
                sch = trial
                if not in_place:  # the elementwise rules leave no loop-less block behind
                    _loop_every_block(sch)
                break
    return sch.mod, notes


def _loop_every_block(sch: Schedule) -> None:
    """Give loop-less blocks (rank-0 stores, hoisted inits) a unit loop: TVM's rfactor
    fails an internal check when the function has a loop-less block beside the reduction."""
    for rv in sch.get_child_blocks(sch.get_sblock("root")):
        if not sch.get_loops(rv):
            sch.add_unit_loop(rv)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    message = next((line for line in text.splitlines() if line.startswith("Error message:")), None)
    return f"{type(e).__name__}: {message or text.splitlines()[0] if text else ''}"
