"""Where a compiled program's time goes: the time of each top-level TIR statement (llvm target).

    python benchmarks/profile_step.py cnn|mlp [--repeat 50] [--top 20] [--show 3]

Compiles the training step of `bench_training.py` with `irc.jit`, then
rebuilds its scheduled TIR with a timestamp call (`T.call_packed`) between
every two top-level statements (one loop nest or scheduled block group each)
and runs the real step with that build. Prints the mean time per statement,
largest first, with the names of its blocks, and the TIR of the `--show`
largest. The timestamps cost about a microsecond each; the total is the
kernel time of one call, without the Python around it.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import time

import numpy as np
import tvm
from tvm import s_tir, tirx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_training import WORKLOADS  # noqa: E402

import irc  # noqa: E402
import irc.nn as nn  # noqa: E402
import irc.optim as optim  # noqa: E402
from irc.targets.llvm.cpu import resolve_target  # noqa: E402

_marks: list[tuple[int, int]] = []


@tvm.register_global_func("irc_profile_mark")
def _mark(k: int) -> int:
    _marks.append((k, time.perf_counter_ns()))
    return 0


def instrument(tir_text: str) -> tuple[tvm.IRModule, str, list[str], list]:
    """The module with a mark before each top-level statement (and one at the end): (module, name, labels, statements)."""
    mod = tvm.script.from_source(tir_text)
    gv = list(mod.get_global_vars())[0]
    func = mod[gv]
    realize = func.body
    root = realize.block
    stmts = list(root.body.seq)
    labels = [",".join(re.findall(r'T\.sblock\("([^"]+)"', str(s))[:3]) or type(s).__name__ for s in stmts]
    body = []
    for k, stmt in enumerate(stmts):
        body += [tirx.Evaluate(tirx.call_packed("irc_profile_mark", k)), stmt]
    body.append(tirx.Evaluate(tirx.call_packed("irc_profile_mark", len(stmts))))
    root = s_tir.stmt.SBlock(
        root.iter_vars, root.reads, root.writes, root.name_hint, tirx.SeqStmt(body),
        root.init, root.alloc_buffers, root.match_buffers, root.annotations,
    )  # fmt: skip
    func = func.with_body(s_tir.stmt.SBlockRealize(realize.iter_values, realize.predicate, root))
    return tvm.IRModule({gv: func}), gv.name_hint, labels, stmts


def profile(jitted, args, repeat: int) -> tuple[collections.Counter, list[str], list]:
    """Mean ns per top-level statement of `jitted`'s compiled code, over `repeat` calls on `args`."""
    compiled = jitted.lower(*args).compiled
    mod, name, labels, stmts = instrument(compiled.tir_text)
    kernel = compiled.kernels[name]
    original = kernel.function
    kernel.function = tvm.compile(mod, target=resolve_target("llvm"))[name]
    totals: collections.Counter = collections.Counter()
    try:
        for _ in range(repeat):
            _marks.clear()
            jitted(*args)
            for (k, start), (_, end) in zip(_marks, _marks[1:]):
                totals[k] += (end - start) / repeat
    finally:
        kernel.function = original
    return totals, labels, stmts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["mlp", "cnn"])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--show", type=int, default=0, help="print the TIR of this many largest statements")
    args = parser.parse_args(argv)
    make_model, make_opt, shape = list(WORKLOADS.values())[0 if args.workload == "mlp" else 1]
    model = make_model(nn)
    opt = make_opt(optim, model.parameters())
    loss_fn = nn.CrossEntropyLoss()

    @irc.jit
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    rng = np.random.default_rng(0)
    inputs = (irc.tensor(rng.standard_normal(shape).astype(np.float32)), irc.tensor(rng.integers(0, 10, shape[0])))
    print(f"compiling the {args.workload} step ...", file=sys.stderr)
    for _ in range(3):
        step(*inputs)
    totals, labels, stmts = profile(step, inputs, args.repeat)
    total = sum(totals.values())
    print(f"kernel time per call: {total / 1e3:.1f} us over {len(stmts)} top-level statements")
    for k, ns in totals.most_common(args.top):
        print(f"{ns / 1e3:9.1f} us  {100 * ns / total:5.1f}%  [{k}] {labels[k]}")
    for k, _ in totals.most_common(args.show):
        print(f"\n[{k}] {labels[k]}\n{stmts[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
