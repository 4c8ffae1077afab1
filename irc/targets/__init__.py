"""Stages 6-7: loops-stage MLIR -> TVM TIR (scheduled) -> target code, and running it.

compiled = compile_loops(module)            # target "llvm": the host CPU
compiled.tir_text, compiled.source          # stage 6 (TVMScript) and 7 (LLVM IR) dumps
(c,) = compiled(a, b)                       # numpy in, numpy out
t = target({"kind": "cuda", "arch": "sm_90"})   # a Target (irc.targets.kinds): t.device, t.compile(module)

Each target kind is a module or folder here that registers its `Target` class (irc.targets.kinds);
importing this package registers the built-in ones, in `--target` order. Importing it imports no TVM;
`compile_loops`, `CompiledModule` and `TranslationError` import it (without PyTorch:
irc.runtime.imports) when first used.
"""

from irc.runtime.imports import import_without_torch
from irc.targets.kinds import TARGETS, Target, for_device, target

# Importing a kind registers it; this order is the `--target` order.
# isort: off
from irc.targets import llvm, cuda, opencl, ref  # noqa: F401
# isort: on

_WITH_TVM = {
    "CompiledModule": "irc.runtime.compiled",
    "compile_loops": "irc.targets.compile",
    "TranslationError": "irc.targets.tir",
}


def __getattr__(name: str):
    if name not in _WITH_TVM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import_without_torch("tvm")  # before the modules below import it
    return getattr(import_without_torch(_WITH_TVM[name]), name)


__all__ = ["TARGETS", "CompiledModule", "Target", "TranslationError", "compile_loops", "for_device", "target"]
