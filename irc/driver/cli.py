"""The `irc` command line: compile, run, opt, stages, cache.

    irc compile model.py:mlp --emit linalg
    irc compile model.mlir --dump-dir out/ --print-ir-after-change --time-passes
    irc run model.py --input x=x.npy --seed 1 -o results/
    irc compile model.py --target opencl -o model.ircpkg      # a compiled package
    irc run model.ircpkg --seed 0 -o results/                  # runs it without the compiler
    irc opt file.mlir -p hl-canonicalize,hl-dce
    irc stages
    irc cache info                                             # the on-disk compile cache (docs/cache.md)

Errors users can cause print as one message (with file:line:col where there
is one) and exit 2 (usage) or 1 (failure), Ctrl-C exits 130; `--traceback`
shows the Python traceback instead. Output paths are checked before the
compile starts, and outputs are written only when it succeeded (irc.compiler.files).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from importlib import metadata

import numpy as np

import irc
from irc.compiler.files import (
    check_not_input,
    check_output_directory,
    check_output_file,
    names_file_of,
    write_files,
)
from irc.compiler.stages import STAGE_NAMES, STAGES, stage, stages_table
from irc.driver.arrays import load_input_arrays
from irc.errors import InputError, IRCError
from irc.runtime import cache, package
from irc.runtime.cuda import check_arch
from irc.runtime.executor import format_bytes
from irc.runtime.files import write_file
from irc.targets.kinds import TARGETS

# The compiler (xDSL, TVM: irc.compiler, irc.driver.inputs) is imported
# by the commands that compile, so `irc run model.ircpkg` runs without it installed.

_STAGES_HELP = "stages:\n" + "\n".join(f"  {s.number}. {s.name:<8} {s.summary}" for s in STAGES)

_INPUT_HELP = (
    "an .mlir file in the hl dialect, or a Python file path.py[:name] whose function declares its example "
    "inputs as irc.Spec parameter annotations (default: the last such function in the file)"
)

_TARGET_HELP = ", ".join(f"{k} ({t.summary})" if t.summary else k for k, t in TARGETS.items()) + "; default: llvm"
_CUDA_ARCH_HELP = "the GPU architecture of --target cuda, sm_NN, e.g. sm_90 (default: that of GPU 0, if there is one)"

#: the files `irc run -o DIR` writes: the only ones a later run removes from DIR (when it has fewer outputs)
OUTPUT_FILE = re.compile(r"out\d+\.npy")


def _instruments(args: argparse.Namespace, to_files: bool):
    """The instruments the flags ask for, and the PassTiming that `--time-passes` prints (it times
    steps outside the pipeline too); IR dumps go to files (`to_files`) or to stderr."""
    from irc.compiler.instruments import IRPrinter, PassTiming, process_seconds

    instruments: list = []
    if args.print_ir_after_all or args.print_ir_after_change:
        instruments.append(IRPrinter(only_changed=args.print_ir_after_change, stream=None if to_files else sys.stderr))
    instruments += _progress(args)
    timing = PassTiming()
    if args.time_passes:
        instruments.append(timing)
        started = process_seconds()
        if started is not None:
            timing.add("startup", started)  # the interpreter, imports (irc, xDSL), argument parsing
    return instruments, timing


def _print_timing(args: argparse.Namespace, timing) -> None:
    from irc.compiler.instruments import process_seconds

    if args.time_passes:
        sys.stderr.write(timing.table(wall=process_seconds()))


def _progress(args: argparse.Namespace) -> list:
    """A StageProgress instrument when `--progress` is on (default: stderr is a terminal)."""
    from irc.compiler.instruments import StageProgress

    show = args.progress if args.progress is not None else sys.stderr.isatty()
    return [StageProgress()] if show else []


def _target(args: argparse.Namespace) -> str | dict:
    """`--target` (default llvm); cuda with `--cuda-arch`, else the architecture of GPU 0."""
    target = args.target or "llvm"
    if args.cuda_arch and target != "cuda":
        raise InputError(f"--cuda-arch is for --target cuda, not {target}")
    if target != "cuda":
        return target
    return {"kind": "cuda", "arch": args.cuda_arch or _gpu_arch()}


def _gpu_arch() -> str:
    """The architecture of GPU 0, for `--target cuda` without `--cuda-arch`."""
    from irc.targets.cuda import device_arch

    try:
        return device_arch()
    except IRCError:
        raise InputError(
            "--target cuda: no CUDA GPU found to take the architecture from; pass --cuda-arch sm_NN (e.g. sm_90)"
        ) from None


def cmd_compile(args: argparse.Namespace) -> int:
    from irc.compiler.pipeline import DUMP_FILE, Pipeline
    from irc.driver.inputs import input_file, load_program

    if args.emit and args.stop_after and stage(args.emit).number > stage(args.stop_after).number:
        raise InputError(f"--emit {args.emit} comes after --stop-after {args.stop_after}")
    to_package = bool(args.output and args.output.endswith(package.SUFFIX))
    if to_package and (args.emit or args.stop_after or args.target == "ref"):
        raise InputError(
            f"-o {args.output}: a package holds the compiled code: it needs the whole pipeline "
            "for llvm, cuda or opencl (no --emit, --stop-after or --target ref)"
        )
    if args.output:
        check_output_file(args.output)
        check_not_input(args.output, input_file(args.input))
    if args.dump_dir:
        check_output_directory(args.dump_dir, "--dump-dir")
        if names_file_of(input_file(args.input), args.dump_dir, DUMP_FILE):
            raise InputError(
                f"{args.input}: INPUT is a dump file of --dump-dir {args.dump_dir}, which the dump would replace "
                "or remove: dump into another directory"
            )
        if args.output and names_file_of(args.output, args.dump_dir, DUMP_FILE):
            raise InputError(
                f"-o {args.output}: is a dump file of --dump-dir {args.dump_dir} (NN-<stage>.<ext>): "
                "write the output to another name"
            )
    target = _target(args)
    instruments, timing = _instruments(args, to_files=args.dump_dir is not None)
    with timing.step("load-input"):
        program = load_program(args.input)
    pipeline = Pipeline(target, args.stop_after or args.emit, instruments, grad=args.grad)
    lowering = pipeline.run(program.module, source=args.input)
    with timing.step("write-output"):
        if args.dump_dir:
            lowering.dump(args.dump_dir)
            print(f"irc: wrote {len(lowering.stages)} stage dumps to {args.dump_dir}", file=sys.stderr)
        text = lowering.stages[args.emit or lowering.last_stage]
        if to_package:
            package.save(lowering, args.output, input_names=[s.name for s in program.inputs])
            print(f"irc: wrote package {args.output} (target {lowering.target})", file=sys.stderr)
        elif args.output:
            write_file(args.output, text)
        elif not (args.dump_dir and args.emit is None):
            sys.stdout.write(text)
    _print_timing(args, timing)
    return 0


def summarize(name: str, array: np.ndarray) -> str:
    """`name  shape (2, 3)  float32  min .. max .. mean ..`, one line per output."""
    head = f"{name}  shape {array.shape}  {array.dtype}"
    if array.size == 0:
        return head + "  (empty)"
    values = array.astype(np.float64)
    return f"{head}  min {values.min():.6g}  max {values.max():.6g}  mean {values.mean():.6g}"


def cmd_run(args: argparse.Namespace) -> int:
    if args.output:
        check_output_directory(args.output, "-o")
    if args.input.endswith(package.SUFFIX):
        results = run_package(args)
    else:
        from irc.compiler.pipeline import Pipeline
        from irc.driver.inputs import load_program
        from irc.frontend.tensor import manual_seed

        target = _target(args)
        manual_seed(args.seed)  # parameters a Python INPUT initializes randomly are reproducible too
        program = load_program(args.input)
        arrays = load_input_arrays(program.inputs, args.inputs, args.seed)
        results = Pipeline(target, args.stop_after, _progress(args)).run(program.module, source=args.input)(*arrays)
    outputs = {f"out{i}": np.asarray(array) for i, array in enumerate(results)}
    if args.output:
        write_files(args.output, {f"{n}.npy": package.npy_bytes(a) for n, a in outputs.items()}, stale=OUTPUT_FILE)
    for name, array in outputs.items():
        print(summarize(name, array))
    return 0


def run_package(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """Run a compiled package on `--input` / random inputs named and shaped by its manifest."""
    if args.stop_after:
        raise InputError(f"{args.input} is a compiled package: it has no stages to stop after")
    model = package.load(args.input)
    kind = model.target["kind"]
    if (args.target and args.target != kind) or (args.cuda_arch and args.cuda_arch != model.target.get("arch")):
        asked = f"--target {args.target}" if args.target and args.target != kind else f"--cuda-arch {args.cuda_arch}"
        raise InputError(f"{args.input} is compiled for {model.target}; it cannot run with {asked}")
    return model(*load_input_arrays(list(model.inputs), args.inputs, args.seed))


def cmd_opt(args: argparse.Namespace) -> int:
    from irc.compiler.instruments import verify_module
    from irc.compiler.pipeline import run_passes
    from irc.driver.inputs import parse_mlir_file
    from irc.ir import print_module

    if args.output:
        check_output_file(args.output)
        check_not_input(args.output, args.file)
    pipeline = _parse_pipeline(args.passes)
    instruments, timing = _instruments(args, to_files=False)
    with timing.step("load-input"):
        module = parse_mlir_file(args.file)
        verify_module(module, f"input {args.file}")
    run_passes(module, [(str(p.spec()), p) for p in pipeline.passes], "opt", instruments)
    with timing.step("write-output"):
        out = print_module(module)
        if args.output:
            write_file(args.output, out)
        else:
            sys.stdout.write(out)
    _print_timing(args, timing)
    return 0


def _parse_pipeline(passes: str):
    """`-p PASSES` as a PassPipeline; a malformed one, an unknown pass or option is a usage error naming PASSES."""
    from xdsl.utils.exceptions import ArgSpecParseError

    from irc.compiler.registry import UnknownPassError, parse_pipeline

    try:
        return parse_pipeline(passes)
    except UnknownPassError as e:
        raise InputError(f"-p {passes!r}: {e}") from None
    except ArgSpecParseError as e:  # a BaseException in xDSL: `except Exception` misses it
        where = str(e).partition("\n")[2].rstrip()
        raise InputError(f"-p {passes!r}: malformed pass pipeline at {where}") from None


def cmd_stages(args: argparse.Namespace) -> int:
    sys.stdout.write(stages_table())
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    """`irc cache info`: where the compile cache is, what it holds; `irc cache clear`: remove irc's entries."""
    directory = cache.cache_dir()
    if directory is None:
        print("irc: the disk cache is off (IRC_CACHE_DIR is set and empty)")
        return 0
    if args.action == "clear":
        count, freed = cache.clear()
        print(f"irc: removed {count} cache entries ({format_bytes(freed)}) from {directory}")
        return 0
    found = cache.info()
    kinds = f"programs {found.entries[cache.PROGRAMS]}, cuda binaries {found.entries[cache.CUDA]}"
    state = "" if directory.is_dir() else " (not a directory)" if directory.exists() else " (not created yet)"
    print(f"directory  {directory}{state}")
    print(f"entries    {sum(found.entries.values())} ({kinds})")
    print(f"size       {format_bytes(found.size)} of {format_bytes(found.bound)} (IRC_CACHE_SIZE)")
    return 0


