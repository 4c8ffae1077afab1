"""Compile work grows linearly with the program: the CPU scheduler hands TVM one loop nest at a time
(docs/compile-time.md). The tests count the work (statements per schedule), not the time; the
results match numpy."""

import numpy as np
import pytest

import irc
from irc.compiler.pipeline import Pipeline
from irc.frontend.tracing import trace
from irc.targets import compile_loops, schedules, tir


def softmax_chain(depth: int):
    """`depth` row softmaxes in a row: four loop nests each (max, exp, sum, divide)."""

    def fn(x):
        for _ in range(depth):
            x = x.softmax(-1)
        return x

    return fn


def numpy_softmax_chain(x: np.ndarray, depth: int) -> np.ndarray:
    for _ in range(depth):
        e = np.exp(x - x.max(-1, keepdims=True))
        x = e / e.sum(-1, keepdims=True)
    return x


def _loops(depth: int):
    hl = trace(softmax_chain(depth), [irc.Spec((4, 8))])
    return Pipeline(target="llvm", stop_after="loops").run(hl).modules["loops"]


@pytest.fixture(scope="module")
def compiled():
    """depth -> (compiled module, [top-level statements of each function TVM scheduled])."""
    results = {}
    schedule_blocks = schedules._schedule_blocks
    sizes: list[int] = []

    def counting(mod, func_name, *args, **kwargs):
        sizes.append(len(schedules.top_statements(mod[func_name].body.block.body)))
        return schedule_blocks(mod, func_name, *args, **kwargs)

    schedules._schedule_blocks = counting
    try:
        for depth in (10, 20):
            sizes.clear()
            results[depth] = (compile_loops(_loops(depth)), list(sizes))
    finally:
        schedules._schedule_blocks = schedule_blocks
    return results


def test_each_schedule_holds_one_nest(compiled):
    """Twice the program: twice the schedules, each of one nest (one schedule of all nests costs each
    TVM primitive time in the whole function's size)."""
    small, large = compiled[10][1], compiled[20][1]
    assert set(small) == set(large) == {1}
    assert len(small) >= 4 * 10 and len(large) == 2 * len(small)


def test_program_scheduled_per_nest_matches_numpy(compiled, rng):
    x = rng.standard_normal((4, 8)).astype(np.float32)
    for depth in (10, 20):
        (got,) = compiled[depth][0](x)
        np.testing.assert_allclose(got, numpy_softmax_chain(x, depth), rtol=1e-5, atol=1e-6)


def _maximum_chain(x, n: int):
    """`n` NaN-propagating maximums in a row over shifted slices (a max pooling's window, unrolled)."""
    out = x[:, : x.shape[1] - n]
    for k in range(1, n + 1):
        out = out.maximum(x[:, k : x.shape[1] - n + k])
    return out


@pytest.mark.parametrize("n", [8, 16])
def test_chained_maximums_stay_small(n):
    """Each NaN-aware maximum writes its operands out three times: unbound, n of them in a row made a TIR
    expression of ~3^n nodes (8: 378 KB of text). Large operands are bound to variables, so the function's
    text grows linearly with n."""
    hl = trace(lambda x: _maximum_chain(x, n), [irc.Spec((4, 40))])
    loops = Pipeline(target="llvm", stop_after="loops").run(hl).modules["loops"]
    (func,) = tir.translate_module(loops)
    assert len(func.prim_func.script()) < 2000 * n


def test_chained_maximums_compile_and_match_numpy(rng):
    """8 chained maximums (a 3x3 window) compile in about a second (unbound: TVM's simplifier ran for hours)."""
    hl = trace(lambda x: _maximum_chain(x, 8), [irc.Spec((4, 40))])
    loops = Pipeline(target="llvm", stop_after="loops").run(hl).modules["loops"]
    x = rng.standard_normal((4, 40)).astype(np.float32)
    x[1, 5] = np.nan
    (got,) = compile_loops(loops)(x)
    want = x[:, :32]
    for k in range(1, 9):
        want = np.maximum(want, x[:, k : 32 + k])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kernel", [3, 5])
