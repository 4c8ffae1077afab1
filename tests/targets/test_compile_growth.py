"""Compile work grows linearly with the program: the CPU scheduler hands TVM one loop nest at a time, and
a large function reaches LLVM in parts of a bounded size (docs/compile-time.md). The tests count the
work (statements per schedule, lines per LLVM function), not the time; the results match numpy."""

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


def _function_lines(llvm_ir: str) -> dict[str, int]:
    """Lines of each LLVM function definition."""
    sizes, name, start = {}, None, 0
    for n, line in enumerate(llvm_ir.splitlines()):
        if line.startswith("define "):
            name, start = line.split("@", 1)[1].split("(", 1)[0], n
        elif line == "}" and name is not None:
            sizes[name] = n - start
            name = None
    return sizes


def test_large_function_reaches_llvm_in_bounded_parts(compiled):
    small, large = (_function_lines(compiled[d][0].source) for d in (10, 20))
    parts = [name for name in large if "_part" in name]
    assert len(parts) > len([name for name in small if "_part" in name]) >= 2
    # the compute code is in parts: its largest function does not grow with the program
    compute = {d: max(v for k, v in lines.items() if "_part" in k) for d, lines in ((10, small), (20, large))}
    assert compute[20] <= compute[10] * 1.2


def test_program_in_parts_matches_numpy(compiled, rng):
    x = rng.standard_normal((4, 8)).astype(np.float32)
    for depth in (10, 20):
        (got,) = compiled[depth][0](x)
        np.testing.assert_allclose(got, numpy_softmax_chain(x, depth), rtol=1e-5, atol=1e-6)


def test_small_function_is_one_llvm_function():
    """Below `codegen.MAX_NESTS` nests a function is compiled whole, as before."""
    compiled = compile_loops(_loops(2))
    assert not any("_part" in name for name in _function_lines(compiled.source))
