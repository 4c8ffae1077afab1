"""Loops modules produced by the real pipeline from small hl programs compile for `llvm`,
get their best schedule (no rule refused) and equal the hl numpy reference.

Each case once failed in a schedule primitive: blocks writing a reused buffer were not
TVM complete/reduction blocks, `parallel` came after `decompose_reduction`, a rank-0
reduction had no init.
"""

import numpy as np
import pytest

import irc
import irc.nn.functional as F
from irc.compiler.pipeline import Pipeline
from irc.frontend.tracing import trace
from irc.interpreters.loops import run_stage
from irc.interpreters.reference import run_hl
from irc.ir import parse_module
from irc.targets import compile_loops, schedules
from tests.targets.loops_modules import func, parallel


def _compile(fn, shapes, rng):
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    hl = trace(fn, [irc.Spec(s) for s in shapes])
    loops = Pipeline(target="llvm", stop_after="loops").run(hl).modules["loops"]
    return compile_loops(loops), arrays, run_hl(hl, arrays)


def _assert_close(got, expected, tol=1e-4):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


CASES = {
    # a reused alloc: max, then sum, into the same buffer (reverse-compute-at / decompose-reduction)
    "softmax_rows": (lambda x: x.softmax(-1), [(4, 9)]),
    "softmax_cols": (lambda x: x.log_softmax(0), [(4, 9)]),
    "softmax_rows_vectorized": (lambda x: x.softmax(-1), [(64, 256)]),
    # odd N: no contraction tile, the reduction schedule parallelizes before decomposing
    "matmul_odd_n": (lambda x, y: x @ y, [(16, 64), (64, 33)]),
    # rank-0 reduction next to elementwise outputs and a returned input
    "multiple_outputs": (lambda x, y: (x + y, x, (x * y).sum()), [(3, 4), (3, 4)]),
    "multiple_outputs_large": (lambda x, y: (x + y, x, (x * y).sum()), [(200, 100), (200, 100)]),
    # padded input buffer written by a fill and a partial copy; grouped, dilated conv
    "conv_groups_dilation": (
        lambda x, w: F.conv2d(x, w, padding=2, dilation=2, groups=2),
        [(2, 4, 9, 9), (6, 2, 3, 3)],
    ),
    # matmul chains through reused buffers (hypothesis: exp, matmul, exp)
    "matmul_chain": (lambda x, w: ((x.exp() @ w) @ w.T).exp(), [(1, 1), (1, 2)]),
    "matmul_chain_large": (lambda x, w: ((x.exp() @ w) @ w.T).tanh(), [(64, 48), (48, 64)]),
    "mlp": (lambda x, w1, w2: (x @ w1).relu().softmax(-1) @ w2, [(32, 64), (64, 128), (128, 16)]),
    "in_place_chain": (lambda x, y: ((x + y).exp() * y).tanh() - x, [(256, 300), (256, 300)]),
    "column_and_row_sums": (lambda x: x.sum(0).sum() + x.sum(1).amax(), [(300, 256)]),
}


@pytest.mark.parametrize("case", CASES)
def test_pipeline_program_matches_reference_with_best_schedule(case, rng):
    fn, shapes = CASES[case]
    compiled, arrays, expected = _compile(fn, shapes, rng)
    assert compiled.schedule_notes == []
    _assert_close(compiled(*arrays), expected)


def test_reused_buffer_gets_a_fresh_tir_buffer_per_definition(rng):
    compiled, _, _ = _compile(lambda x: x.softmax(-1), [(4, 9)], rng)
    # the loops module reuses one memref<4xf32> for the max and the sum
    assert compiled.tir_text.count("T.sblock_alloc_buffer((4,)") == 2


def test_row_sum_is_rfactored_into_simd_lanes(rng):
    compiled, _, _ = _compile(lambda x: x.sum(-1), [(64, 256)], rng)
    assert "_rf" in compiled.tir_text and "T.vectorized" in compiled.tir_text


def test_refused_rule_falls_back_to_the_next(monkeypatch, rng):
    """A rule TVM refuses halfway costs speed, not the compile: the block gets the next rule, on the
    schedule as it was before the refused rule (scheduled again, with copies: schedules._schedule_blocks)."""

    def refused(sch, name, cpu):
        sch.split(sch.get_loops(sch.get_sblock(name))[0], [None, 1])  # a step TVM accepts,
        sch.parallel(sch.get_loops(sch.get_sblock(name))[-1])  # then a reduce loop: TVM refuses
        return True

    rules = schedules._rules
    monkeypatch.setattr(
        schedules, "_rules", lambda block, writers: [("broken", refused, False), *rules(block, writers)]
    )
    compiled, arrays, expected = _compile(lambda x, y: (x @ y).softmax(-1), [(8, 16), (16, 24)], rng)
    assert compiled.schedule_notes and all("broken schedule failed" in n for n in compiled.schedule_notes)
    _assert_close(compiled(*arrays), expected)