def _add_instrument_flags(p: argparse.ArgumentParser) -> None:
    printing = p.add_mutually_exclusive_group()
    printing.add_argument(
        "--print-ir-after-all",
        action="store_true",
        help="dump the IR after every pass (into --dump-dir as NN-<stage>/MM-<pass>.mlir, else to stderr)",
    )
    printing.add_argument(
        "--print-ir-after-change",
        action="store_true",
        help="like --print-ir-after-all, but only for passes that changed the IR",
    )
    p.add_argument("--time-passes", action="store_true", help="print a table of seconds per pass to stderr")
    _add_progress_flag(p)


def _add_progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print each stage as the pipeline reaches it, to stderr (default: when stderr is a terminal)",
    )


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: `irc: error: ... (see 'irc run --help')`, exit 2."""

    def error(self, message: str):
        self.exit(2, f"irc: error: {message} (see '{self.prog} --help')\n")


def _cuda_arch(text: str) -> str:
    """`--cuda-arch`: sm_NN."""
    try:
        return check_arch(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _seed(text: str) -> int:
    """`--seed`: an integer in [0, 2**32)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {2**32 - 1}, got '{text}'")
    return value


def version_text() -> str:
    """`irc 0.1.0 (xdsl 0.74.0, apache-tvm 0.27.0)`, read from package metadata: fast, and imports neither."""

    def installed(distribution: str) -> str:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    return f"irc {irc.__version__} (xdsl {installed('xdsl')}, apache-tvm {installed('apache-tvm')})"


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the versions of irc, xDSL and TVM and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--traceback", action="store_true", help="show the Python traceback of errors")
    parser = _Parser(
        prog="irc",
        description="irc: a multi-level IR compiler toolchain (hl -> linalg -> buffers -> loops -> TVM TIR -> code)",
        epilog=_STAGES_HELP + "\n\nrun `irc COMMAND --help` for the flags of each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "compile",
        parents=[common],
        formatter_class=raw,
        help="compile INPUT through the pipeline; print or dump any stage",
        description="Compile INPUT through the stages below. Prints the last stage (or --emit STAGE) to stdout or -o.",
        epilog=_STAGES_HELP,
    )
    p.add_argument("input", metavar="INPUT", help=_INPUT_HELP)
    p.add_argument("--target", choices=list(TARGETS), help=_TARGET_HELP)
    p.add_argument("--cuda-arch", type=_cuda_arch, metavar="SM", help=_CUDA_ARCH_HELP)
    p.add_argument("--emit", choices=STAGE_NAMES, metavar="STAGE", help="the stage to output (stops there)")
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write the emitted stage to OUT instead of stdout; OUT.ircpkg: a compiled package (docs/packages.md)",
    )
    p.add_argument(
        "--dump-dir",
        metavar="DIR",
        help="write every stage as DIR/NN-<stage>.<ext> (01-hl.mlir ... 07-target.ll), each with a header "
        "naming the stage, its passes and the command that reproduces it",
    )
    p.add_argument("--stop-after", choices=STAGE_NAMES, metavar="STAGE", help="stop the pipeline after STAGE")
    p.add_argument(
        "--grad",
        action="store_true",
        help="also build @<name>_grad, the gradient of sum(outputs) w.r.t. the float inputs (autodiff in hl-opt)",
    )
    _add_instrument_flags(p)
    p.set_defaults(fn=cmd_compile)

    p = sub.add_parser(
        "run",
        parents=[common],
        formatter_class=raw,
        help="compile and run INPUT on given or random inputs",
        description="Compile INPUT and run it. Inputs not given with --input are random (seeded): floats standard "
        "normal, ints in [0, 4), bools fair coins. Prints name, shape, dtype, min/max/mean of each output.",
        epilog=_STAGES_HELP,
    )
    p.add_argument("input", metavar="INPUT", help=_INPUT_HELP + ", or a compiled package model.ircpkg")
    p.add_argument("--target", choices=list(TARGETS), help=_TARGET_HELP)
    p.add_argument("--cuda-arch", type=_cuda_arch, metavar="SM", help=_CUDA_ARCH_HELP)
    p.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=FILE.npy",
        help="the value of input NAME (shape and dtype must match its declaration); repeatable",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of the random inputs and of irc's generator (parameter init) (default 0)",
    )
    p.add_argument("-o", "--output", metavar="DIR", help="write the outputs as DIR/out0.npy, DIR/out1.npy, ...")
    p.add_argument(
        "--stop-after",
        choices=STAGE_NAMES,
        metavar="STAGE",
        help="run the program as it is after STAGE (hl stages: numpy reference; linalg..loops: interpreter)",
    )
    _add_progress_flag(p)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser(
        "opt",
        parents=[common],
        help="run passes on an .mlir file (like mlir-opt)",
        description="Parse and verify FILE, run the passes (none without -p), print the result. "
        "Passes take options: -p 'a,b{opt=1}'.",
    )
    p.add_argument("file", metavar="FILE.mlir", help="the input IR (any stage 1-5)")
    p.add_argument("-p", "--passes", default="", metavar="PASSES", help="comma-separated pass pipeline (default: none)")
    p.add_argument("-o", "--output", metavar="OUT", help="write the result to OUT instead of stdout")
    _add_instrument_flags(p)
    p.set_defaults(fn=cmd_opt)

    p = sub.add_parser("stages", parents=[common], help="list the pipeline stage by stage, with passes and dialects")
    p.set_defaults(fn=cmd_stages)

    p = sub.add_parser(
        "cache",
        parents=[common],
        help="show or clear the on-disk compile cache",
        description="The compile cache keeps compiled programs between processes (docs/cache.md): "
        "in $IRC_CACHE_DIR (default ~/.cache/irc; set and empty: off), at most $IRC_CACHE_SIZE bytes "
        "(K/M/G suffixes; default 1G), least recently used entries evicted first.",
    )
    p.add_argument(
        "action",
        choices=("info", "clear"),
        metavar="ACTION",
        help="info: the directory, its entries, their size and the bound; clear: remove the entries irc wrote",
    )
    p.set_defaults(fn=cmd_cache)
    return parser


