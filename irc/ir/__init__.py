"""irc's IR layer: the `hl` dialect, the MLIR context, parsing and printing."""

from irc.ir.context import make_context, parse_module, print_module

__all__ = ["make_context", "parse_module", "print_module"]
