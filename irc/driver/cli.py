"""The `irc` command line."""

from __future__ import annotations

import argparse
import sys

from irc.ir import parse_module, print_module
from irc.ir.context import make_context
from irc.lowering.registry import parse_pipeline


def cmd_opt(args: argparse.Namespace) -> int:
    text = open(args.file).read()
    module = parse_module(text, args.file)
    module.verify()
    parse_pipeline(args.passes).apply(make_context(), module)
    module.verify()
    out = print_module(module)
    if args.output:
        open(args.output, "w").write(out)
    else:
        sys.stdout.write(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="irc", description="irc: a multi-level IR compiler toolchain")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("opt", help="run passes on an .mlir file (like mlir-opt)")
    p.add_argument("file")
    p.add_argument("-p", "--passes", required=True)
    p.add_argument("-o", "--output")
    p.set_defaults(fn=cmd_opt)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
