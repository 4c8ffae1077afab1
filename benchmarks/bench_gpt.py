"""GPT training-step speed: irc eager, irc.jit and PyTorch eager on the CPU, in one run.

    python benchmarks/bench_gpt.py [--repeat 20] [--rounds 5] [--n-layer 2] [--n-embd 64]

The model, optimizer and batches are those of `examples/gpt.py` (a character
GPT: 2 layers, 4 heads, 64 wide, block 32, batch 16, AdamW), built from the
same file on both frameworks (`for_framework`), with the same initial weights.
One step is forward, cross-entropy, backward and the AdamW update on a fixed
batch.  The irc eager step runs compiled code from its first step
(`IRC_EAGER=compile`), so the medians are of compiled steps for both irc modes.
The modes take turns (`--rounds` rounds of `--repeat` steps), as in
`bench_training.py`; the last column is the range of the per-round ratios.
torch's OpenMP threads wait passively (`OMP_WAIT_POLICY=PASSIVE`, see below).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import numpy as np

# torch's OpenMP threads spin-wait between ops by default; in one process with irc's TVM threads (and on
# a busy machine) the spinning threads starve each other: torch's step took 30x longer.  Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from bench_training import alternating_medians, result_rows

import irc

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "gpt.py")


def load_example():
    spec = importlib.util.spec_from_file_location("gpt_example", EXAMPLE)
    example = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="steps per mode per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of alternating modes")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=32)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=64)
    args = parser.parse_args(argv)
    irc.set_eager_mode("compile")

    frameworks = {"irc": load_example().for_framework("irc")}
    try:
        frameworks["torch"] = frameworks["irc"].for_framework("torch")
    except ImportError:
        pass
    data, chars = frameworks["irc"].load_text()
    x, y = frameworks["irc"].get_batch(data, np.random.default_rng(0), args.batch_size, args.block_size)
    sizes = dict(vocab_size=len(chars), block_size=args.block_size, n_layer=args.n_layer, n_embd=args.n_embd)

    irc.manual_seed(0)
    weights = [p.numpy() for p in frameworks["irc"].GPT(frameworks["irc"].GPTConfig(**sizes)).parameters()]
    steps = {}
    for mode, name in (("torch", "torch"), ("irc eager", "irc"), ("irc.jit", "irc")):
        if name not in frameworks:
            continue
        example = frameworks[name]
        framework = sys.modules[name]
        model = example.GPT(example.GPTConfig(**sizes))
        with framework.no_grad():
            for p, w in zip(model.parameters(), weights, strict=True):
                p.copy_(framework.tensor(w))
        step = example.make_train_step(model, example.make_optimizer(model, lr=3e-3, weight_decay=0.1))
        if mode == "irc.jit":
            step = irc.jit(step)
        steps[mode] = lambda step=step, framework=framework: step(framework.tensor(x), framework.tensor(y)).item()

    medians, ratios = alternating_medians(steps, args.warmup, args.repeat, args.rounds)
    n_params = sum(w.size for w in weights)
    print(
        f"GPT {args.n_layer} layers x {args.n_embd}, {n_params} parameters, batch {args.batch_size} x {args.block_size}"
    )
    print(f"{'mode':10s} {'median ms':>10s} {'vs torch':>9s}  per-round ratios")
    print("\n".join(result_rows(medians, ratios)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
