"""Programs shared by the GPU target tests: every hl op family in one function, and the examples.

One function holding every family keeps the number of device programs (each built
once by PoCL or nvcc, seconds apiece) small.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

import irc
import irc.nn.functional as F
from irc.compiler.pipeline import Pipeline
from irc.frontend.tracing import trace

ROOT = Path(__file__).parents[2]


def every_family(x, y, v, img, w, gw, i):
    """One output per hl op family (x: 4x9, y: 9 (broadcast), v: 3x4x5, img: 2x4x9x9, i: int32 4x9)."""
    mask = x.gt(y)
    return (
        x.neg().abs() + x.exp() + (x.abs() + 0.5).log() + (x.abs() + 1).sqrt() + (x.abs() + 1).rsqrt(),
        x.tanh() + x.sigmoid() + x.relu() + x.sin() + x.cos() + x.erf(),
        (x - y) * y / (y.abs() + 1) + (x.abs() + 0.5).pow(y) + irc.maximum(x, y) - irc.minimum(x, y),
        irc.where(mask, x, y) + mask.to("float32") + x.eq(y).to("float32") + x.le(y).to("float32"),
        (i * 3 - i.abs() + irc.maximum(i, i * 2)).to("float32") + x.to("int32").to("float32"),
        x.sum(1) + x.mean(1) * 2 + x.amax(1) - x.amin(1) + (x * 0.5).prod(1),
        v.sum((0, 2)) + img.sum() + img.amax((1, 2, 3)).sum(),
        x.argmax(1) + i.argmin(0, True).sum(),
        v.permute(2, 0, 1).reshape(5, 12)[1:4, ::2] + v.transpose(0, 1).reshape(4, 15)[:3, 3:9],
        irc.cat([x, x.exp()], 0)[:, 2:] + F.pad(x, (1, 2, 0, 4), value=0.5)[:, :7],
        x @ x.transpose(0, 1) + irc.bmm(v, v.transpose(1, 2)).sum(0)[:4, :4] + (v @ w).sum(0)[:4, :4],
        F.conv2d(img, gw, stride=2, padding=1) + 1,
        F.conv2d(img, gw[:, :1], padding=1, groups=4),
        F.max_pool2d(img, 3, 2, 1)[:, :, :4, :4] + F.avg_pool2d(img, 2),
        x.softmax(-1) + x.log_softmax(0),
        F.batch_norm(img, None, None, training=True),
        x + irc.arange(9),
        _select_chain(x, y),
        (i ** (i.abs() * 7)).to("float32"),  # exponentiation by squaring, wrapping (docs/torch-api.md)
    )


def _select_chain(x, y, steps: int = 8):
    """Selects in a row: past a size an elementwise nest stores its values in scratch buffers (registers
    on a GPU; docs/compile-time.md)."""
    p = x
    for _ in range(steps):
        p = irc.where(p > y, p * 0.5, p + 1)
    return p


def family_inputs(rng: np.random.Generator) -> list[np.ndarray]:
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return [
        f(4, 9), f(9), f(3, 4, 5), f(2, 4, 9, 9), f(5, 4), f(4, 4, 3, 3),
        rng.integers(-3, 4, (4, 9)).astype(np.int32),
    ]  # fmt: skip


def example(name: str):
    """(function, inputs) of `examples/<name>.py`, with the declared shapes."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, name)
    rng = np.random.default_rng(1)
    return fn, [s.random(rng) * np.float32(0.1) for s in irc.frontend.jit.example_inputs_of(fn)]


PROGRAMS = ["every_family", "mlp", "convnet"]


@functools.cache
def program(name: str):
    """(hl module, inputs) of one of `PROGRAMS`."""
    if name == "every_family":
        fn, arrays = every_family, family_inputs(np.random.default_rng(0))
    else:
        fn, arrays = example(name)
    return trace(fn, [irc.Spec.of(a) for a in arrays]), arrays


@functools.cache
def loops_module(name: str):
    """The loops-stage module of a program (the GPU targets' input)."""
    module, _ = program(name)
    return Pipeline(target="llvm", stop_after="loops").run(module).modules["loops"]
