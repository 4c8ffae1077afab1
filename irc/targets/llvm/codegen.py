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
from tvm import s_tir, tirx
from tvm.target import codegen
from xdsl.dialects.builtin import ModuleOp

from irc.runtime.compiled import CompiledModule, SharedLibrary
from irc.runtime.executor import Kernel
from irc.runtime.host import VECTOR_FEATURES
from irc.runtime.kinds import RUNTIME_KINDS
from irc.runtime.package import load_library
from irc.targets.kinds import Step
from irc.targets.llvm.cpu import cpu_info, num_threads
from irc.targets.schedules import schedule_cpu, with_root_body
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


# A function with more top-level loop nests than this is compiled as parts of PART_NESTS nests each.
MAX_NESTS = 32
PART_NESTS = 16


def build(mod: tvm.IRModule, target: tvm.target.Target) -> tvm.runtime.Module:
    """Compile a scheduled TIR module to a loaded LLVM module (a large function in parts: `in_parts`)."""
    num_threads()  # TVM's thread pool reads the variable when it starts
    parted = in_parts(mod)
    if parted is not mod:
        try:
            return tvm.compile(parted, target=target)
        except Exception:  # noqa: BLE001 - a TVM bug in the parts costs their time saving, not the compile
            pass
    return tvm.compile(mod, target=target)


def in_parts(mod: tvm.IRModule) -> tvm.IRModule:
    """`mod` with each function of more than MAX_NESTS top-level nests split into LLVM functions of
    PART_NESTS nests each, called in order (the last ones stay in the function: TVM 0.27's LLVM
    code generation gives its return the debug scope of a part that ends the function).

    Each part is a TVM `compute_scope` (as the body of every packed function is): LLVM's code
    generation makes it a function of its own, whose arguments are the buffers it uses. LLVM's
    optimization time grows faster than linearly with the size of a function: a training step's
    ~1000 nests in one function took most of its compile time (docs/compile-time.md). The TIR,
    the scheduled loops, and the parallel closures are unchanged; a part costs one call.
    """
    functions, parted = {}, False
    for gv, func in mod.functions_items():
        root = func.body.block if isinstance(func.body, s_tir.SBlockRealize) else None
        nests = list(root.body) if root is not None and isinstance(root.body, tirx.SeqStmt) else []
        if len(nests) > MAX_NESTS:
            cut = (len(nests) - 1) // PART_NESTS * PART_NESTS  # the last nests stay in the function itself
            parts = [
                tirx.AttrStmt(
                    tirx.IntImm("int32", 0),
                    "compute_scope",
                    tvm.ir.StringImm(f"{gv.name_hint}_part{n // PART_NESTS}"),
                    tirx.SeqStmt(nests[n : n + PART_NESTS]),
                )
                for n in range(0, cut, PART_NESTS)
            ]
            func = func.with_body(with_root_body(func.body, tirx.SeqStmt([*parts, *nests[cut:]])))
            parted = True
        functions[gv.name_hint] = func
    return tvm.IRModule(functions, attrs=mod.attrs) if parted else mod


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
