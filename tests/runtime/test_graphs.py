"""PlanRunner's graphs (a call's launches replayed as one graph where its buffer addresses repeat), on a
mock device: its memory is the pool's mock driver (tests/runtime/test_pool.py), its graphs hold
addresses, as CUDA's do, and run on whatever buffers live at them when launched. The CUDA graph
calls themselves run in tests/targets/test_cuda.py (-m gpu)."""

import gc

import numpy as np
import pytest

from irc.runtime.plan import (
    BufferSpec,
    DeviceArray,
    ExecutionPlan,
    KernelLaunch,
    PlanRunner,
    Scalar,
    launch_dependencies,
    plan_extents,
)
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

    def make_graph(self, launches, args_list, dependencies):
        # addresses only: a graph keeps no reference to the buffers it was built with
        nodes = [(launch.name, [a if isinstance(a, Scalar) else a.handle for a in args]) for launch, args in zip(launches, args_list)]  # fmt: skip
        return nodes, dependencies

    def launch_graph(self, graph):
        """The nodes in an order the dependencies allow but the plan's order is not: of the nodes whose
        dependencies ran, the last one first (so independent kernels run backwards)."""
        assert all(graph is not freed for freed in self.freed), "a freed graph was launched"
        nodes, dependencies = graph
        for index in adversarial_order(dependencies):
            self._run(*nodes[index])

    def free_graph(self, graph):
        self.freed.append(graph)


def adversarial_order(dependencies: list[tuple[int, ...]]) -> list[int]:
    """A topological order of the launches that, among those ready, always runs the latest first."""
    done, order = set(), []
    while len(order) < len(dependencies):
        ready = [i for i in range(len(dependencies)) if i not in done and set(dependencies[i]) <= done]
        assert ready, f"the dependencies have a cycle: {dependencies}"
        order.append(ready[-1])
        done.add(ready[-1])
    return order


def sgd_plan() -> ExecutionPlan:
    """(p, g) -> p - lr * g, through a temporary: an SGD step whose output is the next call's input."""
    spec = lambda id_, kind: BufferSpec(id_, (N,), "float32", kind)  # noqa: E731
    return ExecutionPlan(
        "sgd",
        ["p", "g"],
        ["new_p"],
        [spec("p", "input"), spec("g", "input"), spec("t", "temp"), spec("new_p", "output")],
        [
            KernelLaunch("scale", ["t", "g", Scalar(0.5, "float32")], (1, 1, 1), (N, 1, 1), writes=(0,)),
            KernelLaunch("sub", ["new_p", "p", "t"], (1, 1, 1), (N, 1, 1), writes=(0,)),
        ],
    )


