"""Load the INPUT of `irc compile` / `irc run`, and the arrays it runs on.

INPUT is an `.mlir` file in the hl dialect, or a Python file `path.py[:name]`
whose function declares its example inputs as `irc.Spec` annotations
(`def mlp(x: irc.Spec((64, 784)), w: irc.Spec((784, 10))): ...`) or whose
object has an `example_inputs` list of Specs (an nn.Module class).

    >>> program = load_program("examples/mlp.py:mlp")
    >>> program.module, [s.name for s in program.inputs]
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from xdsl.dialects import func
from xdsl.dialects.builtin import DYNAMIC_INDEX, FileLineColLoc, IntAttr, ModuleOp, StringAttr, TensorType, UnknownLoc
from xdsl.ir import Attribute, Operation
from xdsl.parser import Parser

from irc.compiler.instruments import location_text
from irc.errors import FrontendError, InputError, IRCError
from irc.interpreters.reference import find_entry
from irc.ir import make_context
from irc.ir.hl import numpy_dtype, shape_of
from irc.runtime.spec import Spec


@dataclass
class Program:
    """An hl module with its declared inputs; `source` is the INPUT as the user wrote it."""

    module: ModuleOp
    inputs: list[Spec]
    source: str


class _LocatingParser(Parser):
    """A parser that gives every op without a `loc(...)` its position in the file,
    so later errors can point at the .mlir line."""

    def parse_operation(self) -> Operation:
        position = self._current_token.span.get_location()
        op = super().parse_operation()
        if isinstance(op.location, UnknownLoc):
            op.location = FileLineColLoc(StringAttr(position.file), IntAttr(position.line), IntAttr(position.col))
        return op


def parse_mlir_file(path: str | Path) -> ModuleOp:
    """Parse an .mlir file; ops without a location get their file:line:col. Raises xDSL's ParseError."""
    text = _read_text(path)
    if not text.strip():
        raise IRCError(f"{path}: the file is empty (expected a module of func.func ops in the hl dialect)")
    return _LocatingParser(make_context(), text, name=str(path)).parse_module()


def _typed_values(op: Operation) -> Iterator[tuple[Attribute, str]]:
    """(type, description) of what `op` defines: a func's arguments and results, an op's results."""
    if isinstance(op, func.FuncOp):
        args = op.body.block.args if op.body.blocks else ()
        for i, arg in enumerate(args):
            yield arg.type, f"%{arg.name_hint}" if arg.name_hint else f"argument {i} of @{op.sym_name.data}"
        for i, t in enumerate(op.function_type.outputs):
            yield t, f"result {i} of @{op.sym_name.data}"
    for i, result in enumerate(op.results):
        yield result.type, f"%{result.name_hint}" if result.name_hint else f"result {i} of {op.name}"


def check_static_shapes(module: ModuleOp) -> None:
    """Refuse dynamic dimensions (`tensor<?x3xf32>`): irc compiles static shapes only.

    The error names the dimension, the value and the op's file:line:col.
    """
    for op in module.walk():
        for value_type, name in _typed_values(op):
            shape = value_type.get_shape() if hasattr(value_type, "get_shape") else ()
            if DYNAMIC_INDEX in shape:
                where = location_text(op)
                raise IRCError(
                    f"{where + ': ' if where else ''}dynamic shapes are not supported "
                    f"(dim {shape.index(DYNAMIC_INDEX)} of {name})"
                )


def check_entry_arguments(module: ModuleOp) -> None:
    """Refuse an entry function with an argument that is not a tensor (`i32`, `memref<4xf32>`): irc's
    programs take and return tensors. The error names the argument, its type and the function's file:line:col."""
    fn = find_entry(module)
    for i, arg in enumerate(fn.body.block.args):
        if not isinstance(arg.type, TensorType):
            where = location_text(fn)
            name = f"%{arg.name_hint}" if arg.name_hint else f"argument {i}"
            raise IRCError(
                f"{where + ': ' if where else ''}{name} of @{fn.sym_name.data} is {arg.type}: the arguments of the "
                "entry function must be tensors (e.g. tensor<4x3xf32>)"
            )


def _read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: cannot read: {e}") from None


def input_specs(module: ModuleOp, names: Sequence[str] | None = None, entry: str | None = None) -> list[Spec]:
    """The inputs of the entry func: names from `names`, else the argument names (`%x`), else `argN`."""
    fn = find_entry(module, entry)
    specs = []
    for i, arg in enumerate(fn.body.block.args):
        name = names[i] if names is not None else (arg.name_hint or f"arg{i}")
        specs.append(Spec(shape_of(arg.type), numpy_dtype(arg.type.element_type), name))
    return specs


