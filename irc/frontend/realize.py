"""Realizing lazy tensors: run the pending graph (cached by structure), interpreted or compiled.

Tiers (docs/eager.md): a graph structure's first runs go to the `hl` numpy
reference interpreter (no compile, no TVM import); from its
`COMPILE_AFTER`-th run it is compiled in a background process
(`irc.compiler.compile_worker`), and its runs switch over to the compiled code
once that is ready. `IRC_EAGER` or
`set_eager_mode` forces either tier. GPU tensors always run compiled code
(their data stays on the device), unless the interpret tier is forced.

The compiler is irc's pipeline behind its compile cache (`irc.compiler.cache`), imported on the first
compile: the driver imports the frontend, not the other way round at load
time. `set_compiler` installs another one (tests).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from irc.errors import CompileError, CompileWarning, FrontendError, InputError
from irc.frontend.graph import Node, Placeholder, build_module, graph_key, user_location
from irc.interpreters.prepared import Prepared
from irc.runtime.blas import blas_threads
from irc.runtime.devices import device_of, move, to_host
from irc.targets import kinds

#: (hl module, target) -> callable(*numpy arrays) -> tuple of numpy arrays
Compiler = Callable[[ModuleOp, str], Callable[..., Sequence[np.ndarray]]]


def _pipeline_compiler(module: ModuleOp, target: str, text: str | None = None) -> Callable[..., Sequence[np.ndarray]]:
    from irc.compiler.cache import compile_cached  # in process, then on disk (docs/cache.md)

    return compile_cached(module, target, text)


_compiler: Compiler = _pipeline_compiler
#: how often a graph structure runs on the interpreter before it is compiled (auto mode): 2, the
#: first sign that it repeats (a training step); a graph that runs once never pays for a compile,
#: and a later threshold would only delay the switch-over, since compiles run in the background
COMPILE_AFTER = 2
MODES = ("auto", "interpret", "compile")


@dataclass(eq=False)
class Program:
    """One graph structure on one device: its hl module, its runs so far and its compiled code once built."""

    _module: ModuleOp | None
    device: str
    #: where the graph's first result was recorded (named by a failed background compile's warning)
    loc: tuple[str, int, int]
    runs: int = 0
    compiled: Callable[..., Sequence[np.ndarray]] | None = None
    #: set once a background compile of this program has finished (None: none was started)
    done: threading.Event | None = None
    #: what the background compile raised
    error: Exception | None = None
    #: the module prepared for the interpreter tier (built at its first interpreted run)
    prepared: Prepared | None = None
    #: the module's text, as the background compile sent it to the compile process, or as the compile
    #: cache printed it for its key (without locations) where the program was compiled or found here
    text: str | None = None

    def __post_init__(self) -> None:
        #: the target kind of `device`, which runs the compiled code on host or device arrays (built once:
        #: `_run` is on every realize's path)
        self.target = kinds.for_device(self.device)

    @property
    def module(self) -> ModuleOp:
        """The hl module (parsed again from `text` where `release` dropped it)."""
        if self._module is None:
            from irc.ir import parse_module

            self._module = parse_module(self.text, "<eager graph>")
        return self._module

    def release(self) -> None:
        """Drop the xDSL module and the interpreter's form of it once compiled code runs the program. For
        a GPT training step they were ~20k Python objects, which every full collection of Python's cyclic
        garbage collector walks (an eager GPT loop had one every ~30 steps, 60-80 ms each). The text
        stays: compiled in the background, in this process or found in the compile cache, every
        program has one by then."""
        if self.text is not None:
            self._module = self.prepared = None


#: (graph structure, device) -> Program
_cache: dict[tuple, Program] = {}


def eager_target(device: str) -> str | dict:
    """The target eager tensors on `device` compile for (CUDA: the arch of device 0)."""
    return kinds.for_device(device).resolve().spec


def set_compiler(compiler: Compiler) -> None:
    global _compiler
    _compiler = compiler


def clear_cache() -> None:
    _cache.clear()


def cache_size() -> int:
    """The number of graph structures seen (interpreted or compiled)."""
    return len(_cache)


class _Mode:
    #: set by `set_eager_mode`; None: $IRC_EAGER decides
    forced: str | None = None


def _check_mode(mode: str, where: str) -> str:
    if mode not in MODES:
        raise InputError(f"{where}: {mode!r} is not an eager mode; the modes are {', '.join(MODES)}")
    return mode


def eager_mode() -> str:
    """The mode eager graphs run in now: `set_eager_mode`'s, else $IRC_EAGER, else "auto"."""
    if _Mode.forced is not None:
        return _Mode.forced
    return _check_mode(os.environ.get("IRC_EAGER", "auto"), "IRC_EAGER")


