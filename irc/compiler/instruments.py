"""Pass instrumentation: verification, IR printing and timing around each pass.

Like MLIR's pass instruments, these hook before and after every pass the
driver runs; passes never print, time or verify themselves.

    >>> timing = PassTiming()
    >>> Pipeline(instruments=[timing, IRPrinter(only_changed=True)]).run(module)
    >>> print(timing.table())
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from xdsl.dialects.builtin import FileLineColLoc, ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from irc.errors import PassError
from irc.ir import print_module


@dataclass(frozen=True)
class PassRun:
    """One pass application: its stage, its 1-based index in the stage and its spec (`name{opt=v}`).

    `pass_` is None for the code generation steps (stages tir and target: importing TVM,
    translating, scheduling, building), whose results are not xDSL modules.
    """

    stage: str
    index: int
    name: str
    pass_: ModulePass | None


class Instrument:
    """Base of every instrument; the driver calls both hooks around each pass."""

    def before_pass(self, run: PassRun, module: ModuleOp) -> None:
        pass

    def after_pass(self, run: PassRun, module: ModuleOp) -> None:
        pass


def location_text(op: Operation) -> str | None:
    """`file:line:col` of an op's source location, or None when it has none."""
    loc = op.location
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
    return None


def _op_summary(op: Operation) -> str:
    text = str(op).splitlines()[0] if op.regions else str(op)
    return text if len(text) <= 200 else text[:197] + "..."


def verify_module(module: ModuleOp, context: str) -> None:
    """Verify `module`; on failure raise a PassError naming `context`, the first bad op and its location."""
    try:
        module.verify()
    except Exception as error:
        for op in module.walk():
            try:
                op.verify(verify_nested_ops=False)
            except Exception as op_error:
                where = location_text(op)
                prefix = f"{where}: " if where else ""
                raise PassError(
                    f"{prefix}{context}: op {op.name} does not verify: {op_error}\n  {_op_summary(op)}"
                ) from error
        raise PassError(f"{context}: the IR does not verify: {error}") from error


class VerifyAfterEachPass(Instrument):
    """Verify the module after every pass (the driver always installs it)."""

    def after_pass(self, run: PassRun, module: ModuleOp) -> None:
        if run.pass_ is not None:
            verify_module(module, f"after pass '{run.name}' (stage {run.stage})")


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PassDump:
    """The IR after one pass."""

    run: PassRun
    text: str


class IRPrinter(Instrument):
    """Record the IR after every pass (`only_changed`: only passes that changed its printed form).

    The dumps go to `self.dumps` (the pipeline writes them as files) and, when
    `stream` is given, also to that stream with MLIR's `IR Dump After` banner.
    """

    def __init__(self, only_changed: bool = False, stream: TextIO | None = None):
        self.only_changed = only_changed
        self.stream = stream
        self.dumps: list[PassDump] = []
        self._before: str | None = None

    def before_pass(self, run: PassRun, module: ModuleOp) -> None:
        if run.pass_ is not None and self.only_changed:
            self._before = fingerprint(print_module(module))

    def after_pass(self, run: PassRun, module: ModuleOp) -> None:
        if run.pass_ is None:
            return
        text = print_module(module)
        if self.only_changed and fingerprint(text) == self._before:
            return
        self.dumps.append(PassDump(run, text))
        if self.stream is not None:
            self.stream.write(f"// -----// IR Dump After {run.name} (stage {run.stage}) //----- //\n{text}\n")


@dataclass
class StageProgress(Instrument):
    """One line per stage as the pipeline enters it (`irc: [3/7] linalg`), so long compiles show progress."""

    stream: object = None
    _stage: str | None = None
    _start: float = 0.0

    def before_pass(self, run: PassRun, module: ModuleOp) -> None:
        if run.stage != self._stage:
            from irc.compiler.stages import stage

            self._stage = run.stage
            s = stage(run.stage)
            print(f"irc: [{s.number}/7] {s.name}", file=self.stream or sys.stderr, flush=True)


@dataclass
class SlowCompileNotice(Instrument):
    """Lines on stderr while one compile runs long: after `after` seconds, then every `every` seconds,
    what is compiled, for how long so far and the step it is in. A large program (a GAN's training
    step, a long unrolled loop) takes a minute or more in TVM and LLVM; without a word, that looks
    like a hang. Wrap the compile in `watching()`.

        irc: still compiling @step (2602 hl ops) for llvm: 10 s so far, in target: tvm-build (...)
    """

    what: str
    after: float = 10.0
    every: float = 60.0
    stream: TextIO | None = None
    _step: str = "hl-opt"

    def before_pass(self, run: PassRun, module: ModuleOp) -> None:
        self._step = f"{run.stage}: {run.name}"

    @contextmanager
    def watching(self) -> Iterator[None]:
        import threading

        done = threading.Event()
        thread = threading.Thread(target=self._watch, args=(done, time.perf_counter()), daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _watch(self, done, start: float) -> None:
        wait = self.after
        while not done.wait(wait):
            print(
                f"irc: still compiling {self.what}: {time.perf_counter() - start:.0f} s so far, in {self._step} "
                "(large programs take a minute or more: docs/compile-time.md)",
                file=self.stream or sys.stderr,
                flush=True,
            )
            wait = self.every


@dataclass
class PassTiming(Instrument):
    """Wall-clock seconds of every pass and code generation step; `table()` formats them like `--time-passes`.

    Work around the pipeline is timed with `step` (the CLI: loading the input, writing the output)
    or recorded with `add` (the process start-up, see `process_seconds`); `table(wall=...)` adds
    the time no row covers as `other`, so that its total is the whole run.

        >>> with timing.step("load-input"):
        ...     program = load_program(path)
        >>> print(timing.table(wall=process_seconds()))
    """

    records: list[tuple[PassRun, float]] = field(default_factory=list)
    _start: float = 0.0

    def before_pass(self, run: PassRun, module: ModuleOp) -> None:
        self._start = time.perf_counter()

    def after_pass(self, run: PassRun, module: ModuleOp) -> None:
        self.records.append((run, time.perf_counter() - self._start))

    def add(self, name: str, seconds: float) -> None:
        """Record `seconds` for a step outside the pipeline (stage `-`)."""
        self.records.append((PassRun("-", 0, name, None), seconds))

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the body as the step `name` (outside the pipeline); not recorded if it raises."""
        start = time.perf_counter()
        yield
        self.add(name, time.perf_counter() - start)

    def table(self, wall: float | None = None) -> str:
        """One row per pass or step: name, stage, seconds, percent; then `other` (`wall` minus the
        rows, when `wall` is given and larger) and the total."""
        rows = [(run.name, run.stage, seconds) for run, seconds in self.records]
        covered = sum(seconds for *_, seconds in rows)
        if wall is not None and wall > covered:
            rows.append(("other", "-", wall - covered))
        total = max(covered, wall or 0.0) or 1e-12
        width = max([len("pass"), *(len(name) for name, *_ in rows)])
        lines = [f"{'pass':<{width}}  {'stage':<8}  {'seconds':>9}  {'percent':>7}"]
        for name, stage_name, seconds in rows:
            lines.append(f"{name:<{width}}  {stage_name:<8}  {seconds:>9.4f}  {100 * seconds / total:>6.1f}%")
        lines.append(f"{'total':<{width}}  {'':<8}  {total:>9.4f}  {100.0:>6.1f}%")
        return "\n".join(lines) + "\n"


def process_seconds() -> float | None:
    """Seconds since this process started (interpreter start-up and imports included); None where
    the system does not say (Linux: /proc/self/stat, to 1/100 s)."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime: clock ticks after boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None
