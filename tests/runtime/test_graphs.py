"""PlanRunner's graphs (a call's launches replayed as one graph where its buffer addresses repeat), on a
mock device: its memory is the pool's mock driver (tests/runtime/test_pool.py), its graphs hold
addresses, as CUDA's do, and run on whatever buffers live at them when launched. The CUDA graph
calls themselves run in tests/targets/test_cuda.py (-m gpu)."""

import gc

import numpy as np
import pytest

from irc.runtime.plan import BufferSpec, DeviceArray, ExecutionPlan, KernelLaunch, PlanRunner, Scalar
from irc.runtime.pool import MemoryPool
from tests.runtime.test_pool import FakeDriver

N = 4


class GraphDevice:
    """Kernels `scale` (out = a * s) and `sub` (out = a - b) on float32[4] buffers; graphs of them."""

    supports_graphs = True

    def __init__(self):
        self.driver = FakeDriver()
        self.pool = MemoryPool(self.driver.allocate, self.driver.release)
        self.launches = 0  # kernel launches, one by one
        self.freed: list[list] = []

    def _floats(self, address: int) -> np.ndarray:
        return self.driver.live[address][: 4 * N].view(np.float32)

    def alloc(self, nbytes):
        return self.pool.alloc(nbytes)

    def view(self, base, byte_offset, nbytes):
        raise NotImplementedError

    def upload(self, buffer, array):
        self._floats(buffer.handle)[:] = array.reshape(-1)

    def download(self, buffer, array):
        array.reshape(-1)[:] = self._floats(buffer.handle)

    @staticmethod
    def address(buffer) -> int:
        return buffer.handle

    def _run(self, name: str, args: list) -> None:
        if name == "scale":
            out, a, s = args
            self._floats(out)[:] = self._floats(a) * s.value
        else:
            out, a, b = args
            self._floats(out)[:] = self._floats(a) - self._floats(b)

    def launch(self, launch, args):
        self.launches += 1
        self._run(launch.name, [a if isinstance(a, Scalar) else a.handle for a in args])

    def make_graph(self, launches, args_list):
        # addresses only: a graph keeps no reference to the buffers it was built with
        return [(launch.name, [a if isinstance(a, Scalar) else a.handle for a in args]) for launch, args in zip(launches, args_list)]  # fmt: skip

    def launch_graph(self, graph):
        assert all(graph is not freed for freed in self.freed), "a freed graph was launched"
        for name, args in graph:
            self._run(name, args)

    def free_graph(self, graph):
        self.freed.append(graph)


def sgd_plan() -> ExecutionPlan:
    """(p, g) -> p - lr * g, through a temporary: an SGD step whose output is the next call's input."""
    spec = lambda id_, kind: BufferSpec(id_, (N,), "float32", kind)  # noqa: E731
    return ExecutionPlan(
        "sgd",
        ["p", "g"],
        ["new_p"],
        [spec("p", "input"), spec("g", "input"), spec("t", "temp"), spec("new_p", "output")],
        [
            KernelLaunch("scale", ["t", "g", Scalar(0.5, "float32")], (1, 1, 1), (N, 1, 1)),
            KernelLaunch("sub", ["new_p", "p", "t"], (1, 1, 1), (N, 1, 1)),
        ],
    )


def train(runner: PlanRunner, steps: int, keep: bool = False) -> tuple[np.ndarray, list]:
    """`steps` calls, each output the next input (the old parameter dropped unless `keep`), new gradients."""
    device = runner.device
    p = DeviceArray.from_numpy(device, np.arange(N, dtype=np.float32))
    kept = []
    for step in range(steps):
        g = DeviceArray.from_numpy(device, np.full(N, step + 1, np.float32))
        (new_p,) = runner.run(p, g)
        if keep:
            kept.append(p)
        p = new_p
    return p.to_numpy(), kept


def expected(steps: int) -> np.ndarray:
    return np.arange(N, dtype=np.float32) - 0.5 * sum(range(1, steps + 1))


def test_a_training_loop_settles_on_a_few_graphs_and_computes_the_same():
    runner = PlanRunner(sgd_plan(), GraphDevice())
    assert runner.graphs
    got, _ = train(runner, 12)
    np.testing.assert_array_equal(got, expected(12))
    # the parameter and the gradient cycle through the same few pool blocks: each address set runs
    # kernel by kernel once, then as its graph
    stats = runner.stats
    assert 2 <= stats["graphs"] <= 3 and stats["kernel_calls"] == stats["graphs"]
    assert stats["graph_calls"] == 12 - stats["kernel_calls"]
    assert runner.device.launches == 2 * stats["kernel_calls"]


def test_the_same_loop_without_graphs_launches_every_kernel():
    runner = PlanRunner(sgd_plan(), GraphDevice(), graphs=False)
    got, _ = train(runner, 12)
    np.testing.assert_array_equal(got, expected(12))
    assert runner.stats == {"kernel_calls": 12} and runner.device.launches == 24