class set_eager_mode:
    """Run eager graphs in `mode`: "auto" (interpret new graphs, compile repeating ones in the
    background), "interpret" (the numpy interpreter only) or "compile" (compile every graph
    before its first run); None goes back to $IRC_EAGER. A call sets it from now on; as a
    context manager it holds inside the block only (docs/eager.md).

        >>> irc.set_eager_mode("compile")
        >>> with irc.set_eager_mode("interpret"):
        ...     y = (x * 2).numpy()
    """

    def __init__(self, mode: str | None):
        self._previous = _Mode.forced
        _Mode.forced = None if mode is None else _check_mode(mode, "set_eager_mode")

    def __enter__(self) -> set_eager_mode:
        return self

    def __exit__(self, *exc) -> None:
        _Mode.forced = self._previous


def realize(node: Node, device: str | None = None):
    """The value of `node` (a numpy array, or a DeviceArray on a GPU device): computed once, then kept."""
    if node.value is None:
        realize_all([node], device)
    return node.value


def realize_all(nodes: Sequence[Node], device: str | None = None) -> list:
    """Realize several nodes as one program on `device` (default: where their inputs live)."""
    pending = list({id(n): n for n in map(_source, nodes) if n.value is None}.values())
    if pending:
        pending += _held_by_tensors(pending)
        key, leaves = graph_key(pending)
        for leaf in leaves:
            if isinstance(leaf, Placeholder):
                raise FrontendError(
                    "the value of a traced tensor is not known inside irc.jit (no .numpy()/.item()/print on it)",
                    user_location()[:2],  # where the value was asked for (a node's own may be an input's: <input>)
                )
        if device is None:
            device = next((d for d in (device_of(leaf.value) for leaf in leaves) if d != "cpu"), "cpu")
        program = _cache.get((key, device))
        if program is None:
            module, _ = build_module(pending, "main", args=leaves)
            program = _cache[(key, device)] = Program(module, device, pending[0].loc)
        outputs = _run(program, [leaf.value for leaf in leaves])
        for node, value in zip(pending, outputs):
            node.value = value
            twin = node.twin() if node.twin is not None else None
            if twin is not None and twin.value is None:
                twin.value = value
            if node.leaf or not node.requires_grad:
                # no gradient will flow through it: it is a leaf for every later graph, and its inputs
                # would keep the whole history alive (each step's parameters, updated from the last)
                node.inputs = ()
    return [n.value for n in nodes]


def _source(node: Node) -> Node:
    """The node to realize for `node`: the gradient function's copy of its value where a backward pass
    made one (`Node.primal`; the copy gives `node` its value), so that a loss realized with the step
    (`opt.step(closure)`) is not computed by its own forward pass besides the gradient function's."""
    primal = node.primal() if node.primal is not None else None
    return primal if primal is not None and primal.value is None and node.value is None else node


def _held_by_tensors(pending: list[Node]) -> list[Node]:
    """The unrealized nodes `pending` depends on that a live tensor holds: realized with it, they are
    kept, as PyTorch computes each tensor once. Without them a loop that updates a parameter lazily
    (`p.data.add_(-lr * p.grad)`, read back only through the next loss) would recompute the whole
    history of the parameter at every step, each step's graph larger than the last.

    Also the companions of the nodes on the way (`Node.companions`): a gradient's forward value,
    while the node it is the value of (the loss) is unrealized and held by a tensor."""
    seen = {id(n) for n in pending}
    stack = list(pending)
    held = []
    while stack:  # depth first over the unrealized part of the graph, in a fixed order (part of the program)
        current = stack.pop()
        for node in current.companions:
            if node.value is None and id(node) not in seen and _wanted(node.twin() if node.twin else None):
                seen.add(id(node))
                stack.append(node)
                held.append(node)
        for node in current.inputs:
            if node.value is not None or node.op is None or id(node) in seen:
                continue
            seen.add(id(node))
            stack.append(node)
            if _wanted(node):
                held.append(node)
    return held


