"""Execution plans: what a GPU runtime does to run one compiled entry, without TVM.

A plan lists the buffers of one entry (inputs, outputs, temporaries, constant
tensors and views onto them) and the kernel launches, in order. A runtime
allocates the device buffers, uploads the inputs (and, once, the constants),
launches every kernel with its grid/block sizes and copies the outputs back.
Plans are plain data: `to_json()` / `from_json()` round-trip them, so a
compiled package can store a plan beside the kernels' source or binary.

    plan = ExecutionPlan.from_json(text)
    (out,) = PlanRunner(plan, device).run_numpy(x, w)

On a device that can replay launches as a graph (CUDA), a call whose buffers are
at addresses an earlier call had runs all its kernels as one graph launch
(`PlanRunner`, "Graphs"). A graph's kernels depend on each other only where they touch the same
memory and one of them writes it (`launch_dependencies`), so independent kernels may run side by
side.

JSON layout (`to_json`):

    {"entry": "mlp", "inputs": ["x", ...], "outputs": ["out"],
     "buffers": [{"id": "x", "shape": [64, 784], "dtype": "float32", "kind": "input",
                  "base": null, "offset": 0}, ...],
     "launches": [{"name": "mlp_k0_kernel", "args": ["tmp", "x", {"value": 3, "dtype": "int32"}],
                   "grid": [256, 1, 1], "block": [64, 1, 1], "shared_bytes": 0, "writes": [0]}, ...],
     "constants": {"w": {"shape": [..], "dtype": "float32", "data": "<base64 of the C-order bytes>"}}}
"""

from __future__ import annotations

import base64
import json
import math
import os
import warnings
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol

import numpy as np

from irc.errors import IRCError

BufferKind = Literal["input", "output", "temp", "const"]


@dataclass(frozen=True)
class BufferSpec:
    """One buffer of a plan. A view (`base` set) aliases `base`'s memory from element `offset` on."""

    id: str
    shape: tuple[int, ...]
    dtype: str
    kind: BufferKind
    base: str | None = None
    offset: int = 0

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Scalar:
    """A scalar kernel argument (TVM passes scalars after the buffer pointers)."""

    value: int | float
    dtype: str


@dataclass(frozen=True)
class KernelLaunch:
    """One kernel launch: `args` are buffer ids or scalars, in the kernel's parameter order.

    `writes`: the positions in `args` of the buffers the kernel may write; None where that is not
    known (a plan from before irc recorded it): then every buffer argument counts as written."""

    name: str
    args: tuple[str | Scalar, ...]
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int = 0
    writes: tuple[int, ...] | None = None

    def accesses(self) -> Iterator[tuple[str, bool]]:
        """(buffer id, written) per buffer argument."""
        for i, arg in enumerate(self.args):
            if isinstance(arg, str):
                yield arg, self.writes is None or i in self.writes


