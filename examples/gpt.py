"""A small character-level GPT (after Karpathy's nanoGPT) trained on `examples/data/tiny.txt`.

    python examples/gpt.py --steps 200              # the training step as one irc.jit program
    python examples/gpt.py --steps 200 --eager      # eager (dynamic graph) irc
    python examples/gpt.py --steps 50 --sample 0    # no text generated at the end

Token and position embeddings, causal self-attention (a `tril` mask, `masked_fill`
with -inf and softmax; `--flash` uses `F.scaled_dot_product_attention(is_causal=True)`),
LayerNorm, a GELU MLP, an output layer tied to the token embedding, and the
cross-entropy of the (B, T, vocab) logits reshaped to (B * T, vocab); AdamW with
a cosine learning-rate schedule.  The code is PyTorch's: change `import irc as
torch` to `import torch` and it runs under PyTorch (eager; `--eager` is then
the only mode).  The batches come from numpy's generator, so both draw the same;
`for_framework("torch")` gives this file as a module on PyTorch, next to the irc one
(tests/e2e/test_gpt.py and benchmarks/bench_gpt.py compare the two).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import irc as torch

nn = torch.nn
F = torch.nn.functional

DATA = Path(__file__).parent / "data" / "tiny.txt"


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 32
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    flash: bool = False  # F.scaled_dot_product_attention instead of the explicit mask and softmax


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.flash = config.n_head, config.flash
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        causal = torch.tril(torch.ones(config.block_size, config.block_size))
        self.register_buffer("bias", causal.view(1, 1, config.block_size, config.block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.flash:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying: one parameter, two uses
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None):
        """Logits (B, T, vocab) of the next character, and the mean cross-entropy against `targets` if given."""
        B, T = idx.size()
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def load_text(path: Path = DATA) -> tuple[np.ndarray, list[str]]:
    """The text as int64 character ids, and the sorted characters (the vocabulary)."""
    text = path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    ids = {c: i for i, c in enumerate(chars)}
    return np.array([ids[c] for c in text], dtype=np.int64), chars


def get_batch(data: np.ndarray, rng: np.random.Generator, batch_size: int, block_size: int):
    """`batch_size` random windows of the text and the same windows one character later."""
    starts = rng.integers(0, len(data) - block_size - 1, batch_size)
    x = np.stack([data[i : i + block_size] for i in starts])
    y = np.stack([data[i + 1 : i + 1 + block_size] for i in starts])
    return x, y


def make_optimizer(model: GPT, lr: float, weight_decay: float):
    """AdamW; weight decay on the matrices only (not on biases, LayerNorm weights), as nanoGPT."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def make_train_step(model: GPT, optimizer):
    """(x, y) -> loss: forward, backward and the AdamW update, in place.

    The loss comes back from `optimizer.step(closure)`, as PyTorch's closures give it: eager irc
    computes it in the step's one program, from the gradient function's forward pass.
    """

    def train_step(x, y):
        def closure():
            optimizer.zero_grad()
            _, loss = model(x, y)
            loss.backward()
            return loss

        return optimizer.step(closure)

    return train_step


@torch.no_grad()
def generate(model: GPT, start: np.ndarray, new_tokens: int, rng: np.random.Generator) -> np.ndarray:
    """Sample `new_tokens` characters after `start` (1-D ids), each from the softmax of the last logits."""
    ids = list(start)
    for _ in range(new_tokens):
        context = torch.tensor(np.array([ids[-model.config.block_size :]]))
        logits, _ = model(context)
        probs = F.softmax(logits[:, -1, :], dim=-1).numpy()[0].astype(np.float64)
        ids.append(int(rng.choice(len(probs), p=probs / probs.sum())))
    return np.array(ids)


def for_framework(name: str) -> types.ModuleType:
    """This example as a fresh module on `name` ("irc" or "torch"): its `import irc as torch` line names it."""
    source = Path(__file__).read_text(encoding="utf-8")
    module = types.ModuleType(f"gpt_on_{name}")
    module.__file__ = __file__
    sys.modules[module.__name__] = module  # dataclasses look the defining module up
    exec(
        compile(source.replace("\nimport irc as torch\n", f"\nimport {name} as torch\n"), __file__, "exec"),
        vars(module),
    )
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=32)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--flash", action="store_true", help="F.scaled_dot_product_attention(is_causal=True)")
    parser.add_argument("--eager", action="store_true", help="no irc.jit: the eager (dynamic graph) step")
    parser.add_argument("--sample", type=int, default=200, help="characters to generate after training")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    data, chars = load_text()
    config = GPTConfig(len(chars), args.block_size, args.n_layer, args.n_head, args.n_embd, args.flash)
    model = GPT(config)
    optimizer = make_optimizer(model, args.lr, args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps, eta_min=args.lr / 10)
    step = make_train_step(model, optimizer)
    jit = torch.__name__ == "irc" and not args.eager  # torch.jit is TorchScript; irc.jit compiles the step
    if jit:
        step = torch.jit(step)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{torch.__name__} {'jit' if jit else 'eager'}: {n_params} parameters, vocabulary {len(chars)}")

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for i in range(args.steps):
        x, y = get_batch(data, rng, args.batch_size, args.block_size)
        loss = step(torch.tensor(x), torch.tensor(y))
        scheduler.step()
        if i % 20 == 0 or i == args.steps - 1:
            ms = (time.perf_counter() - start) * 1e3 / (i + 1)
            print(f"step {i:4d}  loss {loss.item():.4f}  lr {scheduler.get_last_lr()[0]:.2e}  {ms:.1f} ms/step")

    if args.sample:
        model.eval()
        text = generate(model, data[:1], args.sample, rng)
        print("".join(chars[i] for i in text))


if __name__ == "__main__":
    main()
