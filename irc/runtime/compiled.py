"""A compiled llvm module: its entries as `Kernel`s, with the stage 6/7 texts.

Made by `irc.targets.compile_loops` (TVM's build) or read back from the
compile cache (irc.compiler.cache), which loads the shared library alone:
nothing here imports TVM.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from irc.runtime.entry import select_entry
from irc.runtime.executor import Kernel


@dataclass
class CompiledModule:
    """Compiled entries of one module, with the stage 6/7 texts.

    `compiled(*inputs)` runs the entry (the first function, irc.runtime.entry); `compiled.entry("name")` another.
    `schedule_notes` lists the schedule rules TVM refused (those blocks got a simpler one).
    `executable` is TVM's built module, or a `SharedLibrary` read back from the compile cache:
    `export_library` writes it as a shared library (see irc.runtime.package).
    """

    #: the kind of its code (irc.runtime.kinds): a shared library the CPU runs
    kind: ClassVar[str] = "llvm"

    tir_text: str
    source: str
    source_ext: str
    kernels: dict[str, Kernel]
    schedule_notes: list[str] = field(default_factory=list)
    executable: object | None = None

    def entry(self, name: str | None = None) -> Kernel:
        return select_entry(self.kernels, name, "the module")

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        return self.entry()(*inputs)


@dataclass(frozen=True)
class SharedLibrary:
    """The bytes of an exported kernel library (as `export_library` wrote them), for writing out again.

    `target`: what it was generated for, as a package manifest names it
    (`{"kind": "llvm", "triple": ..., "mcpu": ..., "features": [...]}`, docs/packages.md).
    """

    data: bytes
    target: dict

    def export_library(self, path: str | os.PathLike) -> None:
        Path(path).write_bytes(self.data)
