"""A large program's function in parts: LLVM's optimization of one function grows faster than its size.

A program is one TIR function whose loop nests run one after the other. LLVM optimizes a function as a
whole, and several of its loop passes ask ScalarEvolution whether a loop's entry is guarded by a
condition: it answers by climbing the chain of single predecessors (through every earlier loop of the
function, each loop's exit test a condition to check) and checking every `llvm.assume` of the function
against the dominator tree. Each loop's questions then cost time in the number of loops before it, so
the function's optimization grows with the square of its nests (an LSTM unrolled over 25 steps, 1500
serial loops: 49 s of LLVM's `opt -O3`, of it `IndVarSimplify` 24 s, measured with upstream LLVM 22's
`-time-passes`; docs/compile-time.md).

`split_large` cuts a function of more than `SPLIT_ABOVE` serial top-level nests into parts of `PART_SIZE`
consecutive statements, each a PrimFunc of its own that the function calls in order (`T.call_cpacked`: a
direct call, no lookup). A part takes the function's parameters it uses and the buffers that several
parts use (kept in one arena the function allocates, `_arena`); a buffer only one part uses is allocated
in that part. Each part is an exported packed function with parallel loops and `noalias` parameters as
the whole function had: two buffers a part receives never share bytes. The calling function's signature
is unchanged, so the runtime, packages and the compile cache see the same entry point.
"""

from __future__ import annotations

import tvm
from tvm import s_tir, tirx

from irc.targets.schedules import top_statements, with_root

#: functions with more serial top-level loop nests than this are built in parts (a parallel nest is a
#: function of its own already, TVM's closure, and adds no loop to the function's body)
SPLIT_ABOVE = 384
#: top-level statements per part
PART_SIZE = 64
#: the alignment of each buffer in the arena of buffers that parts share (a part assumes its buffers' 64)
_ALIGN = 64


def split_large(mod: tvm.IRModule, name: str) -> tvm.IRModule:
    """`mod` with function `name` in parts when it has more than `SPLIT_ABOVE` serial top-level nests."""
    func = mod[name]
    if not isinstance(func.body, s_tir.SBlockRealize):
        return mod
    root = func.body.block
    stmts = top_statements(root.body)
    serial = sum(isinstance(s, tirx.For) and s.kind == tirx.ForKind.SERIAL for s in stmts)
    if serial <= SPLIT_ABOVE or root.match_buffers:
        return mod
    groups = [stmts[i : i + PART_SIZE] for i in range(0, len(stmts), PART_SIZE)]
    params = list(func.params)  # buffers: TVM 0.27's parameters are the buffers themselves
    candidates = {v: b for b in [*params, *root.alloc_buffers] for v in (b, b.data)}
    uses = [_buffers_used(group, candidates) for group in groups]
    users: dict = {}
    for k, used in enumerate(uses):
        for b in used:
            users.setdefault(b, []).append(k)
    shared = [b for b in root.alloc_buffers if len(users.get(b, ())) > 1]
    arena, offsets = _arena(shared, users)
    functions = {gv.name_hint: f for gv, f in mod.functions_items()}
    calls = []
    for k, (group, used) in enumerate(zip(groups, uses, strict=True)):
        part = f"{name}__part{k}"
        local = [b for b in root.alloc_buffers if users.get(b) == [k]]
        passed = [b for b in [*params, *shared] if b in used]
        functions[part] = with_root(func, group, local, params=passed).with_attr("global_symbol", part)
        args = [_tensor(b, arena, offsets[b]) if b in offsets else b for b in passed]
        calls.append(tirx.Evaluate(tirx.call_cpacked(part, *args, tirx.const(0, "int32"))))
    functions[name] = with_root(func, calls, [arena] if arena is not None else [])
    return tvm.IRModule(functions)


def _arena(shared: list, users: dict) -> tuple[tirx.Buffer | None, dict]:
    """One byte buffer holding every buffer that several parts use, and each one's byte offset.

    Buffers whose parts do not overlap share bytes (a buffer takes the smallest free slot that fits, slots
    freed after their last part), each at a multiple of 64 bytes. One allocation: TVM would put each
    small buffer on the stack, 16-byte aligned, where a part assumes its parameters 64-byte aligned (its
    aligned vector loads crashed whenever the stack was not so aligned), and take each large one from its
    workspace pool, a call to the pool per buffer and per call. The arena, at least 1 KiB, comes from
    the pool, 64-byte aligned.
    """
    if not shared:
        return None, {}
    offsets: dict = {}
    slots: list[list] = []  # [offset, size, last part using it]
    end = 0
    for b in sorted(shared, key=lambda b: users[b][0]):
        first, last = users[b][0], users[b][-1]
        size = -(-_nbytes(b) // _ALIGN) * _ALIGN
        free = [s for s in slots if s[2] < first and s[1] >= size]
        if free:
            slot = min(free, key=lambda s: s[1])
            slot[2] = last
        else:
            slot = [end, size, last]
            slots.append(slot)
            end += size
        offsets[b] = slot[0]
    return tirx.decl_buffer((max(end, 1024),), "uint8", "parts_arena"), offsets


def _nbytes(buffer) -> int:
    size = tvm.runtime.DataType(buffer.dtype).bits // 8
    for n in buffer.shape:
        size *= int(n)
    return size


def _tensor(buffer, arena: tirx.Buffer, offset: int) -> tirx.PrimExpr:
    """The DLTensor argument of `buffer` (shape, dtype) whose data is `arena`'s bytes from `offset`."""
    # the arena's data var itself (not `address_of(arena[offset])`, from which TVM's StorageRewrite sized
    # the allocation to the largest offset used)
    data = tirx.call_intrin("handle", "tirx.handle_add_byte_offset", arena.data, tirx.const(offset, "int32"))
    shape = tirx.call_intrin("handle", "tirx.tvm_stack_make_shape", *buffer.shape)
    return tirx.call_intrin(
        "handle", "tirx.tvm_stack_make_array", data, shape, 0, len(buffer.shape), tirx.const(0, buffer.dtype), 0
    )


def _buffers_used(stmts: list[tirx.Stmt], candidates: dict) -> set:
    """The buffers among `candidates` (buffer or data var -> buffer) that `stmts` refer to."""
    used = set()
    for stmt in stmts:
        for var in tirx.analysis.undefined_vars(stmt, []):
            buffer = candidates.get(var)
            if buffer is not None:
                used.add(buffer)
    return used
