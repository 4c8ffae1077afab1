"""One xDSL context with every dialect irc's stages use, and text I/O helpers."""

from __future__ import annotations

import io

from xdsl.context import Context
from xdsl.dialects import arith, builtin, func, linalg, math, memref, scf, tensor
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Dialect
from xdsl.irdl import irdl_op_definition
from xdsl.parser import Parser
from xdsl.printer import Printer

from irc.ir.hl import HL


@irdl_op_definition
class RemFOp(arith.FloatingPointLikeBinaryOperation):
    """Upstream MLIR's `arith.remf` (C's fmod), which xDSL 0.74 lacks: `%r = arith.remf %a, %b : f32`."""

    name = "arith.remf"


#: xDSL's arith dialect plus the upstream ops it lacks
ARITH = Dialect("arith", [*arith.Arith.operations, RemFOp], list(arith.Arith.attributes))


def make_context() -> Context:
    """A context that knows hl and the upstream dialects of stages 1-5."""
    ctx = Context()
    for dialect in (
        builtin.Builtin,
        func.Func,
        ARITH,
        math.Math,
        linalg.Linalg,
        tensor.Tensor,
        memref.MemRef,
        scf.Scf,
        HL,
    ):
        ctx.load_dialect(dialect)
    return ctx


def parse_module(text: str, filename: str = "<input>") -> ModuleOp:
    """Parse MLIR text (hl or any upstream stage); raises ParseError with file:line:col."""
    module = Parser(make_context(), text, name=filename).parse_module()
    return module


def print_module(module: ModuleOp, locations: bool = False, generic: bool = False) -> str:
    """Print in custom (pretty) form, or with `generic` in MLIR's generic form (`"hl.neg"(%0) : ...`, which
    upstream tools parse without knowing hl); `locations` adds loc(...) to each op."""
    out = io.StringIO()
    Printer(stream=out, print_debuginfo=locations, print_generic_format=generic).print_op(module)
    return out.getvalue() + "\n"
