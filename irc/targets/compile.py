"""`compile_loops`: a loops-stage module compiled for a target; `compile_llvm`: translate, schedule and build for the CPU."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import tvm
from tvm.target import codegen
from xdsl.dialects.builtin import ModuleOp

from irc.runtime.compiled import CompiledModule, SharedLibrary
from irc.runtime.executor import Kernel
from irc.runtime.host import VECTOR_FEATURES
from irc.runtime.package import load_library
from irc.targets import kinds
from irc.targets.kinds import Step, Target, untimed
from irc.targets.llvm import build, cpu_info, llvm_source
from irc.targets.schedules import schedule_cpu
from irc.targets.tir import translate_module

if TYPE_CHECKING:
    from irc.targets.gpu import GPUModule


def compile_loops(
    module: ModuleOp, target: str | dict | Target = "llvm", schedule: bool = True, step: Step = untimed
) -> CompiledModule | GPUModule:
    """Compile a loops-stage module (see docs/architecture.md, stage 5) for `target` (`Target.compile`).

    `schedule=False` builds the plain translation (serial loops), the reference for schedules.
    The llvm target returns a `CompiledModule`; GPU targets (`"opencl"`, `{"kind": "cuda", "arch": "sm_90"}`)
    return an `irc.targets.gpu.GPUModule`. Each step runs inside `step(stage, name)`: for llvm `tir-translate`,
    `tir-schedule` (stage tir), `tvm-build` (TVM's lowering, LLVM IR and its optimization) and `llvm-codegen`
    (machine code: object file, link, load); a GPU target is one step, `cuda-build` or `opencl-build`.
    """
    return kinds.target(target).compile(module, schedule, step)


def compile_llvm(module: ModuleOp, tvm_target: tvm.target.Target, schedule: bool, step: Step) -> CompiledModule:
    """`compile_loops` for an llvm `tvm_target`: translate, schedule (unless `schedule` is False), build."""
    with step("tir", "tir-translate"):
        funcs = translate_module(module)
        plain = mod = tvm.IRModule({f.name: f.prim_func for f in funcs})
    notes: list[str] = []
    if schedule:
        with step("tir", "tir-schedule"):
            cpu = cpu_info(tvm_target)
            for f in funcs:
                mod, func_notes = schedule_cpu(mod, f.name, cpu)
                notes += func_notes
    with step("target", "tvm-build"):
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
        source = llvm_source(executable)
    with step("target", "llvm-codegen"):  # without a library, the JIT compiles at the first function lookup
        library = _export(executable, source)
        functions = executable if library is None else load_library(library.data)
        kernels = {}
        for f in funcs:
            n_in = len(f.arg_types) - f.num_outputs
            kernels[f.name] = Kernel(functions[f.name], f.name, f.arg_types[:n_in], f.arg_types[n_in:], f.constants)
    return CompiledModule(mod.script(), source, "ll", kernels, notes, library)


def _export(executable, source: str) -> SharedLibrary | None:
    """The built module as a shared library (None where it cannot be linked: no C compiler).

    Exporting runs LLVM's code generation, as the JIT would on the first lookup of a function;
    loading the library instead of JIT-compiling does that work once for both running the code
    and storing it (a package, the compile cache).
    """
    with tempfile.TemporaryDirectory(prefix="irc-export-") as tmp:
        path = Path(tmp) / "kernels.so"
        try:
            executable.export_library(str(path))
        except Exception:  # noqa: BLE001 - TVM's error for a missing or failing linker: the JIT still runs
            return None
        return SharedLibrary(path.read_bytes(), llvm_target(source))


def llvm_target(llvm_ir: str) -> dict:
    """The package manifest's target of LLVM IR: triple, CPU and the vector features (those a CPU may lack)."""
    triple = re.search(r'target triple = "([^"]*)"', llvm_ir)
    cpu = re.search(r'"target-cpu"="([^"]*)"', llvm_ir)
    attrs = re.search(r'"target-features"="([^"]*)"', llvm_ir)
    target = {"kind": "llvm", "mcpu": cpu.group(1) if cpu else "generic"}
    if attrs and attrs.group(1):
        target["mattr"] = attrs.group(1).split(",")
    features = codegen.llvm_get_cpu_features(tvm.target.Target(target))
    return {
        "kind": "llvm",
        "triple": triple.group(1) if triple else None,
        "mcpu": target["mcpu"],
        "features": sorted(f for f in features if f.startswith(VECTOR_FEATURES)),
    }
