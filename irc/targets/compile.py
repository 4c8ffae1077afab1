"""`compile_loops`: a loops-stage module compiled for a target (the target object does the work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from irc.targets import kinds
from irc.targets.kinds import Step, Target, untimed

if TYPE_CHECKING:
    from xdsl.dialects.builtin import ModuleOp

    from irc.runtime.compiled import CompiledModule
    from irc.targets.gpu_module import GPUModule


def compile_loops(
    module: ModuleOp, target: str | dict | Target = "llvm", schedule: bool = True, step: Step = untimed
) -> CompiledModule | GPUModule:
    """Compile a loops-stage module (see docs/architecture.md, stage 5) for `target` (`Target.compile`).

    `schedule=False` builds the plain translation (serial loops), the reference for schedules.
    The llvm target returns a `CompiledModule`; GPU targets (`"opencl"`, `{"kind": "cuda", "arch": "sm_90"}`)
    return an `irc.targets.gpu_module.GPUModule`. Each step runs inside `step(stage, name)`: for llvm `tir-translate`,
    `tir-schedule` (stage tir), `tvm-build` (TVM's lowering, LLVM IR and its optimization) and `llvm-codegen`
    (machine code: object file, link, load); a GPU target is one step, `cuda-build` or `opencl-build`.
    """
    return kinds.target(target).compile(module, schedule, step)
