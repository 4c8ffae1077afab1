"""The opencl target on PoCL (or any OpenCL platform): every hl op family and the examples vs the hl reference.

Each program is compiled and built by the OpenCL platform once per session (`compiled`).
"""

import functools
import sys

import numpy as np
import pytest

from irc.errors import IRCError
from irc.interpreters.reference import run_hl
from irc.runtime.plan import DeviceArray
from irc.targets import compile_loops
from tests.targets.gpu_programs import PROGRAMS, loops_module, program

pyopencl = pytest.importorskip("pyopencl")


def _has_platform() -> bool:
    try:
        return any(p.get_devices() for p in pyopencl.get_platforms())
    except pyopencl.Error:
        return False


pytestmark = pytest.mark.skipif(not _has_platform(), reason="no OpenCL platform (apt-get install pocl-opencl-icd)")


@functools.cache
def compiled(name: str):
    return compile_loops(loops_module(name), "opencl")


def assert_close(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        if e.dtype.kind == "f":
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
        else:
            np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("name", PROGRAMS)
def test_matches_hl_reference(name):
    module, arrays = program(name)
    assert_close(compiled(name)(*arrays), run_hl(module, arrays))


def test_interface():
    mod = compiled("mlp")
    assert mod.source_ext == "cl" and "__kernel void" in mod.source
    assert "T.prim_func" in mod.tir_text
    assert mod.plan.entry == "mlp" and len(mod.plan.launches) >= 5


def test_device_resident_run():
    mod = compiled("mlp")
    module, arrays = program("mlp")
    inputs = [mod.to_device(a) for a in arrays]
    (out,) = mod.run_device(*inputs)
    assert isinstance(out, DeviceArray) and out.shape == (64, 10)
    np.testing.assert_allclose(out.to_numpy(), run_hl(module, arrays)[0], rtol=1e-4, atol=1e-6)
    (again,) = mod.run_device(*inputs)  # outputs are fresh buffers: the first result survives
    np.testing.assert_array_equal(out.to_numpy(), again.to_numpy())


def test_steady_state_calls_allocate_no_device_memory():
    from irc.runtime.opencl import OpenCLDevice, memory_pool

    mod = compiled("mlp")
    module, arrays = program("mlp")
    expected = run_hl(module, arrays)
    assert_close(mod(*arrays), expected)  # warm: the plan's temporaries and the first inputs/outputs
    pool = memory_pool(OpenCLDevice().context)
    allocs = pool.stats()["device_allocs"]
    for _ in range(3):
        assert_close(mod(*arrays), expected)
    assert pool.stats()["device_allocs"] == allocs and pool.stats()["reuses"] > 0


def test_wrong_inputs_are_clear():
    mod = compiled("mlp")
    _, arrays = program("mlp")
    with pytest.raises(IRCError, match=r"mlp: input 0 \(x\) is float32\[3, 784\], expected float32\[64, 784\]"):
        mod(np.zeros((3, 784), np.float32), *arrays[1:])
    with pytest.raises(IRCError, match="takes 5 inputs, got 1"):
        mod(arrays[0])


def test_missing_pyopencl_is_clear(monkeypatch):
    from irc.runtime.opencl import OpenCLDevice

    monkeypatch.setitem(sys.modules, "pyopencl", None)
    with pytest.raises(IRCError, match=r"pocl-opencl-icd.*pip install irc\[opencl\]"):
        OpenCLDevice("__kernel void k() {}")


def test_missing_platform_is_clear(monkeypatch):
    from irc.runtime import opencl

    def no_platforms():
        raise pyopencl.LogicError("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")

    monkeypatch.setattr(pyopencl, "get_platforms", no_platforms)
    opencl.default_context.cache_clear()
    try:
        with pytest.raises(IRCError, match="no OpenCL platform found.*pocl-opencl-icd"):
            opencl.default_context()
    finally:
        monkeypatch.undo()
        opencl.default_context.cache_clear()


def test_own_tiled_contractions(monkeypatch):
    """Matmul and conv2d through `schedule_tiled` (dlight's Matmul switched off) vs the hl reference."""
    import irc
    import irc.nn.functional as F
    from irc.compiler.pipeline import Pipeline
    from irc.frontend.tracing import trace
    from irc.targets import gpu

    class NoMatmul:
        def apply(self, func, target, tunable):
            return None

    monkeypatch.setattr(gpu.dlight.gpu, "Matmul", NoMatmul)

    def contractions(a, b, x, w):
        return a @ b, F.conv2d(x, w, padding=1)

    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(70, 33), (33, 20), (2, 3, 10, 10), (5, 3, 3, 3)]]
    module = trace(contractions, [irc.Spec.of(a) for a in arrays])
    loops = Pipeline(target="llvm", stop_after="loops").run(module).modules["loops"]
    mod = compile_loops(loops, "opencl")
    assert "tiled" in mod.program.schedules.values()
    assert_close(mod(*arrays), run_hl(module, arrays))


