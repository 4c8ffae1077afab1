"""The compilation pipeline as data: seven named stages, each a list of passes.

    >>> lowering = Pipeline(target="llvm").run(module)
    >>> lowering.stages["linalg"]        # the IR text after each stage, in order
    >>> lowering.dump("out/")            # 01-hl.mlir ... 07-target.ll
    >>> lowering(x, w)                   # run the compiled code

The driver runs every pass itself, with instruments around it (verification
always; IR printing and timing on request), so passes stay silent.
"""

from __future__ import annotations

import functools
import gc
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from irc.compiler.files import write_files
from irc.compiler.instruments import Instrument, IRPrinter, PassDump, PassRun, VerifyAfterEachPass, verify_module
from irc.compiler.registry import available_passes
from irc.compiler.stages import AUTODIFF_PASS, STAGES, Stage, stage
from irc.errors import CompileError, InputError, IRCError, PassError
from irc.interpreters.reference import run_hl
from irc.ir import make_context, print_module
from irc.targets import kinds
from irc.targets.kinds import Target

_COMMENT = {"mlir": "//", "py": "#", "ll": ";", "cu": "//", "cl": "//"}


def _dump_names(s: Stage) -> str:
    """A regex of the files a dump writes for `s`: the stage file and, for MLIR stages, the per-pass files."""
    base = f"{s.number:02d}-{re.escape(s.name)}"
    if s.is_mlir:
        return rf"{base}\.mlir|{base}/\d\d-[\w.-]+\.mlir"
    return rf"{base}\.py" if s.name == "tir" else rf"{base}\.(?:ll|cu|cl)"


#: the files a dump writes (`03-linalg.mlir`, `03-linalg/02-<pass>.mlir`, ...): the only ones a later dump removes
DUMP_FILE = re.compile("|".join(_dump_names(s) for s in STAGES))


def run_passes(
    module: ModuleOp, passes: Sequence[tuple[str, ModulePass]], stage_name: str, instruments: Sequence[Instrument]
) -> None:
    """Apply `passes` ((name, pass) pairs) in order, calling every instrument before and after each one.

    A pass that raises becomes a PassError naming the pass and the stage.
    """
    ctx = make_context()
    for index, (name, p) in enumerate(passes, 1):
        run = PassRun(stage_name, index, name, p)
        for instrument in instruments:
            instrument.before_pass(run, module)
        try:
            p.apply(ctx, module)
        except IRCError:
            raise
        except Exception as e:
            raise PassError(f"pass '{run.name}' (stage {stage_name}) failed: {brief(e)}") from e
        for instrument in instruments:
            instrument.after_pass(run, module)


def brief(e: BaseException) -> str:
    """`Type: message` of a foreign exception, cut to its first line (and TVM's `Error message:` line)."""
    lines = str(e).strip().splitlines() or [""]
    if len(lines) <= 3:
        return f"{type(e).__name__}: {' '.join(line.strip() for line in lines)}"
    key = [line for line in lines[1:] if line.startswith("Error message:")]
    return f"{type(e).__name__}: {' '.join([lines[0], *key])} (--traceback shows all of it)"


def _load_pass(name: str) -> ModulePass:
    loaders = available_passes()
    if name not in loaders:
        raise IRCError(f"pass '{name}' is not registered in irc.compiler.registry")
    try:
        return loaders[name]()()
    except (ImportError, AttributeError) as e:
        raise IRCError(f"pass '{name}' is not available yet: {e}") from e


