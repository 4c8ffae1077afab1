"""`compile_loops`: translate, schedule and build a loops-stage module for the CPU."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tvm
from xdsl.dialects.builtin import ModuleOp

from irc.runtime.executor import Kernel
from irc.targets.llvm import build, cpu_info, llvm_source, resolve_target
from irc.targets.schedules import schedule_cpu
from irc.targets.tir import translate_module


@dataclass
class CompiledModule:
    """Compiled entries of one module, with the stage 6/7 texts.

    `compiled(*inputs)` runs the first entry; `compiled.entry("name")` another.
    `schedule_notes` lists the schedule rules TVM refused (those blocks got a simpler one).
    `executable` is TVM's built module (`export_library` writes it as a shared library, see irc.runtime.package).
    """

    tir_text: str
    source: str
    source_ext: str
    kernels: dict[str, Kernel]
    schedule_notes: list[str] = field(default_factory=list)
    executable: object | None = None

    def entry(self, name: str | None = None) -> Kernel:
        if name is None:
            return next(iter(self.kernels.values()))
        if name not in self.kernels:
            raise KeyError(f"no entry @{name}; entries: {', '.join(self.kernels)}")
        return self.kernels[name]

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        return self.entry()(*inputs)


def compile_loops(module: ModuleOp, target: str | dict = "llvm", schedule: bool = True) -> CompiledModule:
    """Compile a loops-stage module (see docs/architecture.md, stage 5) for an LLVM CPU target.

    `schedule=False` builds the plain translation (serial loops), the reference for schedules.
    GPU targets (`"opencl"`, `{"kind": "cuda", "arch": "sm_90"}`) return an `irc.targets.gpu.GPUModule`.
    """
    kind = target["kind"] if isinstance(target, dict) else target
    if kind == "cuda":
        from irc.targets.cuda import compile_cuda

        return compile_cuda(module, target)
    if kind == "opencl":
        from irc.targets.opencl import compile_opencl

        return compile_opencl(module, target)
    tvm_target = resolve_target(target)
    funcs = translate_module(module)
    plain = mod = tvm.IRModule({f.name: f.prim_func for f in funcs})
    notes: list[str] = []
    if schedule:
        cpu = cpu_info(tvm_target)
        for f in funcs:
            mod, func_notes = schedule_cpu(mod, f.name, cpu)
            notes += func_notes
    try:
        executable = build(mod, tvm_target)
    except Exception as e:  # a schedule TVM accepted but cannot lower: the plain loops still can
        if mod is plain:
            raise
        notes.append(
            f"building the scheduled module failed ({type(e).__name__}: {str(e).strip()[:200]}); built unscheduled"
        )
        mod = plain
        executable = build(mod, tvm_target)
    kernels = {}
    for f in funcs:
        n_in = len(f.arg_types) - f.num_outputs
        kernels[f.name] = Kernel(executable[f.name], f.name, f.arg_types[:n_in], f.arg_types[n_in:], f.constants)
    return CompiledModule(mod.script(), llvm_source(executable), "ll", kernels, notes, executable)