@dataclass
class ExecutionPlan:
    """Buffers and launches of one compiled entry (see the module docstring)."""

    entry: str
    inputs: list[str]
    outputs: list[str]
    buffers: list[BufferSpec]
    launches: list[KernelLaunch]
    constants: dict[str, np.ndarray] = field(default_factory=dict)

    def buffer(self, id_: str) -> BufferSpec:
        return self._by_id()[id_]

    def _by_id(self) -> dict[str, BufferSpec]:
        return {b.id: b for b in self.buffers}

    def to_json(self) -> str:
        return json.dumps(
            {
                "entry": self.entry,
                "inputs": self.inputs,
                "outputs": self.outputs,
                "buffers": [asdict(b) for b in self.buffers],
                "launches": [
                    {**asdict(k), "args": [a if isinstance(a, str) else asdict(a) for a in k.args]}
                    for k in self.launches
                ],
                "constants": {name: _encode_array(a) for name, a in self.constants.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ExecutionPlan:
        data = json.loads(text)
        buffers = [BufferSpec(**{**b, "shape": tuple(b["shape"])}) for b in data["buffers"]]
        launches = [
            KernelLaunch(
                k["name"],
                tuple(a if isinstance(a, str) else Scalar(**a) for a in k["args"]),
                tuple(k["grid"]),
                tuple(k["block"]),
                k["shared_bytes"],
                None if k.get("writes") is None else tuple(k["writes"]),
            )
            for k in data["launches"]
        ]
        constants = {name: _decode_array(a) for name, a in data["constants"].items()}
        return cls(data["entry"], data["inputs"], data["outputs"], buffers, launches, constants)


def _encode_array(array: np.ndarray) -> dict:
    array = np.asarray(array, order="C")
    return {"shape": list(array.shape), "dtype": array.dtype.name, "data": base64.b64encode(array.tobytes()).decode()}


def _decode_array(data: dict) -> np.ndarray:
    raw = base64.b64decode(data["data"])
    return np.frombuffer(raw, dtype=np.dtype(data["dtype"])).reshape(data["shape"]).copy()


class Device(Protocol):
    """What a runtime (CUDA, OpenCL) provides to execute plans. Buffers are opaque handles."""

    def alloc(self, nbytes: int) -> object: ...

    def view(self, base: object, byte_offset: int, nbytes: int) -> object: ...

    def upload(self, buffer: object, array: np.ndarray) -> None: ...

    def download(self, buffer: object, array: np.ndarray) -> None: ...

    def launch(self, launch: KernelLaunch, args: list[object]) -> None: ...

    # A device that can replay launches as one graph (CUDA) also has `supports_graphs = True` and:
    #   address(buffer) -> int                         the buffer's device address
    #   make_graph(launches, args_list, dependencies) -> graph
    #                                                  the launches with these arguments, launch i after
    #                                                  the launches `dependencies[i]` lists (only those)
    #   launch_graph(graph) -> None                    queue it, after what was queued before it
    #   free_graph(graph) -> None


class DeviceArray:
    """An array that lives on a device: `shape`, `dtype`, the runtime's `buffer` handle, `.to_numpy()`."""

    def __init__(self, device: Device, buffer: object, shape: Sequence[int], dtype: str | np.dtype):
        self.device = device
        self.buffer = buffer
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @classmethod
    def from_numpy(cls, device: Device, array: np.ndarray) -> DeviceArray:
        array = np.asarray(array, order="C")
        buffer = device.alloc(max(1, array.nbytes))
        device.upload(buffer, array)
        return cls(device, buffer, array.shape, array.dtype)

    def to_numpy(self) -> np.ndarray:
        out = np.empty(self.shape, self.dtype)
        self.device.download(self.buffer, out)
        return out

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}, device={type(self.device).__name__})"


def launch_dependencies(launches: Sequence[KernelLaunch], extents: dict[str, tuple[int, int]]) -> list[tuple[int, ...]]:
    """For each launch, the earlier launches it must run after: those whose memory it reads and they
    wrote (read after write), or writes and they read or wrote (write after read, write after write)
    since the last write. `extents`: buffer id -> its memory as a [start, end) byte range; buffers
    whose ranges overlap (a view and its base, two views of one block) count as the same memory.
    Running the launches in any order that respects these gives the results of running them in turn.

    >>> spec = dict(grid=(1, 1, 1), block=(1, 1, 1))
    >>> ks = [KernelLaunch("f", ("t", "a"), writes=(0,), **spec), KernelLaunch("g", ("u", "a"), writes=(0,), **spec),
    ...       KernelLaunch("h", ("o", "t", "u"), writes=(0,), **spec)]
    >>> launch_dependencies(ks, {"a": (0, 16), "t": (16, 32), "u": (32, 48), "o": (48, 64)})
    [(), (), (0, 1)]
    """
    ranges = sorted(set(extents.values()))
    overlapping: dict[tuple[int, int], list[tuple[int, int]]] = {r: [r] for r in ranges}
    for i, (start, end) in enumerate(ranges):  # sorted by start: later ranges overlap while they start before `end`
        for other in ranges[i + 1 :]:
            if other[0] >= end:
                break
            overlapping[(start, end)].append(other)
            overlapping[other].append((start, end))
    last_writer: dict[tuple[int, int], int] = {}
    readers: dict[tuple[int, int], list[int]] = {r: [] for r in ranges}
    dependencies = []
    for index, launch in enumerate(launches):
        after: set[int] = set()
        written = {}
        for buffer, writes in launch.accesses():
            written[extents[buffer]] = written.get(extents[buffer], False) or writes
        for memory, writes in written.items():
            for other in overlapping[memory]:
                if writes and readers[other]:  # they ran after the last writer: waiting for them is enough
                    after.update(readers[other])
                elif other in last_writer:
                    after.add(last_writer[other])
        for memory, writes in written.items():
            if writes:
                last_writer[memory] = index
                readers[memory] = []
            else:
                readers[memory].append(index)
        after.discard(index)
        dependencies.append(tuple(sorted(after)))
    return dependencies


def plan_extents(plan: ExecutionPlan) -> dict[str, tuple[int, int]]:
    """Buffer id -> byte range, every buffer that is not a view in memory of its own (inputs, outputs,
    temporaries and constants are separate allocations) and views inside their base: the layout any
    runner's buffers have, up to where the allocations lie."""
    by_id = {b.id: b for b in plan.buffers}
    starts, next_free = {}, 0
    for b in plan.buffers:
        if b.base is None:
            starts[b.id] = next_free
            next_free += max(1, b.nbytes) + 256

    def start(b: BufferSpec) -> int:
        return starts[b.id] if b.base is None else start(by_id[b.base]) + b.offset * np.dtype(b.dtype).itemsize

    return {b.id: (start(b), start(b) + max(1, b.nbytes)) for b in plan.buffers}


def graphs_enabled() -> bool:
    """Whether runners replay repeated calls as graphs: `IRC_CUDA_GRAPHS` unset or anything but 0."""
    return os.environ.get("IRC_CUDA_GRAPHS", "1").strip() not in ("0", "false", "off", "no")


class PlanRunner:
    """Executes one plan on one device. Temporaries and constants are allocated once and reused.

    Graphs: a kernel's arguments are buffer addresses and the plan's scalars, and every buffer
    is an input, an output, a temporary or constant of this runner (fixed), or a view of one of
    those at a fixed offset. So the addresses of the inputs and outputs of a call fix every
    argument of every launch. On a device with graphs, a call whose addresses an earlier call
    had (`GRAPH_AFTER` calls in all) builds the plan's launches into a graph for them once and
    from then on launches that graph: one launch per call instead of one per kernel. In the
    graph a kernel waits only for the kernels whose memory it shares (`launch_dependencies`, on
    the call's addresses), so kernels that are independent may run side by side. A training
    step whose outputs (new parameters) are the next call's inputs, the old ones freed, cycles
    through a few sets of pool blocks (`irc.runtime.pool`), so it settles on a few graphs: an MLP's
    SGD-momentum step cycles through 6 (the pool's free lists are LIFO, and the parameters and their
    momenta trade blocks). A graph only ever runs on the addresses it was built with; calls on other
    addresses launch kernel by kernel. `GRAPHS_KEPT` graphs per runner, least recently used dropped.
    Where the addresses cycle through more sets than that, each graph would be dropped before it came
    round again and every call would build one (a build costs more than launching kernel by kernel:
    on an H200 that MLP step, with 4 graphs kept, took 0.64 ms where kernel by kernel took 0.39 and
    one graph launch 0.11); a runner that has built more than `GRAPHS_KEPT` graphs and launched each
    fewer than `MIN_GRAPH_CALLS` times on average frees them and goes on kernel by kernel
    (`stats["graphs_given_up"]`). `IRC_CUDA_GRAPHS=0` or `graphs=False` turns graphs off. `stats`
    counts "graph_calls", "kernel_calls" and "graphs".
    """

    #: calls on the same addresses after which they run as a graph (the first runs kernel by kernel)
    GRAPH_AFTER = 2
    #: graphs kept per runner
    GRAPHS_KEPT = 16
    #: graph launches per graph built below which a runner that built more than GRAPHS_KEPT gives up
    MIN_GRAPH_CALLS = 4

    def __init__(self, plan: ExecutionPlan, device: Device, graphs: bool | None = None):
        self.plan = plan
        self.device = device
        wanted = graphs_enabled() if graphs is None else graphs
        self.graphs = bool(wanted and getattr(device, "supports_graphs", False) and plan.launches)
        self._graphs: OrderedDict[tuple, object] = OrderedDict()
        self._seen: Counter = Counter()
        self.stats: Counter = Counter()
        self._resident: dict[str, object] = {}
        for spec in plan.buffers:
            if spec.kind in ("temp", "const") and spec.base is None:
                self._resident[spec.id] = device.alloc(max(1, spec.nbytes))
        for name, array in plan.constants.items():
            device.upload(self._resident[name], np.asarray(array, plan.buffer(name).dtype, order="C"))
        # what each call needs of the specs, worked out once (a call is host overhead on every step)
        by_id = {b.id: b for b in plan.buffers}
        #: per input: (id, shape, dtype)
        self._inputs = [(n, tuple(by_id[n].shape), np.dtype(by_id[n].dtype)) for n in plan.inputs]
        #: per output: (id, bytes to allocate, shape, dtype)
        self._outputs = [
            (n, max(1, by_id[n].nbytes), tuple(by_id[n].shape), np.dtype(by_id[n].dtype)) for n in plan.outputs
        ]
        #: per buffer: (id, bytes it spans), for a graph's dependencies
        self._sizes = [(b.id, max(1, b.nbytes)) for b in plan.buffers]
        #: per view: (id, base id, byte offset, bytes)
        self._views = [
            (b.id, b.base, b.offset * np.dtype(b.dtype).itemsize, b.nbytes) for b in plan.buffers if b.base is not None
        ]

    def _check(self, index: int, shape, dtype) -> None:
        name, want_shape, want_dtype = self._inputs[index]
        if tuple(shape) != want_shape or np.dtype(dtype) != want_dtype:
            raise IRCError(
                f"{self.plan.entry}: input {index} ({name}) is {np.dtype(dtype)}{list(shape)}, "
                f"expected {want_dtype}{list(want_shape)}"
            )

    def run(self, *inputs: DeviceArray) -> tuple[DeviceArray, ...]:
        """Run on device-resident inputs; the outputs stay on the device."""
        plan, device = self.plan, self.device
        if len(inputs) != len(self._inputs):
            raise IRCError(f"{plan.entry} takes {len(self._inputs)} inputs, got {len(inputs)}")
        handles = dict(self._resident)
        for i, ((name, shape, dtype), array) in enumerate(zip(self._inputs, inputs)):
            if array.shape != shape or array.dtype != dtype:
                self._check(i, array.shape, array.dtype)
            handles[name] = array.buffer
        outputs = []
        for name, nbytes, shape, dtype in self._outputs:
            buffer = handles[name] = device.alloc(nbytes)
            outputs.append(DeviceArray(device, buffer, shape, dtype))
        for name, base, byte_offset, nbytes in self._views:
            handles[name] = device.view(handles[base], byte_offset, nbytes)
        if self.graphs:
            graph = self._graph(handles)
            if graph is not None:
                self.device.launch_graph(graph)
                self.stats["graph_calls"] += 1
                return tuple(outputs)
        for launch in plan.launches:
            self.device.launch(launch, [handles[a] if isinstance(a, str) else a for a in launch.args])
        self.stats["kernel_calls"] += 1
        return tuple(outputs)

    def _graph(self, handles: dict[str, object]):
        """The graph of the launches on this call's addresses, built on their `GRAPH_AFTER`-th call; else None."""
        address = self.device.address
        key = tuple(address(handles[name]) for name in (*self.plan.inputs, *self.plan.outputs))
        graph = self._graphs.get(key)
        if graph is not None:
            self._graphs.move_to_end(key)
            return graph
        if len(self._seen) > 64 * self.GRAPHS_KEPT:  # addresses that never came back
            self._seen.clear()
        self._seen[key] += 1
        if self._seen[key] < self.GRAPH_AFTER:
            return None
        args = [[handles[a] if isinstance(a, str) else a for a in launch.args] for launch in self.plan.launches]
        extents = {name: (address(handles[name]), address(handles[name]) + nbytes) for name, nbytes in self._sizes}
        dependencies = launch_dependencies(self.plan.launches, extents)
        try:
            graph = self.device.make_graph(self.plan.launches, args, dependencies)
        except IRCError as e:  # a driver that cannot build it: the kernels still run one by one
            self.graphs = False
            warnings.warn(f"{self.plan.entry}: launching kernel by kernel, no graph: {e}", RuntimeWarning, stacklevel=3)
            return None
        self._graphs[key] = graph
        self.stats["graphs"] += 1
        del self._seen[key]
        if len(self._graphs) > self.GRAPHS_KEPT:
            _, oldest = self._graphs.popitem(last=False)
            self.device.free_graph(oldest)
            if self.stats["graph_calls"] < self.MIN_GRAPH_CALLS * self.stats["graphs"]:
                self._give_up_graphs()
                return None
        return graph

    def _give_up_graphs(self) -> None:
        """Free every graph and launch kernel by kernel from now on (the addresses cycle through more sets
        than `GRAPHS_KEPT`: graphs would be built for nearly every call)."""
        self.graphs = False
        self.stats["graphs_given_up"] = 1
        while self._graphs:
            self.device.free_graph(self._graphs.popitem()[1])
        self._seen.clear()

    def __del__(self):
        graphs = getattr(self, "_graphs", None)
        while graphs:
            _, graph = graphs.popitem()
            try:
                self.device.free_graph(graph)
            except Exception:  # noqa: BLE001 - at interpreter exit the driver may be gone already
                pass

    def run_numpy(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        """Upload `inputs`, run, and copy the outputs back."""
        if len(inputs) != len(self._inputs):
            raise IRCError(f"{self.plan.entry} takes {len(self._inputs)} inputs, got {len(inputs)}")
        arrays = []
        for i, ((_, _, dtype), x) in enumerate(zip(self._inputs, inputs)):
            x = np.asarray(x)
            if x.dtype != dtype and np.can_cast(x.dtype, dtype, casting="same_kind"):
                x = x.astype(dtype)
            self._check(i, x.shape, x.dtype)
            arrays.append(DeviceArray.from_numpy(self.device, x))
        return tuple(out.to_numpy() for out in self.run(*arrays))