def test_irc_cuda_graphs_0_turns_them_off(monkeypatch):
    monkeypatch.setenv("IRC_CUDA_GRAPHS", "0")
    assert not PlanRunner(sgd_plan(), GraphDevice()).graphs
    monkeypatch.setenv("IRC_CUDA_GRAPHS", "1")
    assert PlanRunner(sgd_plan(), GraphDevice()).graphs


def test_addresses_that_never_repeat_never_make_a_graph():
    """Every parameter kept: each call's output is a new block, so no address set comes back."""
    runner = PlanRunner(sgd_plan(), GraphDevice())
    got, kept = train(runner, 8, keep=True)
    np.testing.assert_array_equal(got, expected(8))
    assert runner.stats == {"kernel_calls": 8}
    assert len({runner.device.address(p.buffer) for p in kept}) == len(kept)  # outputs never alias


def test_a_graph_runs_only_on_the_addresses_it_was_built_for():
    """Two parameter sets trained in turns through one runner: four address sets, each its own graph,
    each set's values its own (a graph that ran on another call's buffers would mix them up)."""
    runner = PlanRunner(sgd_plan(), GraphDevice())
    device = runner.device
    params = [DeviceArray.from_numpy(device, np.full(N, 10.0 * k, np.float32)) for k in (1, 2)]
    gradients = [DeviceArray.from_numpy(device, np.full(N, k, np.float32)) for k in (1, 2)]
    for _ in range(6):
        for k in (0, 1):
            (params[k],) = runner.run(params[k], gradients[k])
    np.testing.assert_array_equal(params[0].to_numpy(), np.full(N, 10.0 - 6 * 0.5, np.float32))
    np.testing.assert_array_equal(params[1].to_numpy(), np.full(N, 20.0 - 6 * 1.0, np.float32))
    assert runner.stats["graphs"] >= 2 and runner.stats["graph_calls"] >= 4


def test_the_least_recently_used_graph_is_freed(monkeypatch):
    monkeypatch.setattr(PlanRunner, "GRAPHS_KEPT", 1)
    monkeypatch.setattr(PlanRunner, "GRAPH_AFTER", 1)
    runner = PlanRunner(sgd_plan(), GraphDevice())
    got, _ = train(runner, 6)  # two address sets in turns, one graph kept: each call builds one
    np.testing.assert_array_equal(got, expected(6))
    assert runner.stats == {"graphs": 6, "graph_calls": 6}
    assert len(runner.device.freed) == 5


def test_a_runner_frees_its_graphs_when_it_goes():
    device = GraphDevice()
    runner = PlanRunner(sgd_plan(), device)
    train(runner, 6)
    built = runner.stats["graphs"]
    del runner
    gc.collect()
    assert built > 0 and len(device.freed) == built


def test_a_device_without_graphs_runs_kernel_by_kernel():
    class Plain(GraphDevice):
        supports_graphs = False

    runner = PlanRunner(sgd_plan(), Plain())
    assert not runner.graphs
    got, _ = train(runner, 5)
    np.testing.assert_array_equal(got, expected(5))


@pytest.mark.parametrize("graphs", [True, False])
def test_a_graph_call_leaves_outputs_of_their_own(graphs):
    """Outputs of calls that ran as graphs are new buffers: two kept outputs never share memory."""
    runner = PlanRunner(sgd_plan(), GraphDevice(), graphs=graphs)
    device = runner.device
    p = DeviceArray.from_numpy(device, np.ones(N, np.float32))
    g = DeviceArray.from_numpy(device, np.ones(N, np.float32))
    outs = [runner.run(p, g)[0] for _ in range(5)]  # the same inputs each time; every output kept
    assert len({device.address(o.buffer) for o in outs}) == 5
    for o in outs:
        np.testing.assert_array_equal(o.to_numpy(), np.full(N, 0.5, np.float32))


class RecordingDriver:
    """The cuda-python driver calls CUDADevice's graphs make, answered without a GPU: each kernel node's
    parameters are read back (through the pointers the node gets) when it is added, as CUDA copies them."""

    def __init__(self, bindings, arg_kinds: dict[str, list[str]]):
        self.CUDA_KERNEL_NODE_PARAMS = bindings.CUDA_KERNEL_NODE_PARAMS
        self.CUfunction = bindings.CUfunction
        self.arg_kinds = arg_kinds
        self.nodes: list[tuple] = []
        self.calls: list[str] = []

    def cuModuleGetFunction(self, module, name):
        self.calls.append(f"function {name.decode()}")
        return 0, self.CUfunction(0x100 * len(self.calls))  # a handle of its own per kernel

    def cuGraphCreate(self, flags):
        self.calls.append("create")
        return 0, "graph"

    def cuGraphAddKernelNode(self, graph, dependencies, count, params):
        import ctypes

        name = self._names[len(self.nodes)]
        pointers = (ctypes.c_void_p * len(self.arg_kinds[name])).from_address(params.kernelParams)
        values = [
            ctypes.c_float.from_address(p).value if kind == "f32" else ctypes.c_void_p.from_address(p).value
            for kind, p in zip(self.arg_kinds[name], pointers)
        ]
        grid = (params.gridDimX, params.gridDimY, params.gridDimZ)
        block = (params.blockDimX, params.blockDimY, params.blockDimZ)
        self.nodes.append((int(params.func), list(dependencies), count, grid, block, params.sharedMemBytes, values))
        return 0, f"node{len(self.nodes) - 1}"

    def cuGraphInstantiate(self, graph, flags):
        self.calls.append("instantiate")
        return 0, "exec"

    def cuGraphDestroy(self, graph):
        self.calls.append("destroy graph")
        return (0,)

    def cuGraphLaunch(self, graph, stream):
        self.calls.append(f"launch {graph} on {stream}")
        return (0,)

    def cuGraphExecDestroy(self, graph):
        self.calls.append(f"destroy {graph}")
        return (0,)