def test_a_module_that_does_not_lower_falls_back_to_checking_each_kernel(monkeypatch):
    """Kernels take the first rule that schedules them and the module is lowered once; where that fails
    (here: TVM refuses the first lowering of the whole module), every kernel's rule is checked by
    lowering it alone, then the module is lowered again."""
    from irc.targets import gpu

    lower, calls = gpu._lower, []

    def refusing_once(mod, target, **options):
        calls.append(len(mod.functions))
        if len(calls) == 1:
            raise RuntimeError("TVM refuses")
        return lower(mod, target, **options)

    monkeypatch.setattr(gpu, "_lower", refusing_once)
    module, arrays = program("every_family")
    lowered = compile_loops(loops_module("every_family"), "opencl")
    kernels = calls[0]
    alone = calls[1:-1]  # each kernel's rules, one lowering per rule tried
    assert kernels > 1 and calls[-1] == kernels and set(alone) == {1} and len(alone) >= kernels
    assert_close(lowered(*arrays), run_hl(module, arrays))


#: the matmul schedule's tile (a GPU target's "matmul" option) for the tuning sweep of docs/gpu.md
T128 = {"block_size_x": 16, "block_size_y": 16, "micro_size_x": 8, "micro_size_y": 8, "vector_size": 4}
T64 = {"block_size_x": 16, "block_size_y": 8, "micro_size_x": 4, "micro_size_y": 8, "micro_size_k": 8}
TILES = {
    "128x128": T128,
    "64x64-k8": {**T64, "unroll": 0},
    "128x128-double-buffered": {**T128, "pipeline_stages": 2},
    "64x64-k8-3-stages": {**T64, "pipeline_stages": 3},
    "128x128-coalesced": {**T128, "coalesced": 1},
    "64x64-k8-coalesced-2-stages": {**T64, "coalesced": 1, "pipeline_stages": 2},
}


@pytest.mark.parametrize("tile", TILES.values(), ids=TILES.keys())
@pytest.mark.parametrize("mkn", [(64, 96, 80), (100, 70, 50)], ids=str)
def test_matmul_tiles_compute_the_product(tile, mkn):
    """Other tiles of dlight's matmul schedule, sizes they do not divide included: the product numpy gives."""
    from irc.ir import parse_module
    from tests.targets import loops_modules

    m, k, n = mkn
    mod = compile_loops(parse_module(loops_modules.matmul(m, k, n)), {"kind": "opencl", "matmul": tile})
    assert set(mod.program.schedules.values()) == {"dlight.Matmul"}
    (launch,) = next(iter(mod.plans.values())).launches
    assert launch.block[:2] == (tile["block_size_x"], tile["block_size_y"])
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    (got,) = mod(a, b)
    np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("transposed_b", [False, True], ids=["a@b", "a@b.T"])
