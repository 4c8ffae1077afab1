"""Stages 6-7: loops-stage MLIR -> TVM TIR (scheduled) -> target code, and running it.

compiled = compile_loops(module)            # target "llvm": the host CPU
compiled.tir_text, compiled.source          # stage 6 (TVMScript) and 7 (LLVM IR) dumps
(c,) = compiled(a, b)                       # numpy in, numpy out
t = target({"kind": "cuda", "arch": "sm_90"})   # a Target (irc.targets.kinds): t.device, t.compile(module)

Importing this package imports no TVM; `compile_loops`, `CompiledModule` and `TranslationError`
import it (without PyTorch: irc.runtime.imports) when first used.
"""

from irc.runtime.imports import import_without_torch
from irc.targets.kinds import TARGETS, Target, for_device, target

_WITH_TVM = {
    "CompiledModule": "irc.targets.compile",
    "compile_loops": "irc.targets.compile",
    "TranslationError": "irc.targets.tir",
}


def __getattr__(name: str):
    if name not in _WITH_TVM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import_without_torch("tvm")  # before the modules below import it
    return getattr(import_without_torch(_WITH_TVM[name]), name)


__all__ = ["TARGETS", "CompiledModule", "Target", "TranslationError", "compile_loops", "for_device", "target"]
