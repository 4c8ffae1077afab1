"""What a GPU target's compile yields, without TVM: a `GPUProgram` (TIR text, device source, one
execution plan per entry) and the `GPUModule` that runs it through `irc.runtime`. irc.targets.gpu
builds them with TVM; a compile cache hit or a package rebuilds them from stored files alone, so a
GPU hit imports no TVM, as an llvm hit (docs/cache.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from irc.runtime.entry import select_entry
from irc.runtime.kinds import RUNTIME_KINDS
from irc.runtime.plan import Device, DeviceArray, ExecutionPlan, PlanRunner


@dataclass
class GPUProgram:
    """A loops-stage module compiled for a GPU: TIR text, device source and one plan per entry."""

    tir_text: str
    source: str
    plans: dict[str, ExecutionPlan]
    schedules: dict[str, str]  # kernel function -> the rule that scheduled it


class GPUModule:
    """A compiled GPU module with the interface of the llvm `CompiledModule`.

    `tir_text`, `source`, `source_ext`, `plans`, `plan` (the first entry's);
    `module(*numpy arrays)` -> tuple of numpy arrays; `module.run_device(*device arrays)`
    keeps inputs and outputs on the device (`irc.runtime.plan.DeviceArray`, `.to_numpy()`).
    `target` is what the code was generated for, as a package manifest names it (`{"kind": "opencl"}`);
    its kind's entry in irc.runtime.kinds opens the device, on the first run, so compiling needs no GPU.
    """

    def __init__(self, program: GPUProgram, target: dict, source_ext: str):
        self.program = program
        self.tir_text = program.tir_text
        self.source = program.source
        self.source_ext = source_ext
        self.plans = program.plans
        self.target = target
        self._device: Device | None = None
        self._runners: dict[str, PlanRunner] = {}

    @property
    def plan(self) -> ExecutionPlan:
        return select_entry(self.plans)

    @property
    def kind(self) -> str:
        """The kind of its code (irc.runtime.kinds)."""
        return self.target["kind"]

    def binary(self) -> bytes | None:
        """The device binary built from `source`, for a kind that has one (cuda's cubin); else None."""
        return None

    @property
    def device(self) -> Device:
        if self._device is None:
            kind = RUNTIME_KINDS[self.kind]
            code = self.binary() if kind.binary_file else self.source
            self._device = kind.open_device(code, self.target, f"the compiled {self.kind} module")
        return self._device

    def entry(self, name: str | None = None) -> Callable[..., tuple[np.ndarray, ...]]:
        """The entry `name` (else the first, irc.runtime.entry) as a numpy-in, numpy-out callable."""
        return self.runner(name).run_numpy

    def runner(self, entry: str | None = None) -> PlanRunner:
        entry = select_entry(self.plans, entry, "the module").entry
        if entry not in self._runners:
            self._runners[entry] = PlanRunner(self.plans[entry], self.device)
        return self._runners[entry]

    def to_device(self, array: np.ndarray) -> DeviceArray:
        return DeviceArray.from_numpy(self.device, array)

    def run_device(self, *inputs: DeviceArray, entry: str | None = None) -> tuple[DeviceArray, ...]:
        return self.runner(entry).run(*inputs)

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        return self.runner().run_numpy(*inputs)