def reuse_plan() -> ExecutionPlan:
    """(a, b) -> (a - a/2, b - b/2, a/2 - b/2), one temporary `t` reused: scale into t, read it, scale into t
    again (after the read: write after read), read it; `u` is written by two kernels in turn."""
    spec = lambda id_, kind: BufferSpec(id_, (N,), "float32", kind)  # noqa: E731
    half = Scalar(0.5, "float32")
    k = lambda name, *args: KernelLaunch(name, args, (1, 1, 1), (N, 1, 1), writes=(0,))  # noqa: E731
    return ExecutionPlan(
        "reuse",
        ["a", "b"],
        ["x", "y", "z"],
        [
            spec("a", "input"),
            spec("b", "input"),
            spec("t", "temp"),
            spec("u", "temp"),
            spec("x", "output"),
            spec("y", "output"),
            spec("z", "output"),
        ],  # fmt: skip
        [
            k("scale", "t", "a", half),  # 0: t = a/2
            k("sub", "x", "a", "t"),  # 1: x = a - t        (after 0)
            k("scale", "u", "t", Scalar(1.0, "float32")),  # 2: u = t   (after 0)
            k("scale", "t", "b", half),  # 3: t = b/2        (after 1 and 2 read t)
            k("sub", "y", "b", "t"),  # 4: y = b - t        (after 3)
            k("sub", "z", "u", "t"),  # 5: z = u - t        (after 2 and 3)
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
    monkeypatch.setattr(PlanRunner, "MIN_GRAPH_CALLS", 0)  # never give up
    runner = PlanRunner(sgd_plan(), GraphDevice())
    got, _ = train(runner, 6)  # two address sets in turns, one graph kept: each call builds one
    np.testing.assert_array_equal(got, expected(6))
    assert runner.stats == {"graphs": 6, "graph_calls": 6}
    assert len(runner.device.freed) == 5


def train_in_turns(runner, sets: int, rounds: int) -> list[np.ndarray]:
    """`sets` parameter sets trained in turns through one runner (2 * `sets` address sets in a cycle)."""
    device = runner.device
    params = [DeviceArray.from_numpy(device, np.full(N, 10.0 * k, np.float32)) for k in range(1, sets + 1)]
    gradients = [DeviceArray.from_numpy(device, np.full(N, k, np.float32)) for k in range(1, sets + 1)]
    for _ in range(rounds):
        for k in range(sets):
            (params[k],) = runner.run(params[k], gradients[k])
    for k in range(sets):  # each set's own values: no graph ran on another call's buffers
        want = np.full(N, 10.0 * (k + 1) - rounds * 0.5 * (k + 1), np.float32)
        np.testing.assert_array_equal(params[k].to_numpy(), want)
    return params


def test_a_cycle_of_more_than_four_address_sets_settles_on_its_graphs():
    """Three parameter sets in turns: a cycle of 12 address sets (an MLP's SGD-momentum step has 6; on an
    H200, with 4 graphs kept, it rebuilt one every call or two: 54 builds in 205 steps). Each set runs
    kernel by kernel once, then as its graph, and none is dropped."""
    runner = PlanRunner(sgd_plan(), GraphDevice())
    train_in_turns(runner, 3, 20)
    assert runner.stats == {"graphs": 12, "kernel_calls": 12, "graph_calls": 48}
    assert not runner.device.freed


def test_a_runner_whose_addresses_cycle_through_more_sets_than_it_keeps_gives_graphs_up(monkeypatch):
    """More address sets in the cycle than graphs kept: each graph is dropped before its set comes back,
    so the runner stops building them, frees those it has, and launches kernel by kernel."""
    monkeypatch.setattr(PlanRunner, "GRAPHS_KEPT", 2)
    runner = PlanRunner(sgd_plan(), GraphDevice())
    train_in_turns(runner, 3, 20)
    stats = runner.stats
    assert stats["graphs_given_up"] == 1 and not runner.graphs
    assert stats["graphs"] == 3 and len(runner.device.freed) == 3  # the third build gave up
    assert stats["kernel_calls"] + stats["graph_calls"] == 60 and stats["kernel_calls"] >= 55


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


def reuse_expected(a, b):
    return a - a / 2, b - b / 2, a / 2 - b / 2


def test_kernels_wait_only_for_the_kernels_whose_memory_they_share():
    plan = reuse_plan()
    assert launch_dependencies(plan.launches, plan_extents(plan)) == [(), (0,), (0,), (1, 2), (3,), (2, 3)]


def test_a_graph_runs_independent_kernels_out_of_order_and_computes_the_same():
    """The mock graph runs, of the kernels whose dependencies ran, the last first: 0, 2, 1, 3, 5, 4 here."""
    plan = reuse_plan()
    runner = PlanRunner(plan, GraphDevice())
    assert adversarial_order(launch_dependencies(plan.launches, plan_extents(plan))) == [0, 2, 1, 3, 5, 4]
    rng = np.random.default_rng(0)
    for _ in range(6):  # outputs dropped each call: the addresses repeat and the calls run as graphs
        a, b = (rng.standard_normal(N).astype(np.float32) for _ in range(2))
        for got, want in zip(runner.run_numpy(a, b), reuse_expected(a, b)):
            np.testing.assert_allclose(got, want, rtol=1e-6)
    assert runner.stats["graph_calls"] >= 3


def test_without_the_dependencies_the_out_of_order_graph_computes_wrong(monkeypatch):
    """What the test above guards: the same graph with no dependencies reads `t` before it is written."""
    import irc.runtime.plan as plan_module

    monkeypatch.setattr(plan_module, "launch_dependencies", lambda launches, extents: [()] * len(launches))
    runner = PlanRunner(reuse_plan(), GraphDevice())
    a, b = np.arange(1, N + 1, dtype=np.float32), np.full(N, 7, np.float32)
    results = [runner.run_numpy(a, b) for _ in range(4)]
    assert runner.stats["graph_calls"] >= 1
    assert any(not np.allclose(got, want) for out in results for got, want in zip(out, reuse_expected(a, b)))


def test_unknown_writes_count_as_writes_and_views_as_their_base():
    spec = dict(grid=(1, 1, 1), block=(1, 1, 1))
    launches = [
        KernelLaunch("f", ("a", "b"), **spec),  # writes unknown: a and b both written
        KernelLaunch("g", ("c", "b"), writes=(0,), **spec),  # reads b: after f
        KernelLaunch("h", ("v", "a"), writes=(0,), **spec),  # writes v, inside c: after g (wrote c) and f (wrote a)
        KernelLaunch("k", ("d", "c"), writes=(0,), **spec),  # reads c: after g (all of c) and h (v, inside c)
        KernelLaunch("m", ("e", "w"), writes=(0,), **spec),  # reads w, outside v: after g (c's writer) only
    ]
    extents = {
        "a": (0, 64),
        "b": (64, 128),
        "c": (128, 256),
        "v": (160, 192),
        "w": (192, 256),
        "d": (256, 320),
        "e": (320, 384),
    }
    assert launch_dependencies(launches, extents) == [(), (0,), (0, 1), (1, 2), (1,)]


@pytest.mark.parametrize("seed", range(20))
def test_any_order_the_dependencies_allow_computes_what_the_plan_s_order_does(seed):
    """Random launches over overlapping byte ranges, simulated: each launch writes, to every byte it
    writes, a value of its own and of every byte it reads or writes. Every order the dependencies
    allow (the adversarial one and random ones) leaves the same memory as running them in turn."""
    rng = np.random.default_rng(seed)
    names = [f"b{i}" for i in range(8)]
    extents = {}
    for name in names:
        start = int(rng.integers(0, 48))
        extents[name] = (start, start + int(rng.integers(1, 16)))
    launches = []
    for i in range(int(rng.integers(4, 16))):
        args = tuple(rng.choice(names, size=int(rng.integers(1, 4)), replace=False))
        writes = None if rng.random() < 0.15 else tuple(j for j in range(len(args)) if rng.random() < 0.4)
        launches.append(KernelLaunch(f"k{i}", args, (1, 1, 1), (1, 1, 1), writes=writes))
    dependencies = launch_dependencies(launches, extents)

    def run(order):
        memory = list(range(64))
        for i in order:
            accesses = list(launches[i].accesses())
            seen = hash((i, *(memory[b] for name, _ in accesses for b in range(*extents[name]))))
            for name, written in accesses:
                if written:
                    for b in range(*extents[name]):
                        memory[b] = seen
        return memory

    in_turn = run(range(len(launches)))
    assert run(adversarial_order(dependencies)) == in_turn
    for _ in range(10):
        done, order = set(), []
        while len(order) < len(launches):
            ready = [i for i in range(len(launches)) if i not in done and set(dependencies[i]) <= done]
            pick = ready[int(rng.integers(len(ready)))]
            order.append(pick)
            done.add(pick)
        assert run(order) == in_turn


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


def test_the_cuda_device_builds_kernel_nodes_with_each_launch_s_arguments_and_dependencies():
    """CUDADevice.make_graph's driver calls, on cuda-python's own node parameter struct: one node per
    launch, with the launch's grid, block and argument values, after the nodes of the launches it
    depends on (on the plan's dependencies: kernels 1 and 2 both follow 0 alone); the graph freed
    once instantiated."""
    bindings = pytest.importorskip("cuda.bindings.driver")
    from irc.runtime.cuda import CUDADevice
    from irc.runtime.pool import View

    plan = reuse_plan()
    device = object.__new__(CUDADevice)  # no GPU here: the driver is the recording one
    device.driver = driver = RecordingDriver(bindings, {"scale": ["ptr", "ptr", "f32"], "sub": ["ptr", "ptr", "ptr"]})
    driver._names = [launch.name for launch in plan.launches]
    device.module, device._functions = "module", {}
    addresses = {name: 0x1000 * (i + 1) for i, name in enumerate("abtuxyz")}
    handles = {name: View(address, None) for name, address in addresses.items()}
    args = [[handles[a] if isinstance(a, str) else a for a in launch.args] for launch in plan.launches]
    extents = {name: (address, address + 4 * N) for name, address in addresses.items()}
    graph = device.make_graph(plan.launches, args, launch_dependencies(plan.launches, extents))
    assert graph == "exec"
    a, b, t, u, x, y, z = addresses.values()
    assert driver.nodes == [
        (0x200, [], 0, (1, 1, 1), (N, 1, 1), 0, [t, a, 0.5]),
        (0x300, ["node0"], 1, (1, 1, 1), (N, 1, 1), 0, [x, a, t]),
        (0x200, ["node0"], 1, (1, 1, 1), (N, 1, 1), 0, [u, t, 1.0]),
        (0x200, ["node1", "node2"], 2, (1, 1, 1), (N, 1, 1), 0, [t, b, 0.5]),
        (0x300, ["node3"], 1, (1, 1, 1), (N, 1, 1), 0, [y, b, t]),
        (0x300, ["node2", "node3"], 2, (1, 1, 1), (N, 1, 1), 0, [z, u, t]),
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
        def make_graph(self, launches, args_list, dependencies):
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
        device.make_graph(sgd_plan().launches[:1], [[View(1, None), View(2, None), Scalar(0.5, "float32")]], [()])
    assert driver.calls[-1] == "destroy graph"