def _wanted(node: Node | None) -> bool:
    """`node` is unrealized and a live tensor holds it."""
    if node is None or node.value is not None or node.owner is None:
        return False
    tensor = node.owner()
    return tensor is not None and tensor._node is node


def _run(program: Program, values: list) -> Sequence:
    """Run `program` on the tier the mode picks (see the module docstring)."""
    _report_failures()
    mode = eager_mode()
    program.runs += 1
    run = program.compiled
    if run is None and (mode == "compile" or (mode == "auto" and program.device != "cpu")):
        run = _compile_now(program)
    elif mode == "interpret":
        run = None
    elif run is None and mode == "auto" and program.runs == 1:
        run = program.compiled = _cached(program)
        if run is None and program.device == "cpu" and _cores() > 1:
            _start_worker()  # the compile process imports TVM while this graph and its next run are interpreted
    if run is None and mode == "auto" and program.runs >= COMPILE_AFTER and program.done is None:
        _compile_in_background(program)
    if run is None:
        return _interpret(program, values)
    if program._module is not None and program.text is not None:
        program.release()  # compiled code runs it from now on
    values = [move(v, program.device) for v in values]
    return program.target.run(run, values)


def _cached(program: Program) -> Callable[..., Sequence[np.ndarray]] | None:
    """The program's compiled code if the compile cache already holds it (an earlier process compiled
    it), else None: a new graph runs compiled from its first call when it can without compiling."""
    if _compiler is not _pipeline_compiler or program.device != "cpu":
        return None
    from irc.compiler.cache import lookup

    return lookup(program.module, eager_target(program.device), _key_text(program))


def _key_text(program: Program) -> str:
    """The module printed as the compile cache keys it (without locations); kept as the program's
    text for `release` where it has none yet (a background compile keeps its own, with locations)."""
    from irc.ir import print_module

    text = print_module(program.module)
    if program.text is None:
        program.text = text
    return text


def _interpret(program: Program, values: list) -> list:
    """The outputs by the hl numpy reference, each an array of its own, as compiled code gives them
    (the reference may return views of its inputs, or the same array twice)."""
    inputs = [to_host(v) for v in values]
    seen = {id(a) for a in inputs}
    outputs = []
    if program.prepared is None:
        program.prepared = Prepared(program.module)
    if _compiling:  # leave the compile process a core: numpy's BLAS threads would wait on it and on each other
        with blas_threads(max(1, _cores() - 1)):
            results = program.prepared(inputs)
    else:
        results = program.prepared(inputs)
    for out in results:
        if id(out) in seen or not (out.flags.owndata and out.flags.writeable and out.flags.c_contiguous):
            out = out.copy()
        seen.add(id(out))
        outputs.append(move(out, program.device))
    return outputs


def _compile_now(program: Program) -> Callable[..., Sequence[np.ndarray]]:
    """The program's compiled code, built here unless a background compile has it (waited for)."""
    if program.done is not None:
        program.done.wait()
    if program.compiled is None:  # a failed background compile is redone here, so its error is raised here
        target = eager_target(program.device)
        if _compiler is _pipeline_compiler:
            program.compiled = _pipeline_compiler(program.module, target, _key_text(program))
        else:
            program.compiled = _compiler(program.module, target)
    return program.compiled


# ------------------------------------------------------------------ background compiles

_jobs: queue.SimpleQueue = queue.SimpleQueue()
#: the thread that hands jobs to the compile process (irc.compiler.compile_worker) and loads its results
_worker: threading.Thread | None = None
#: programs whose background compile failed, reported by the next realize
_failures: list[Program] = []
#: the background compiles queued or running (their programs), while the interpreter runs beside them
_compiling: set[Program] = set()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _compile_in_background(program: Program) -> None:
    if _compiler is not _pipeline_compiler:  # another compiler (tests) runs in this process, now
        program.compiled = _compiler(program.module, eager_target(program.device))
        return
    program.done = threading.Event()
    _compiling.add(program)
    _jobs.put(program)
    _start_worker()


