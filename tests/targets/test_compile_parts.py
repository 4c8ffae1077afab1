"""A large program's function built in parts (irc/targets/llvm/parts.py, docs/compile-time.md): LLVM's
optimization of one function grows with the square of its loop nests, so a function of many nests is
cut into parts the function calls in order. The parts compute what the whole function computed."""

import re

import numpy as np
import pytest
import tvm

import irc
from irc.compiler.pipeline import Pipeline
from irc.frontend.tracing import trace
from irc.interpreters.reference import run_hl
from irc.runtime import package
from irc.targets.llvm import parts
from tests.runtime.test_package import run_in_a_fresh_process
from tests.targets.test_compile_growth import numpy_softmax_chain, softmax_chain


def _compile(fn, shapes, grad=False, **split):
    """The llvm Lowering of `fn`, with `parts`' thresholds set as `split` says for this compile."""
    saved = parts.SPLIT_ABOVE, parts.PART_SIZE
    parts.SPLIT_ABOVE = split.get("above", parts.SPLIT_ABOVE)
    parts.PART_SIZE = split.get("size", parts.PART_SIZE)
    try:
        return Pipeline(target="llvm", grad=grad).run(trace(fn, [irc.Spec(s) for s in shapes]))
    finally:
        parts.SPLIT_ABOVE, parts.PART_SIZE = saved


def _functions(tir_text: str) -> dict[str, str]:
    """Function name -> its TVMScript text."""
    pieces = re.split(r"\n    @T\.prim_func[^\n]*\n    def ", tir_text)
    return {piece.split("(", 1)[0]: piece for piece in pieces[1:]}


DEPTH = 30  # softmaxes: 120 serial loop nests


@pytest.fixture(scope="module")
def chains():
    """A chain of softmaxes built in parts of 32 nests (as if over SPLIT_ABOVE), and whole."""
    fn = softmax_chain(DEPTH)
    return _compile(fn, [(4, 8)], above=64, size=32), _compile(fn, [(4, 8)], above=10**9)


def test_large_function_is_built_in_parts(chains):
    split, whole = chains
    functions = _functions(split.compiled.tir_text)
    main = functions.pop("fn")
    assert len(functions) >= 4 * DEPTH // 32
    assert all(name.startswith("fn__part") for name in functions)
    assert main.count("T.call_cpacked(") == len(functions)
    assert len(_functions(whole.compiled.tir_text)) == 1


def test_parts_compute_what_the_whole_function_computes(chains, rng):
    x = rng.standard_normal((4, 8)).astype(np.float32)
    split, whole = chains
    (got,) = split(x)
    np.testing.assert_array_equal(got, whole(x)[0])
    np.testing.assert_allclose(got, numpy_softmax_chain(x, DEPTH), rtol=1e-5, atol=1e-6)


def test_buffers_between_parts_live_in_one_arena_off_the_stack(chains):
    """The buffers several parts use are one allocation of at least 1 KiB: TVM puts a smaller one on the
    stack, 16-byte aligned, while a part's parameter is declared 64-byte aligned, and its aligned vector
    loads then crashed whenever the stack was not so aligned."""
    main = _functions(chains[0].compiled.tir_text)["fn"]
    (size,) = re.findall(r"T\.sblock_alloc_buffer\(\((\d+),\), \"uint8\"\)", main)
    assert int(size) >= 1024


def test_the_arena_shares_bytes_between_buffers_whose_parts_do_not_meet():
    a, b, c, d = (
        tvm.tirx.decl_buffer(shape, "float32", name) for name, shape in zip("abcd", [(4,), (40,), (3, 5), (2,)])
    )
    users = {a: [0, 2], b: [1, 3], c: [2, 3], d: [4, 5]}  # a, b, c meet; d may take the bytes of any
    arena, offsets = parts._arena([a, b, c, d], users)
    assert all(offset % 64 == 0 for offset in offsets.values())
    spans = {x: range(offsets[x], offsets[x] + parts._nbytes(x)) for x in offsets}
    for x, y in [(a, b), (b, c), (a, c)]:
        assert not set(spans[x]) & set(spans[y])
    assert offsets[d] in (offsets[a], offsets[b], offsets[c])
    assert int(arena.shape[0]) == max(1024, 64 + 192 + 64)


def mlp(x, w1, b1, w2):
    return ((x @ w1 + b1).relu() @ w2).softmax(dim=-1).log().mean()


MLP_SHAPES = [(4, 16), (16, 8), (8,), (8, 3)]


def test_gradients_in_small_parts_match_the_whole_function(rng):
    """Forward and backward of an MLP cut into parts of 3 nests: shared buffers, parameters and
    outputs cross parts every few nests."""
    args = [rng.standard_normal(s).astype(np.float32) for s in MLP_SHAPES]
    split = _compile(mlp, MLP_SHAPES, grad=True, above=4, size=3)
    whole = _compile(mlp, MLP_SHAPES, grad=True, above=10**9)
    assert "mlp_grad__part1" in _functions(split.compiled.tir_text)
    got = split.compiled.entry("mlp_grad")(*args)
    expected = whole.compiled.entry("mlp_grad")(*args)
    assert len(got) == len(expected) == len(MLP_SHAPES)  # each input's gradient
    for g, e in zip(got, expected, strict=True):  # the same loops: equal but for LLVM's contractions (an ulp)
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    reference = run_hl(split.modules["hl-opt"], args, "mlp_grad")
    for g, r in zip(got, reference, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-6)


def test_package_in_parts_runs_without_the_compiler(rng, tmp_path):
    args = [rng.standard_normal(s).astype(np.float32) for s in MLP_SHAPES]
    split = _compile(mlp, MLP_SHAPES, above=2, size=3)
    assert "mlp__part1" in _functions(split.compiled.tir_text)
    path = package.save(split, tmp_path / "mlp.ircpkg")
    (out,) = run_in_a_fresh_process(path, args, tmp_path)
    np.testing.assert_array_equal(out, split(*args)[0])