def test_the_coalesced_matmul_schedule_computes_the_product_in_either_layout(transposed_b):
    """`coalesced` copies b of a @ b along n into a k x n shared tile; b of a @ b.T (n x k, nn.Linear's
    layout) is copied along k as dlight does. Both compute the product, sizes the tile does not divide."""
    from irc.ir import parse_module
    from tests.targets import loops_modules

    m, k, n = 130, 33, 70
    module = parse_module(loops_modules.matmul(m, k, n, transposed_b))
    mod = compile_loops(module, {"kind": "opencl", "matmul": TILES["128x128-coalesced"]})
    assert set(mod.program.schedules.values()) == {"dlight.Matmul"}
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if transposed_b else (k, n)).astype(np.float32)
    (got,) = mod(a, b)
    np.testing.assert_allclose(got, a @ (b.T if transposed_b else b), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_coalesced_matmul_schedule_runs_every_program(name):
    """Linear layers (bias and ReLU fused after), convolutions and every op family, with the option on."""
    module, arrays = program(name)
    mod = compile_loops(loops_module(name), {"kind": "opencl", "matmul": TILES["128x128-coalesced"]})
    assert "dlight.Matmul" in mod.program.schedules.values()
    assert_close(mod(*arrays), run_hl(module, arrays))


def test_programs_build_without_options_that_name_the_environment():
    """pyopencl's default build options add `-I` of its headers inside the Python environment, and PoCL
    keys its binary cache by the options: every new environment compiled every kernel again."""
    from irc.runtime.opencl import _build, default_context

    context = default_context()
    program = _build(context, "__kernel void k(__global float* x) { x[get_global_id(0)] = 2.0f; }")
    assert program.get_build_info(context.devices[0], pyopencl.program_build_info.OPTIONS) == ""
    with pytest.raises(IRCError, match="building the OpenCL program failed"):
        _build(context, "__kernel void k(__global float* x) { x[0] = undeclared; }")


class OutOfOrderDevice:
    """The OpenCL device with "graphs" that run a plan's launches in another order the dependencies allow
    (tests/runtime/test_graphs.py's `adversarial_order`: of the launches whose dependencies ran, the last
    first). Device addresses are made up per OpenCL buffer, views at their offset in it."""

    supports_graphs = True

    def __init__(self, inner):
        self.inner = inner
        self._bases: dict[int, int] = {}
        self._views: dict[int, tuple[object, int, object]] = {}

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def view(self, base, byte_offset, nbytes):
        view = self.inner.view(base, byte_offset, nbytes)
        self._views[id(view)] = (base, byte_offset, view)  # (the view kept: its id stays its own)
        return view

    def address(self, buffer) -> int:
        if id(buffer) in self._views:
            base, byte_offset, _ = self._views[id(buffer)]
            return self.address(base) + byte_offset
        return self._bases.setdefault(buffer.handle.int_ptr, (len(self._bases) + 1) << 32)

    def make_graph(self, launches, args_list, dependencies):
        return launches, args_list, dependencies

    def launch_graph(self, graph):
        from tests.runtime.test_graphs import adversarial_order

        launches, args_list, dependencies = graph
        for i in adversarial_order(dependencies):
            self.inner.launch(launches[i], args_list[i])

    def free_graph(self, graph):
        pass


def _out_of_order_results(name: str, calls: int = 3):
    from irc.runtime.plan import PlanRunner

    mod = compiled(name)
    _, arrays = program(name)
    runner = PlanRunner(mod.plan, OutOfOrderDevice(mod.device))
    runner.GRAPH_AFTER = 1  # every call runs as a graph
    results = [runner.run_numpy(*arrays) for _ in range(calls)]
    assert runner.stats == {"graphs": runner.stats["graphs"], "graph_calls": calls}
    return mod(*arrays), results


@pytest.mark.parametrize("name", ["every_family"])
def test_kernels_in_another_order_their_dependencies_allow_compute_the_same(name):
    """The plan's real kernels (their writes as `irc.targets.gpu.written_params` found them), run in an
    order unlike the plan's, give the in-order results bit for bit. (The mlp and convnet examples are
    chains: once their constant fills went into the kernels reading them, no other order was left.)"""
    from irc.runtime.plan import launch_dependencies, plan_extents
    from tests.runtime.test_graphs import adversarial_order

    plan = compiled(name).plan
    order = adversarial_order(launch_dependencies(plan.launches, plan_extents(plan)))
    assert order != sorted(order)
    in_order, results = _out_of_order_results(name)
    for got in results:
        for g, e in zip(got, in_order, strict=True):
            np.testing.assert_array_equal(g, e)


def test_without_dependencies_the_same_order_computes_wrong(monkeypatch):
    """The control of the test above: with no dependencies, that order reads buffers before they are written."""
    import irc.runtime.plan as plan_module

    monkeypatch.setattr(plan_module, "launch_dependencies", lambda launches, extents: [()] * len(launches))
    in_order, results = _out_of_order_results("every_family", calls=2)
    assert any(not np.array_equal(g, e, equal_nan=True) for got in results for g, e in zip(got, in_order))
