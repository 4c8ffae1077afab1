"""The cuda target on a real GPU (skipped without one): programs vs the hl reference, device-resident runs."""

import functools

import numpy as np
import pytest

from irc.errors import IRCError
from irc.interpreters.reference import run_hl
from irc.ir import parse_module
from irc.targets import compile_loops
from irc.targets.cuda import sm_version
from tests.targets import loops_modules
from tests.targets.gpu_programs import PROGRAMS, loops_module, program


@functools.cache
def gpu_arch() -> str | None:
    """The device's `sm_XY`, or None when there is no usable GPU."""
    try:
        from irc.runtime.cuda import compute_capability

        return compute_capability()
    except IRCError:
        return None


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(gpu_arch() is None, reason="no CUDA GPU/driver")]


@functools.cache
def compiled(name: str):
    return compile_loops(loops_module(name), {"kind": "cuda", "arch": gpu_arch()})


@pytest.mark.parametrize("name", PROGRAMS)
def test_matches_hl_reference(name):
    module, arrays = program(name)
    got, expected = compiled(name)(*arrays), run_hl(module, arrays)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_device_resident_run():
    mod = compiled("mlp")
    module, arrays = program("mlp")
    (out,) = mod.run_device(*[mod.to_device(a) for a in arrays])
    np.testing.assert_allclose(out.to_numpy(), run_hl(module, arrays)[0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "convnet"])
def test_repeated_calls_run_as_cuda_graphs_and_compute_the_same(name):
    """Calls on the same buffers (each output dropped before the next call, so the pool hands its block
    back) run as one CUDA graph from the second on, with the results of kernel-by-kernel launches."""
    from irc.runtime.plan import PlanRunner

    mod = compiled(name)
    module, arrays = program(name)
    inputs = [mod.to_device(a) for a in arrays]
    plan = mod.plans[next(iter(mod.plans))]
    graphs, plain = PlanRunner(plan, mod.device), PlanRunner(plan, mod.device, graphs=False)
    assert graphs.graphs
    want = [o.to_numpy() for o in plain.run(*inputs)]
    for _ in range(4):
        got = [o.to_numpy() for o in graphs.run(*inputs)]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert graphs.stats["graphs"] >= 1 and graphs.stats["graph_calls"] >= 2
    np.testing.assert_allclose(want[0], run_hl(module, arrays)[0], rtol=1e-4, atol=1e-6)


def _operands(m: int, k: int, n: int, transposed_b: bool):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if transposed_b else (k, n)).astype(np.float32)
    return a, b, a.astype(np.float64) @ (b.T if transposed_b else b).astype(np.float64)


ampere = pytest.mark.skipif(gpu_arch() is None or sm_version(gpu_arch()) < 80, reason="needs sm_80+ (cp.async, TF32)")


@ampere
@pytest.mark.parametrize(
    "tile",
    [{"pipeline_stages": 2}, {"block_size_x": 16, "block_size_y": 16, "micro_size_x": 8, "micro_size_y": 8,
      "vector_size": 4, "coalesced": 1, "pipeline_stages": 2}],
    ids=["dlight-p2", "t128-coalesced-p2"],
)  # fmt: skip
@pytest.mark.parametrize("shape", [(1024, 1024, 1024, False), (1000, 1000, 1000, False), (512, 768, 256, True)])
def test_pipelined_matmuls_with_async_copies(tile, shape):
    """cp.async tile loads (tests/targets/test_gpu_codegen.py) on the GPU: float32 results."""
    mod = compile_loops(
        parse_module(loops_modules.matmul(*shape)), {"kind": "cuda", "arch": gpu_arch(), "matmul": tile}
    )
    assert "cp.async" in mod.source
    a, b, want = _operands(*shape)
    (c,) = mod(a, b)
    np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@ampere
@pytest.mark.parametrize(
    "shape", [(1024, 1024, 1024, False), (4096, 4096, 4096, False), (512, 768, 256, True), (1000, 1000, 1000, False)]
)
def test_tf32_matmuls(shape):
    """TF32 tensor-core matmuls (the 1000 one falls back to float32) against float64 numpy: within TF32's
    tolerance, 1e-2 of sqrt(K) times the operands' rms."""
    m, k, n, _ = shape
    mod = compile_loops(parse_module(loops_modules.matmul(*shape)), {"kind": "cuda", "arch": gpu_arch(), "tf32": True})
    assert set(mod.program.schedules.values()) == {"tf32-mma" if m % 32 == 0 else "dlight.Matmul"}
    a, b, want = _operands(*shape)
    (c,) = mod(a, b)
    scale = np.sqrt(k) * np.sqrt(np.mean(a.astype(np.float64) ** 2) * np.mean(b.astype(np.float64) ** 2))
    assert np.abs(c - want).max() <= 1e-2 * scale