def test_the_cuda_device_builds_a_chain_of_kernel_nodes_with_each_launch_s_arguments():
    """CUDADevice.make_graph's driver calls, on cuda-python's own node parameter struct: one node per
    launch, each after the one before, with the launch's grid, block and argument values; the graph
    freed once instantiated."""
    bindings = pytest.importorskip("cuda.bindings.driver")
    from irc.runtime.cuda import CUDADevice
    from irc.runtime.pool import View

    plan = sgd_plan()
    device = object.__new__(CUDADevice)  # no GPU here: the driver is the recording one
    device.driver = driver = RecordingDriver(bindings, {"scale": ["ptr", "ptr", "f32"], "sub": ["ptr", "ptr", "ptr"]})
    driver._names = [launch.name for launch in plan.launches]
    device.module, device._functions = "module", {}
    t, g, p, out = (View(address, None) for address in (0x1000, 0x2000, 0x3000, 0x4000))
    args = [[t, g, Scalar(0.5, "float32")], [out, p, t]]
    graph = device.make_graph(plan.launches, args)
    assert graph == "exec"
    assert driver.nodes == [
        (0x200, [], 0, (1, 1, 1), (N, 1, 1), 0, [0x1000, 0x2000, 0.5]),
        (0x300, ["node0"], 1, (1, 1, 1), (N, 1, 1), 0, [0x4000, 0x3000, 0x1000]),
    ]
    device.launch_graph(graph)
    device.free_graph(graph)
    assert driver.calls == [
        "create", "function scale", "function sub", "instantiate", "destroy graph", "launch exec on 0", "destroy exec",
    ]  # fmt: skip
    assert CUDADevice.address(View(0x4000, None)) == 0x4000


def test_a_device_input_of_the_wrong_shape_or_dtype_is_named():
    from irc.errors import IRCError

    runner = PlanRunner(sgd_plan(), GraphDevice())
    p = DeviceArray.from_numpy(runner.device, np.zeros(N, np.float32))
    with pytest.raises(IRCError, match=r"sgd: input 1 \(g\) is float32\[3\], expected float32\[4\]"):
        runner.run(p, DeviceArray(runner.device, runner.device.alloc(16), (3,), "float32"))
    with pytest.raises(IRCError, match=r"sgd: input 0 \(p\) is float64\[4\], expected float32\[4\]"):
        runner.run(DeviceArray(runner.device, runner.device.alloc(32), (N,), "float64"), p)
    with pytest.raises(IRCError, match="sgd takes 2 inputs, got 1"):
        runner.run(p)


def test_a_graph_the_driver_cannot_build_leaves_kernel_by_kernel_launches():
    from irc.errors import IRCError

    class Failing(GraphDevice):
        def make_graph(self, launches, args_list):
            raise IRCError("CUDA driver error CUDA_ERROR_NOT_SUPPORTED")

    runner = PlanRunner(sgd_plan(), Failing())
    with pytest.warns(RuntimeWarning, match="sgd: launching kernel by kernel, no graph: .*NOT_SUPPORTED"):
        got, _ = train(runner, 8)
    np.testing.assert_array_equal(got, expected(8))
    assert not runner.graphs and runner.stats == {"kernel_calls": 8}


def test_a_cuda_python_whose_graph_api_differs_gives_an_irc_error():
    """What PlanRunner turns into kernel-by-kernel launches and a warning (above)."""
    bindings = pytest.importorskip("cuda.bindings.driver")
    from irc.errors import IRCError
    from irc.runtime.cuda import CUDADevice
    from irc.runtime.pool import View

    class Older(RecordingDriver):
        def cuGraphAddKernelNode(self, graph, dependencies, count, params):
            raise TypeError("Argument 'nodeParams' has incorrect type")

    device = object.__new__(CUDADevice)
    device.driver = driver = Older(bindings, {})
    device.module, device._functions = "module", {}
    with pytest.raises(IRCError, match="cuda-python could not build the graph: TypeError: Argument 'nodeParams'"):
        device.make_graph(sgd_plan().launches[:1], [[View(1, None), View(2, None), Scalar(0.5, "float32")]])
    assert driver.calls[-1] == "destroy graph"
