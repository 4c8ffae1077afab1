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