class StageTexts(MutableMapping[str, str]):
    """Stage name -> IR text, in pipeline order. A text may be set as a function that prints it: it is
    printed on first use. The pipeline sets the xDSL stages so (printing every stage's module was about
    a quarter of the xDSL passes' time under cProfile, and most compiles, eager and jit, never read a stage)."""

    def __init__(self) -> None:
        self._texts: dict[str, str | Callable[[], str]] = {}

    def defer(self, name: str, printer: Callable[[], str]) -> None:
        self._texts[name] = printer

    def __getitem__(self, name: str) -> str:
        text = self._texts[name]
        if callable(text):
            text = self._texts[name] = text()
        return text

    def __setitem__(self, name: str, text: str) -> None:
        self._texts[name] = text

    def __delitem__(self, name: str) -> None:
        del self._texts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __repr__(self) -> str:  # shown as the dict it stands for
        return repr(dict(self))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block (back on after, if it was on).

    A compile allocates hundreds of thousands of IR objects; each full collection meanwhile walked
    every object of the process (torch's too, where it is loaded): 6.5 % of the DCGAN step's compile
    under `perf`. What becomes garbage inside is collected after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Lowering:
    """The result of running the pipeline on one module.

    `stages`: stage name -> IR text, in pipeline order, up to the stop stage (printed on first use).
    `modules`: stage name -> a clone of the xDSL module after stages 1-5.
    `compiled`: the target's CompiledModule (None for `ref` or when stopped before tir).
    `pass_dumps`: the IR after each pass, when an IRPrinter instrument ran.
    """

    target: str
    source: str
    grad: bool = False
    stages: MutableMapping[str, str] = field(default_factory=StageTexts)
    modules: dict[str, ModuleOp] = field(default_factory=dict)
    compiled: object | None = None
    pass_dumps: list[PassDump] = field(default_factory=list)

    @property
    def last_stage(self) -> str:
        return list(self.stages)[-1]

    def extension(self, stage_name: str) -> str:
        s = stage(stage_name)
        if s.is_mlir:
            return "mlir"
        return "py" if s.name == "tir" else self.compiled.source_ext

    def command(self, stage_name: str) -> str:
        """The `irc compile` command that reproduces `stage_name`."""
        grad = " --grad" if self.grad else ""
        return f"irc compile {self.source} --target {self.target}{grad} --emit {stage_name}"

    def header(self, stage_name: str) -> str:
        """The comment block each dump starts with: stage, passes, reproducing command."""
        s = stage(stage_name)
        c = _COMMENT[self.extension(stage_name)]
        made = f"passes: {', '.join(self.stage_passes(stage_name))}" if s.passes else f"made by: {s.producer}"
        return (
            f"{c} irc stage {s.number}/{len(STAGES)}: {s.name} ({s.dialects})\n"
            f"{c} {made}\n"
            f"{c} reproduce: {self.command(stage_name)}\n"
        )

    def stage_passes(self, stage_name: str) -> tuple[str, ...]:
        passes = stage(stage_name).passes
        return (AUTODIFF_PASS, *passes) if self.grad and stage_name == "hl-opt" else passes

    def file_names(self) -> dict[str, str]:
        """stage -> its dump file name (`01-hl.mlir`, ..., `07-target.ll`)."""
        return {name: f"{stage(name).number:02d}-{name}.{self.extension(name)}" for name in self.stages}

    def dump(self, directory: str | os.PathLike) -> Path:
        """Write one file per stage (and per pass when IR printing ran) into `directory` (docs/cli.md).

        Each file is written atomically and only after all of them are complete; other files in
        `directory` are left alone, except stale dumps (DUMP_FILE) of an earlier run, which are removed.
        `directory` is created if its parent exists.
        """
        files = {file_name: self.header(name) + self.stages[name] for name, file_name in self.file_names().items()}
        for d in self.pass_dumps:
            s = stage(d.run.stage)
            head = (
                f"// irc stage {s.number}/{len(STAGES)}: {s.name}, after pass {d.run.index}: {d.run.name}\n"
                f"// reproduce: {self.command(s.name)} --print-ir-after-all\n"
            )
            files[f"{s.number:02d}-{s.name}/{d.run.index:02d}-{d.run.name.split('{')[0]}.mlir"] = head + d.text
        return write_files(directory, files, stale=DUMP_FILE)

    def execute(self, stage_name: str, *arrays: np.ndarray, entry: str | None = None) -> tuple[np.ndarray, ...]:
        """Run the program's entry (`entry`, else its first function: irc.runtime.entry) as it is at
        `stage_name`: hl stages by the numpy reference, linalg..loops by the stage interpreter,
        tir/target by the compiled code."""
        s = stage(stage_name)
        if s.name not in self.stages:
            raise InputError(f"stage {s.name} was not reached (stopped after {self.last_stage})")
        if s.number <= 2:
            return tuple(run_hl(self.modules[s.name], arrays, entry))
        if s.is_mlir:
            from irc.interpreters.loops import run_stage  # only loaded to debug a stage

            return tuple(run_stage(self.modules[s.name], arrays, entry))
        return tuple(self.compiled.entry(entry)(*arrays))

    def __call__(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        """Run the last stage reached (the compiled code, or the `ref` interpreter)."""
        if self.compiled is not None:  # tir or target is the last stage: run the code, no lookups
            return tuple(self.compiled(*arrays))
        return self.execute(self.last_stage, *arrays)


class Pipeline:
    """The stages from hl to target code, with instruments around every pass.

    `target`: "llvm", "cuda", "opencl", "ref" (stops after hl-opt; runs the
    numpy reference), or a TVM target dict such as `{"kind": "llvm", "mcpu": ...}`. `stop_after`: a stage name. Verification after every
    pass is always on; `instruments` adds e.g. `IRPrinter()`, `PassTiming()`.
    """

    def __init__(
        self,
        target: str | dict | Target = "llvm",
        stop_after: str | None = None,
        instruments: Sequence[Instrument] = (),
        grad: bool = False,
    ):
        target = kinds.target(target)
        if stop_after is not None:
            stage(stop_after)
        if not target.compiles:
            if stop_after is not None and stage(stop_after).number > 2:
                raise InputError(
                    f"target ref runs the hl-opt stage with the numpy reference; cannot go to {stop_after}"
                )
            stop_after = stop_after or "hl-opt"
        self.target = target
        self.kind = target.kind
        self.stop_after = stop_after or "target"
        self.instruments = [VerifyAfterEachPass(), *instruments]
        self.grad = grad

    def run(self, module: ModuleOp, source: str = "<INPUT>") -> Lowering:
        """Lower a clone of `module` stage by stage; `source` (the INPUT) goes into dump headers."""
        with gc_paused():
            return self._run(module, source)

    def _run(self, module: ModuleOp, source: str) -> Lowering:
        lowering = Lowering(self.kind, source, self.grad)
        printers = [i for i in self.instruments if isinstance(i, IRPrinter)]
        marks = [len(p.dumps) for p in printers]  # a printer may already hold an earlier run's dumps
        module = module.clone()
        verify_module(module, f"input {source}")
        last = stage(self.stop_after).number
        for s in STAGES:
            if s.number > last:
                break
            if s.name == "tir":
                self._compile(module, lowering)
                break
            passes = [(name, _load_pass(name)) for name in lowering.stage_passes(s.name)]
            run_passes(module, passes, s.name, self.instruments)
            lowering.modules[s.name] = module.clone()
            printer = functools.partial(print_module, lowering.modules[s.name], locations=s.name == "hl")
            lowering.stages.defer(s.name, printer)
        for printer, mark in zip(printers, marks, strict=True):
            lowering.pass_dumps.extend(printer.dumps[mark:])
        return lowering

    def _compile(self, module: ModuleOp, lowering: Lowering) -> None:
        steps = Counter()

        @contextmanager
        def step(stage_name: str, name: str) -> Iterator[None]:
            """One code generation step as a pass run without a pass (the instruments time it)."""
            steps[stage_name] += 1
            run = PassRun(stage_name, steps[stage_name], name, None)
            for instrument in self.instruments:
                instrument.before_pass(run, module)
            yield
            for instrument in self.instruments:
                instrument.after_pass(run, module)

        with step("tir", "import-tvm"):
            from irc.targets import compile_loops  # TVM is heavy: imported only to generate code
        try:
            compiled = compile_loops(module, self.target, step=step)
        except IRCError:
            raise
        except Exception as e:
            raise CompileError(f"code generation for target {self.kind} failed: {brief(e)}") from e
        lowering.compiled = compiled
        lowering.stages["tir"] = compiled.tir_text
        if self.stop_after == "target":
            lowering.stages["target"] = compiled.source