def _start_worker() -> None:
    """Start the thread that runs background compiles, and with it the compile process (once: on a
    graph's first interpreted run, so that the process has its imports done by the graph's second run,
    when its compile is queued; or at that second run)."""
    global _worker
    if _compiler is not _pipeline_compiler or (_worker is not None and _worker.is_alive()):
        return
    # a daemon: the interpreter's exit does not wait for a compile (its result would be unused)
    _worker = threading.Thread(target=_compile_jobs, args=(_jobs,), name="irc-eager-compile", daemon=True)
    _worker.start()


def _compile_jobs(jobs: queue.SimpleQueue) -> None:
    """Compile the programs put on `jobs` (the queue this thread was started for: one that replaces
    it, after a fork, gets a thread of its own), one after the other, in one compile process."""
    try:
        process = _start_compile_process()
    except Exception:  # noqa: BLE001 - started again for the first job, which reports the error
        process = None
    while True:
        program = jobs.get()
        try:
            if process is None or process[0].poll() is not None:
                process = _start_compile_process()
            program.compiled = _compile_in(*process, program)
        except Exception as e:  # noqa: BLE001 - any failure: the program stays on the interpreter
            program.error = e
            _failures.append(program)
        finally:
            _compiling.discard(program)
            program.done.set()


def _start_compile_process() -> tuple[subprocess.Popen, IO[bytes]]:
    """`python -m irc.compiler.compile_worker` (importing this irc, also one found through sys.path only)
    and the file its stderr goes to (read back only when it dies)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    log = tempfile.TemporaryFile()
    # -P: the working directory does not go first on sys.path (an irc there would shadow this one)
    command = [sys.executable, "-P", "-m", "irc.compiler.compile_worker", json.dumps(eager_target("cpu"))]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    return process, log


def _compile_in(process: subprocess.Popen, log: IO[bytes], program: Program) -> Callable[..., Sequence[np.ndarray]]:
    """Compile `program` in the compile process; its code, loaded from the package the process wrote."""
    from irc.ir import print_module
    from irc.runtime.package import load

    with tempfile.TemporaryDirectory(prefix="irc-eager-") as tmp:
        out = os.path.join(tmp, "program.ircpkg")
        module = program.text = print_module(program.module, locations=True)
        request = {"module": module, "target": eager_target(program.device), "out": out}
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            reply = process.stdout.readline()
        except OSError:  # a broken pipe: the process has died
            reply = ""
        if not reply:
            log.seek(0)
            last = log.read().decode(errors="replace").strip().splitlines()[-3:]
            raise CompileError(f"the compile process died (exit code {process.wait()}): {' '.join(last)}")
        reply = json.loads(reply)
        if "error" in reply:
            raise CompileError(reply["error"])
        return load(reply["package"]).entry()


def wait_compiled(timeout: float | None = None) -> bool:
    """Wait until the background compiles started so far have finished; False on timeout.

    For benchmarks and tests: a loop switches to compiled code as soon as it is ready anyway.
    """
    pending = [p for p in list(_cache.values()) if p.done is not None]
    return all(p.done.wait(timeout) for p in pending)


def _report_failures() -> None:
    """Warn once per program whose background compile failed (it keeps running on the interpreter)."""
    while _failures:
        program = _failures.pop(0)
        e = program.error
        file, line, _ = user_location()
        warnings.warn_explicit(
            f"irc could not compile the eager graph recorded at {program.loc[0]}:{program.loc[1]}; it keeps "
            f"running on the numpy interpreter (same results, slower). IRC_EAGER=compile raises the error "
            f"where it happens. {type(e).__name__}: {e}",
            CompileWarning,
            file,
            line,
        )


def _forget_jobs_in_child() -> None:
    """After a fork, the worker thread is gone from the child: its queued and running compiles with it
    (the compile process stays the parent's)."""
    global _jobs, _worker
    _jobs, _worker = queue.SimpleQueue(), None
    _compiling.clear()
    for program in _cache.values():
        if program.done is not None and not program.done.is_set():
            program.done = None  # compiled again when it runs again


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_jobs_in_child)