def test_dilated_max_pool_compiles_and_matches_torch(kernel, rng):
    """A dilated max pooling is a maximum over kernel * kernel shifted slices, taken pairwise (depth
    log2(k * k), not a chain of k * k - 1): MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True) never finished
    compiling before."""
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    x[0, 1, 4, 4] = np.nan
    pool = irc.nn.MaxPool2d(kernel, 2, 1, dilation=2, ceil_mode=True)
    want = torch.nn.MaxPool2d(kernel, 2, 1, dilation=2, ceil_mode=True)(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(irc.jit(lambda t: pool(t))(x).numpy(), want)


#: one step of a chain `p = step(p, x)`, in irc and in numpy: expression shapes TVM's simplifier took time
#: exponential in the chain's length on (selects, NaN-aware maximums, float floor division, int32 clamps;
#: docs/compile-time.md). Ten steps of each took minutes to compile; the values are small integers, exact
#: in every dtype below.
_CHAIN_STEPS = {
    "where": (lambda p, x: irc.where(p > 3, p * 2, p + 1), lambda p, x: np.where(p > 3, p * 2, p + 1)),
    "clamp": (lambda p, x: (p + x).clamp(-5, 5), lambda p, x: np.clip(p + x, -5, 5)),
    "floor_divide": (lambda p, x: (p + 7).floor_divide(x), lambda p, x: np.floor_divide(p + 7, x)),
    "sign": (lambda p, x: (p - x).sign() + p, lambda p, x: np.sign(p - x) + p),
    "maximum": (lambda p, x: irc.maximum(p, x) + 1, lambda p, x: np.maximum(p, x) + 1),
    "compare": (
        lambda p, x: irc.where((p > x) & (p < 5) | (x == p), p + 1, p - x),
        lambda p, x: np.where((p > x) & (p < 5) | (x == p), p + 1, p - x),
    ),
}


def _chains(steps: int, numpy: bool = False):
    def fn(p, x):
        outs = []
        for irc_step, numpy_step in _CHAIN_STEPS.values():
            q = p
            for _ in range(steps):
                q = (numpy_step if numpy else irc_step)(q, x)
            outs.append(q)
        return tuple(outs)

    return fn


@pytest.mark.parametrize(
    "dtype, shape",
    [("float32", (64, 256)), ("int32", (2, 3, 32)), ("float64", (3, 5))],
)
def test_select_chains_compile_and_match_numpy(dtype, shape, rng):
    """Chains of 10 selects compile (in seconds): past a size, an elementwise nest's values are stored in
    scratch buffers TVM's simplifier cannot look through. Shapes whose nests are vectorized (one slot per
    SIMD lane), and one whose nest is not; `x` broadcast along the rows."""
    p = rng.integers(-6, 7, shape).astype(dtype)
    x = rng.integers(1, 5, shape[-1:]).astype(dtype)
    got = irc.jit(_chains(10), target="llvm")(p, x)
    with np.errstate(over="ignore"):
        want = _chains(10, numpy=True)(p, x)
    for name, g, w in zip(_CHAIN_STEPS, got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w.astype(dtype), err_msg=name)


def test_select_chain_values_are_materialized():
    """The TIR of a long select chain stores its intermediate values in scratch buffers, each statement a
    few steps of the chain: no statement grows with the chain, and no value is a let binding (TVM
    substitutes a let's value wherever its variable is used, which is how the chains grew)."""
    hl = trace(lambda p, x: _chains(16)(p, x)[0], [irc.Spec((64, 256)), irc.Spec((256,))])
    loops = Pipeline(target="llvm", stop_after="loops").run(hl).modules["loops"]
    (func,) = tir.translate_module(loops)
    script = func.prim_func.script()
    stores = [line for line in script.splitlines() if line.strip().startswith("t")]
    assert len(stores) >= 8, script
    assert max(len(line) for line in script.splitlines()) < 2000, script
    assert "T.Bind" not in script and "with T.LetStmt" not in script


def _summed_chain(p, steps: int = 12):
    for _ in range(steps):
        p = irc.where(p > 3, p * 0.5, p + 1)
    return p.sum(1), p.amax(1)


def test_a_large_producer_is_not_fused_into_a_reduction():
    """A reduction's body stays one expression (TVM finds its combiner there), so a select chain fused
    into it would be written out whole: a large producer stays an elementwise nest, whose values are
    materialized, and the reductions read its result."""
    from xdsl.dialects.arith import SelectOp
    from xdsl.dialects.linalg.ops import GenericOp

    hl = trace(_summed_chain, [irc.Spec((4, 40))])
    linalg = Pipeline(target="llvm", stop_after="linalg").run(hl).modules["linalg"]
    generics = [op for op in linalg.walk() if isinstance(op, GenericOp)]
    reductions = [g for g in generics if any(it.data.value == "reduction" for it in g.iterator_types)]
    assert len(reductions) == 2 and len(generics) > 2, linalg
    assert not any(isinstance(op, SelectOp) for r in reductions for op in r.body.block.ops), linalg


def test_select_chains_under_reductions_compile_and_match_numpy(rng):
    """Twelve selects summed and maximized along rows compile (in seconds; minutes when fused whole)."""
    p = rng.integers(-6, 7, (16, 64)).astype(np.float32)
    got = irc.jit(_summed_chain, target="llvm")(p)
    want = p
    for _ in range(12):
        want = np.where(want > 3, want * 0.5, want + 1)
    np.testing.assert_allclose(got[0].numpy(), want.sum(1), rtol=1e-6)
    np.testing.assert_array_equal(got[1].numpy(), want.max(1))


def test_select_chains_in_16_bit_floats_match_the_interpreter(rng):
    """Materialized half and bfloat16 values (stored in their own dtype) give the interpreter's results."""
    p = irc.tensor(rng.integers(-6, 7, (32, 64)).astype(np.float32))
    x = irc.tensor(rng.integers(1, 5, (64,)).astype(np.float32))
    for dtype in ("float16", "bfloat16"):
        args = (p.to(dtype), x.to(dtype))
        got = irc.jit(_chains(10), target="llvm")(*args)
        want = irc.jit(_chains(10), target="ref")(*args)
        for name, g, w in zip(_CHAIN_STEPS, got, want, strict=True):
            np.testing.assert_array_equal(g.to("float32").numpy(), w.to("float32").numpy(), err_msg=f"{dtype} {name}")


def test_a_vectorized_loop_with_no_outer_loop_keeps_its_scratch_serial():
    """`widen_lane_buffers` moves a block's scratch buffers around its vectorized loop's parent loop; a
    vectorized loop without one (the schedules always split one off) becomes serial rather than keep
    an allocation TVM's vectorizer would get wrong."""
    from tvm import tirx
    from tvm.script import tirx as T

    @T.prim_func(s_tir=True)
    def f(x: T.Buffer((16,), "float32"), out: T.Buffer((16,), "float32")):
        for i in T.vectorized(16):
            with T.sblock("nest"):
                vi = T.axis.spatial(16, i)
                t = T.sblock_alloc_buffer((16,))
                t[vi] = x[vi] * 2.0
                out[vi] = t[vi] + t[vi]

    loop = schedules.widen_lane_buffers(f).body.block.body
    assert isinstance(loop, tirx.For) and loop.kind == tirx.ForKind.SERIAL


def _more_chains(f, i, b):
    """Chains a scan found slow after the first fix: special functions TVM expands (tanh: 5 copies of its
    operand) fused whole into a reduction; int32 floor divisions between wrapping subtractions (nested
    int32/int64 casts); bool selects nested in each other's conditions."""
    t, a, q, s = f, f, i, b
    for _ in range(16):
        t, a = (t - 0.5).tanh(), (a - 0.5).asinh()
        q = (q - 13).div(i.abs() + 1, rounding_mode="floor")
        s = irc.where(s, b, ~b)
    return t.sum(-1), a.amax(-1), q, s


def test_more_chains_compile_and_match_numpy(rng):
    f = rng.uniform(-3, 3, (3, 5)).astype(np.float32)
    i = rng.integers(-20, 20, (3, 5)).astype(np.int32)
    b = rng.integers(0, 2, (2, 3, 32)).astype(bool)
    got = [g.numpy() for g in irc.jit(_more_chains, target="llvm")(f, i, b)]
    t, a, q, s = f.astype(np.float64), f.astype(np.float64), i, b
    for _ in range(16):
        t, a = np.tanh(t - 0.5), np.arcsinh(a - 0.5)
        q = np.floor_divide(q - 13, np.abs(i) + 1)
        s = np.where(s, b, ~b)
    np.testing.assert_allclose(got[0], t.sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], a.max(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[2], q)
    np.testing.assert_array_equal(got[3], s)
