"""The pipeline's stages and targets, as data: what `irc stages` prints and the CLI's choices.

Kept apart from `pipeline.py` (and free of xDSL and TVM) so that `irc run model.ircpkg`
builds its argument parser without importing the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass

from irc.errors import InputError

#: the autodiff pass that `grad=True` puts first in hl-opt: it adds `@<name>_grad` beside each function
AUTODIFF_PASS = "hl-autodiff"


@dataclass(frozen=True)
class Stage:
    """One named stage: the passes that produce it, the dialects it holds, what it is.

    Stages 1, 6 and 7 have no passes; `producer` says what makes them.
    """

    number: int
    name: str
    passes: tuple[str, ...]
    dialects: str
    summary: str
    producer: str = ""

    @property
    def produced_by(self) -> str:
        return ", ".join(self.passes) or self.producer

    @property
    def is_mlir(self) -> bool:
        return self.number <= 5


STAGES: tuple[Stage, ...] = (
    Stage(
        1,
        "hl",
        (),
        "func, hl",
        "the traced program in irc's tensor dialect, with source locations",
        "the frontend trace, or a parsed .mlir file",
    ),
    Stage(
        2,
        "hl-opt",
        ("hl-decompose", "hl-canonicalize", "hl-cse", "hl-dce"),
        "func, hl",
        "hl after decompositions (relu, sigmoid, rsqrt, mean, softmax, ...), canonicalization, CSE and DCE",
    ),
    Stage(
        3,
        "linalg",
        ("convert-hl-to-linalg", "linalg-fuse-elementwise"),
        "func, linalg, tensor, arith, math",
        "linalg on tensors (named ops and generics), elementwise ops fused",
    ),
    Stage(
        4,
        "buffers",
        ("irc-bufferize", "buffer-reuse"),
        "func, memref, linalg, arith, math",
        "linalg on memrefs, outputs as trailing arguments, intermediate buffers reused",
    ),
    Stage(
        5,
        "loops",
        ("convert-linalg-to-loops",),
        "func, scf, memref, arith, math",
        "explicit loop nests: scf.parallel over parallel dims, scf.for over reductions",
    ),
    Stage(
        6,
        "tir",
        (),
        "TVM TIR (TVMScript)",
        "one TVM PrimFunc per entry, scheduled for the target",
        "irc.targets.compile_loops: loops -> TIR translation + target schedule",
    ),
    Stage(
        7,
        "target",
        (),
        "LLVM IR / CUDA C / OpenCL C",
        "the code TVM generates for the target",
        "TVM code generation",
    ),
)

STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)
STAGES_BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}


def stage(name: str) -> Stage:
    """The stage called `name`, or an InputError listing the stage names."""
    if name not in STAGES_BY_NAME:
        raise InputError(f"unknown stage '{name}'; the stages are {', '.join(STAGE_NAMES)}")
    return STAGES_BY_NAME[name]


def stages_table() -> str:
    """The pipeline stage by stage, with its passes and dialects (`irc stages`)."""
    lines = []
    for s in STAGES:
        lines.append(f"{s.number}. {s.name:<8} {s.summary}")
        lines.append(f"   {'passes:' if s.passes else 'made by:':<9} {s.produced_by}")
        lines.append(f"   {'dialects:':<9} {s.dialects}")
    lines.append(f"\nautodiff (--grad) adds the pass {AUTODIFF_PASS} at the start of hl-opt.")
    return "\n".join(lines) + "\n"
