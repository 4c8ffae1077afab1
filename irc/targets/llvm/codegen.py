"""The `llvm` target's code generator: translate, schedule and build for the CPU (`compile_llvm`).

compiled = compile_llvm(loops_module, resolve_target("llvm"), schedule=True, step=untimed)
compiled.source        # LLVM IR (stage 7, .ll)
(y,) = compiled(x)     # numpy in, numpy out
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import tvm
from tvm.target import codegen
from xdsl.dialects.builtin import ModuleOp

from irc.runtime.compiled import CompiledModule, SharedLibrary
from irc.runtime.executor import Kernel
from irc.runtime.host import VECTOR_FEATURES
from irc.runtime.kinds import RUNTIME_KINDS
from irc.runtime.package import load_library
from irc.targets.kinds import Step
from irc.targets.llvm.cpu import cpu_info, num_threads
from irc.targets.llvm.parts import split_large
from irc.targets.schedules import schedule_cpu
from irc.targets.tir import translate_module


def _lower_fmod(call: tvm.tirx.Call) -> tvm.tirx.PrimExpr:
    dtype = str(call.ty.dtype)
    return tvm.tirx.call_pure_extern(dtype, "fmodf" if dtype == "float32" else "fmod", *call.args)


# TVM 0.27 lowers `tirx.fmod` (our `arith.remf`) for CUDA and OpenCL only: on the CPU it is libm's fmod.
tvm.tirx.register_intrin_lowering("tirx.fmod", "llvm", f=_lower_fmod)


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
                mod = split_large(mod, f.name)
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


def build(mod: tvm.IRModule, target: tvm.target.Target) -> tvm.runtime.Module:
    """Compile a scheduled TIR module to a loaded LLVM module.

    Without TVM's argument checks (`tirx.disable_assert`): the packed wrapper of each function would
    check every argument's type code, rank, dtype, shape, strides, offset and device, and that code was
    most of the LLVM IR of a small program and half of its LLVM time. Every call of the compiled code
    goes through `irc.runtime.executor.Kernel` (compiles, the cache, packages), which checks the count,
    shapes and dtypes of the inputs, makes them C-contiguous host arrays and allocates the outputs.
    """
    num_threads()  # TVM's thread pool reads the variable when it starts
    current = tvm.transform.PassContext.current()
    config = {**current.config, "tirx.disable_assert": True}
    with tvm.transform.PassContext(current.opt_level, config=config, instruments=current.instruments):
        return tvm.compile(mod, target=target)


def llvm_source(executable) -> str:
    """The LLVM IR text (stage 7) of a built module."""
    return executable.mod.inspect_source("ll")


def _export(executable, source: str) -> SharedLibrary | None:
    """The built module as a shared library (None where it cannot be linked: no C compiler).

    Exporting runs LLVM's code generation, as the JIT would on the first lookup of a function;
    loading the library instead of JIT-compiling does that work once for both running the code
    and storing it (a package, the compile cache).
    """
    with tempfile.TemporaryDirectory(prefix="irc-export-") as tmp:
        path = Path(tmp) / RUNTIME_KINDS["llvm"].kernel_file
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
