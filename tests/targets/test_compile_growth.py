"""Compile work grows linearly with the program: the CPU scheduler hands TVM one loop nest at a time
(docs/compile-time.md). The tests count the work (statements per schedule), not the time; the
results match numpy."""

import numpy as np
import pytest

import irc
from irc.compiler.pipeline import Pipeline
from irc.frontend.tracing import trace
from irc.targets import compile_loops, schedules


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
        sizes.append(len(schedules._stmts(mod[func_name].body.block.body)))
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