def input_file(input_path: str) -> str:
    """The file of INPUT: `model.py` of `model.py:mlp`, else INPUT itself."""
    path, _, name = input_path.partition(".py:")
    return path + ".py" if name else path


def load_program(input_path: str) -> Program:
    """Load INPUT (`file.mlir` or `file.py[:name]`) into an hl module with its declared inputs."""
    path, name = input_file(input_path), input_path.partition(".py:")[2]
    if path.endswith(".mlir"):
        module = parse_mlir_file(path)
        check_static_shapes(module)
        check_entry_arguments(module)
        return Program(module, input_specs(module), input_path)
    if path.endswith(".py"):
        return _load_python(Path(path), name or None, input_path)
    raise InputError(f"{input_path}: INPUT must be an .mlir file or a Python file path.py[:name]")


def _user_error(e: BaseException, path: Path) -> FrontendError:
    """A FrontendError at the innermost line of the user's file in `e`'s traceback."""
    if isinstance(e, SyntaxError) and e.lineno is not None:
        return FrontendError(f"SyntaxError: {e.msg}", (str(path), e.lineno))
    frames = [f for f in traceback.extract_tb(e.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    location = (str(path), frames[-1].lineno) if frames else None
    return FrontendError(f"{type(e).__name__}: {e}", location)


def _import_file(path: Path):
    try:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    except OSError as e:  # a name too long, a symlink loop
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    module_name = f"_irc_input_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up here
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except IRCError:
        raise
    except Exception as e:
        del sys.modules[module_name]
        raise _user_error(e, path) from e
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def _declared_specs(obj, spec_type: type) -> list[tuple[str, Spec]] | None:
    """[(name, Spec)] declared by `obj` (example_inputs or parameter annotations), or None."""
    example = getattr(obj, "example_inputs", None)
    if example is not None:
        if not isinstance(example, (list, tuple)) or not all(isinstance(s, spec_type) for s in example):
            raise InputError(
                f"{getattr(obj, '__name__', obj)}.example_inputs: expected a list of irc.Spec, got {example!r}"
            )
        fn = getattr(obj, "forward", obj)
        names = [p for p in inspect.signature(fn).parameters if p != "self"]
        return [(names[i] if i < len(names) else f"arg{i}", s) for i, s in enumerate(example)]
    if not inspect.isfunction(obj):
        return None
    try:
        params = inspect.signature(obj, eval_str=True).parameters.values()
    except FrontendError as e:  # a bad irc.Spec in a string annotation, evaluated here: point at the function
        at = f"{e.location[0]}:{e.location[1]}: " if e.location else ""
        code = obj.__code__
        raise FrontendError(str(e).removeprefix(at), (code.co_filename, code.co_firstlineno)) from None
    except Exception:
        params = inspect.signature(obj).parameters.values()
    specs = [(p.name, p.annotation) for p in params]
    if specs and all(isinstance(s, spec_type) for _, s in specs):
        return specs
    return None


def _load_python(path: Path, name: str | None, source: str) -> Program:
    try:
        from irc.frontend.spec import Spec as DeclaredSpec
        from irc.frontend.tracing import trace
    except ImportError as e:
        raise IRCError(
            f"Python INPUT needs the irc frontend (irc.frontend.spec.Spec, tracing.trace), not available: {e}"
        ) from e
    user = _import_file(path)
    if name is not None:
        if not hasattr(user, name):
            raise InputError(f"{path}: has no function or module named '{name}'")
        obj = getattr(user, name)
        declared = _declared_specs(obj, DeclaredSpec)
        if declared is None:
            raise InputError(
                f"{path}:{name}: declare example inputs: annotate every parameter with irc.Spec(shape, dtype) "
                "or give the module an example_inputs list"
            )
    else:
        candidates = [
            (n, o, d)
            for n, o in vars(user).items()
            if getattr(o, "__module__", None) == user.__name__ and (d := _declared_specs(o, DeclaredSpec)) is not None
        ]
        if not candidates:
            raise InputError(
                f"{path}: no function with irc.Spec annotations on all its parameters (or module with example_inputs)"
            )
        name, obj, declared = candidates[-1]
    if inspect.isclass(obj):
        obj = obj()
    try:
        module = trace(obj, [s for _, s in declared], name=name)
    except IRCError:
        raise
    except Exception as e:
        raise _user_error(e, path) from e
    return Program(module, input_specs(module, [n for n, _ in declared]), source)
