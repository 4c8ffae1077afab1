"""The cuda target on a real GPU (skipped without one): programs vs the hl reference, device-resident runs."""

import functools

import numpy as np
import pytest

from irc.errors import IRCError
from irc.interpreters.reference import run_hl
from irc.targets import compile_loops
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
