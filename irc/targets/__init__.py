"""Stages 6-7: loops-stage MLIR -> TVM TIR (scheduled) -> target code, and running it.

compiled = compile_loops(module)            # target "llvm": the host CPU
compiled.tir_text, compiled.source          # stage 6 (TVMScript) and 7 (LLVM IR) dumps
(c,) = compiled(a, b)                       # numpy in, numpy out
"""

from irc.runtime.imports import import_without_torch

import_without_torch("tvm")  # before the modules below import it (see irc.runtime.imports)

from irc.targets.compile import CompiledModule, compile_loops  # noqa: E402
from irc.targets.tir import TranslationError  # noqa: E402

__all__ = ["CompiledModule", "TranslationError", "compile_loops"]
