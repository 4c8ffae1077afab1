"""Execution plans: what a GPU runtime does to run one compiled entry, without TVM.

A plan lists the buffers of one entry (inputs, outputs, temporaries, constant
tensors and views onto them) and the kernel launches, in order. A runtime
allocates the device buffers, uploads the inputs (and, once, the constants),
launches every kernel with its grid/block sizes and copies the outputs back.
Plans are plain data: `to_json()` / `from_json()` round-trip them, so a
compiled package can store a plan beside the kernels' source or binary.

    plan = ExecutionPlan.from_json(text)
    (out,) = PlanRunner(plan, device).run_numpy(x, w)

JSON layout (`to_json`):

    {"entry": "mlp", "inputs": ["x", ...], "outputs": ["out"],
     "buffers": [{"id": "x", "shape": [64, 784], "dtype": "float32", "kind": "input",
                  "base": null, "offset": 0}, ...],
     "launches": [{"name": "mlp_k0_kernel", "args": ["tmp", "x", {"value": 3, "dtype": "int32"}],
                   "grid": [256, 1, 1], "block": [64, 1, 1], "shared_bytes": 0}, ...],
     "constants": {"w": {"shape": [..], "dtype": "float32", "data": "<base64 of the C-order bytes>"}}}
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
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
    """One kernel launch: `args` are buffer ids or scalars, in the kernel's parameter order."""

    name: str
    args: tuple[str | Scalar, ...]
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int = 0


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


class PlanRunner:
    """Executes one plan on one device. Temporaries and constants are allocated once and reused."""

    def __init__(self, plan: ExecutionPlan, device: Device):
        self.plan = plan
        self.device = device
        self._resident: dict[str, object] = {}
        for spec in plan.buffers:
            if spec.kind in ("temp", "const") and spec.base is None:
                self._resident[spec.id] = device.alloc(max(1, spec.nbytes))
        for name, array in plan.constants.items():
            device.upload(self._resident[name], np.asarray(array, plan.buffer(name).dtype, order="C"))

    def _check(self, index: int, spec: BufferSpec, shape, dtype) -> None:
        if tuple(shape) != spec.shape or np.dtype(dtype) != np.dtype(spec.dtype):
            raise IRCError(
                f"{self.plan.entry}: input {index} ({spec.id}) is {np.dtype(dtype)}{list(shape)}, "
                f"expected {spec.dtype}{list(spec.shape)}"
            )

    def run(self, *inputs: DeviceArray) -> tuple[DeviceArray, ...]:
        """Run on device-resident inputs; the outputs stay on the device."""
        plan = self.plan
        if len(inputs) != len(plan.inputs):
            raise IRCError(f"{plan.entry} takes {len(plan.inputs)} inputs, got {len(inputs)}")
        handles = dict(self._resident)
        for i, (name, array) in enumerate(zip(plan.inputs, inputs)):
            self._check(i, plan.buffer(name), array.shape, array.dtype)
            handles[name] = array.buffer
        outputs = []
        for name in plan.outputs:
            spec = plan.buffer(name)
            outputs.append(DeviceArray(self.device, self.device.alloc(max(1, spec.nbytes)), spec.shape, spec.dtype))
            handles[name] = outputs[-1].buffer
        for spec in plan.buffers:
            if spec.base is not None:
                itemsize = np.dtype(spec.dtype).itemsize
                handles[spec.id] = self.device.view(handles[spec.base], spec.offset * itemsize, spec.nbytes)
        for launch in plan.launches:
            self.device.launch(launch, [handles[a] if isinstance(a, str) else a for a in launch.args])
        return tuple(outputs)

    def run_numpy(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        """Upload `inputs`, run, and copy the outputs back."""
        if len(inputs) != len(self.plan.inputs):
            raise IRCError(f"{self.plan.entry} takes {len(self.plan.inputs)} inputs, got {len(inputs)}")
        arrays = []
        for i, (name, x) in enumerate(zip(self.plan.inputs, inputs)):
            spec = self.plan.buffer(name)
            x = np.asarray(x)
            if x.dtype != np.dtype(spec.dtype) and np.can_cast(x.dtype, spec.dtype, casting="same_kind"):
                x = x.astype(spec.dtype)
            self._check(i, spec, x.shape, x.dtype)
            arrays.append(DeviceArray.from_numpy(self.device, x))
        return tuple(out.to_numpy() for out in self.run(*arrays))