def test_in_place_rule_refused_halfway_leaves_a_correct_nest(monkeypatch, rng):
    """In-place rules (no schedule copy) that TVM refuses after some steps: the partly
    scheduled nest still computes the same values, and the next rule still applies."""

    def halfway(sch, name, cpu):
        loops = sch.get_loops(sch.get_sblock(name))
        sch.split(loops[0], [None, 1])  # a step TVM accepts,
        raise ValueError("refused after one step")  # then one it refuses

    rules = schedules._rules
    monkeypatch.setattr(
        schedules, "_rules", lambda block, writers: [("halfway", halfway, True), *rules(block, writers)]
    )
    compiled, arrays, expected = _compile(lambda x, y: (x * y + x).relu() @ y.T, [(32, 48), (32, 48)], rng)
    assert compiled.schedule_notes and all("halfway schedule failed" in n for n in compiled.schedule_notes)
    _assert_close(compiled(*arrays), expected)


def test_unexpected_rule_crash_falls_back(monkeypatch, rng):
    def crash(sch, name, cpu):
        raise IndexError("bug in a rule")

    monkeypatch.setattr(schedules, "_rules", lambda block, writers: [("crash", crash, False)])
    compiled, arrays, expected = _compile(lambda x: x.sum(0) * 2.0, [(5, 7)], rng)
    assert any("IndexError: bug in a rule" in n for n in compiled.schedule_notes)
    _assert_close(compiled(*arrays), expected)


def _check_loops(text, inputs, expected):
    module = parse_module(text)
    compiled = compile_loops(module)
    assert compiled.schedule_notes == []
    for out in (compiled(*inputs), compile_loops(module, schedule=False)(*inputs), run_stage(module, inputs)):
        _assert_close(out, expected, tol=1e-6)


def test_top_level_memref_copy(rng):
    """memref.copy into a subview of the output and a whole alloc, then read back."""
    x = rng.standard_normal((3, 4), np.float32)
    body = f"""  %T = memref.alloc() {{alignment = 64 : i64}} : memref<3x4xf32>
  "memref.copy"(%X, %T) : (memref<3x4xf32>, memref<3x4xf32>) -> ()
  %S = memref.subview %O[0, 1] [3, 4] [1, 1] : memref<3x5xf32> to memref<3x4xf32, strided<[5, 1], offset: 1>>
  "memref.copy"(%T, %S) : (memref<3x4xf32>, memref<3x4xf32, strided<[5, 1], offset: 1>>) -> ()
{parallel(["i"], [3], "  memref.store %zero, %O[%i, %c0] : memref<3x5xf32>")}"""
    text = func("copy", "%X: memref<3x4xf32>, %O: memref<3x5xf32>", f"  %zero = arith.constant 0.0 : f32\n{body}", {3})
    expected = np.concatenate([np.zeros((3, 1), np.float32), x], 1)
    _check_loops(text, [x], [expected])


def test_in_place_redefinition_reads_the_old_buffer(rng):
    """An alloc defined, then overwritten in place (T = exp(T)): the redefinition writes a fresh
    TIR buffer and reads the old one, so both blocks are the only writers of their outputs."""
    x = rng.standard_normal(8, np.float32)
    t = "memref<8xf32>"
    first = parallel(["i"], [8], f"  %x = memref.load %X[%i] : {t}\n  memref.store %x, %T[%i] : {t}")
    in_place = parallel(
        ["i"], [8], f"  %t = memref.load %T[%i] : {t}\n  %e = math.exp %t : f32\n  memref.store %e, %T[%i] : {t}"
    )
    out = parallel(
        ["i"],
        [8],
        f"  %t = memref.load %T[%i] : {t}\n  %x = memref.load %X[%i] : {t}\n"
        f"  %s = arith.addf %t, %x : f32\n  memref.store %s, %O[%i] : {t}",
    )
    body = f"  %T = memref.alloc() {{alignment = 64 : i64}} : {t}\n{first}\n{in_place}\n{out}"
    text = func("redef", f"%X: {t}, %O: {t}", body, {8})
    _check_loops(text, [x], [np.exp(x) + x])
    assert compile_loops(parse_module(text)).tir_text.count("T.sblock_alloc_buffer((8,)") == 2
