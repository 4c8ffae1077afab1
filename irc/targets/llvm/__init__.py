"""The `llvm` target: the host CPU through TVM's LLVM backend.

    target("llvm")                                  # this machine's CPU (irc.targets.llvm.cpu.host_target)
    target({"kind": "llvm", "mcpu": "znver3"})      # another CPU

`cpu.py` names the CPU and what the schedules need to know about it, `codegen.py` builds the code
(both import TVM: this module imports them when a method needs them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irc.runtime.compiled import CompiledModule, SharedLibrary
from irc.runtime.host import host_cpu
from irc.runtime.kinds import RUNTIME_KINDS
from irc.targets.kinds import Step, Target, import_tvm, register, untimed

if TYPE_CHECKING:
    import tvm
    from xdsl.dialects.builtin import ModuleOp

    from irc.runtime.package import Package


@register
class LLVMTarget(Target):
    """The host CPU through TVM's LLVM backend (`{"kind": "llvm", "mcpu": ...}` picks another CPU)."""

    kind = "llvm"
    codegen_module = "irc.targets.llvm.codegen"
    summary = "host CPU"

    def key_material(self) -> dict:
        return {"target": self.spec, "cpu": host_cpu()}

    def tvm_target(self) -> tvm.target.Target:
        """The host CPU (`"llvm"`), or the CPU the options name; a kind derived from this one (another
        `kind`, the same code) means the same CPU."""
        import_tvm()
        from irc.targets.llvm.cpu import resolve_target

        return resolve_target({**self.spec, "kind": "llvm"} if isinstance(self.spec, dict) else "llvm")

    def compile(self, module: ModuleOp, schedule: bool = True, step: Step = untimed) -> CompiledModule:
        import_tvm()
        from irc.targets.llvm.codegen import compile_llvm

        return compile_llvm(module, self.tvm_target(), schedule, step)

    def from_package(self, loaded: Package, stages: dict[str, str], notes: list[str], schedules: dict):
        kernels = {name: entry.run for name, entry in loaded.entries.items()}  # the library, through tvm_ffi
        library = SharedLibrary(loaded.members[RUNTIME_KINDS["llvm"].kernel_file], loaded.target)
        return CompiledModule(stages["tir"], stages["target"], "ll", kernels, notes, library)