_LOCATED = re.compile(r"^\S+:\d+(:\d+)?: ")


def error_message(e: BaseException) -> tuple[str, int] | None:
    """(message, exit code) for an error a user can cause, None for a bug in irc."""
    if isinstance(e, IRCError):
        return str(e), e.exit_code
    # xDSL's and the pass registry's errors can only come from a command that imported them
    xdsl_errors, registry = sys.modules.get("xdsl.utils.exceptions"), sys.modules.get("irc.compiler.registry")
    if xdsl_errors is not None and isinstance(e, xdsl_errors.ParseError):
        context = e.span.print_with_context().split("\n", 1)[1].rstrip("\n")
        return f"{e.span.get_location()}: {e.msg}\n{context}", 1
    if registry is not None and isinstance(e, registry.UnknownPassError):
        return str(e), 2
    if xdsl_errors is not None and isinstance(e, xdsl_errors.VerifyException):
        return f"the IR does not verify: {e}", 1
    return None


def _closed(stream) -> None:
    """Point `stream` at /dev/null: its reader is gone (`irc ... | head -1`), and what is still buffered
    would fail again at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _report(line: str) -> None:
    """Print `line` to stderr; a closed stderr (`irc ... 2>&1 | head -1`) does not change the exit code."""
    try:
        print(line, file=sys.stderr, flush=True)
    except BrokenPipeError:
        _closed(sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """The `irc` command: its exit code (0 success, 1 failure, 2 usage error, 130 Ctrl-C, 141 stdout closed)."""
    args = build_parser().parse_args(argv)
    try:
        code = args.fn(args)
        sys.stdout.flush()  # a closed pipe fails here, not at exit
        return code
    except BrokenPipeError:
        _closed(sys.stdout)  # stdout closed early: stop quietly, as `cat` does
        return 141  # 128 + SIGPIPE, what a shell reports for a command a closed pipe stopped
    except KeyboardInterrupt:
        if args.traceback:
            raise
        _report("irc: interrupted")
        return 130
    except Exception as e:
        described = None if args.traceback else error_message(e)
        if described is None:
            raise
        message, code = described
        match = _LOCATED.match(message)
        prefix = "" if match else "irc: "
        at = match.end() if match else 0
        _report(f"{message[:at]}{prefix}error: {message[at:]}")
        return code


if __name__ == "__main__":
    sys.exit(main())
