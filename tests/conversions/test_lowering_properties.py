"""Property-based: random small hl graphs lowered to stage 3 (linalg, fused) compute what
the hl numpy reference computes on the traced module.

The graphs mix numpy broadcasting (size-1 dims both ways, missing leading dims,
rank-0 tensors), Python-scalar operands (x + 0, 1 * x, ...), compare + select, keepdim reductions expanded back, argmax,
softmax, transposes, stepped slices, integer indexing, reshapes, broadcast_to,
concat, pad and (batched) matmul;
results with several uses and several outputs keep fusion honest. Only the
xDSL passes and the stage interpreter run (no TVM), so this is fast.
"""

from __future__ import annotations

import operator

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import irc
from irc.compiler.pipeline import Pipeline
from irc.frontend.tensor import cat, where
from irc.frontend.tracing import trace
from irc.interpreters.reference import run_hl
from irc.nn.functional import pad

UNARY = ["exp", "tanh", "sigmoid", "relu", "neg", "abs", "sin"]
BINARY = ["add", "sub", "mul", "maximum", "minimum"]
SCALAR = ["add", "sub", "mul", "truediv"]
COMPARE = ["gt", "le", "eq", "ne"]
REDUCE = ["sum", "mean", "amax", "amin"]
DIM = st.integers(1, 3)


def _reduced(shape, dims, keepdim):
    return tuple(1 if i in dims else n for i, n in enumerate(shape) if keepdim or i not in dims)


@st.composite
def _broadcast_partner(draw, shape):
    """A shape that broadcasts with `shape`: fewer leading dims, size-1 dims, or a size where `shape` has 1."""
    keep = draw(st.integers(0, len(shape)))
    tail = shape[len(shape) - keep :]
    return tuple(draw(DIM) if n == 1 else draw(st.sampled_from([n, 1])) for n in tail)


@st.composite
def _step(draw, shapes):
    """One op on existing values; returns (step, [new input shapes], result shape)."""
    i = draw(st.integers(0, len(shapes) - 1))
    x = shapes[i]
    rank = len(x)
    kinds = ["unary", "binary", "binary", "scalar", "where", "reduce", "expand", "reshape"]
    # (hl.softmax's reference cannot evaluate a 0-d tensor)
    kinds += ["softmax", "transpose", "slice", "index", "argmax", "matmul", "cat", "pad"] if rank else []
    kind = draw(st.sampled_from(kinds))
    if kind == "unary":
        return ("unary", draw(st.sampled_from(UNARY)), i), [], x
    if kind in ("binary", "where"):
        partners = [j for j, s in enumerate(shapes) if _broadcastable(x, s)]
        j = draw(st.sampled_from([None, *partners]))
        new = []
        if j is None:
            new, j = [draw(_broadcast_partner(x))], len(shapes)
        shape = np.broadcast_shapes(x, ([*shapes, *new])[j])
        name = draw(st.sampled_from(BINARY if kind == "binary" else COMPARE))
        return (kind, name, i, j, draw(st.booleans())), new, shape
    if kind == "scalar":  # x op c and c op x: splat constants, folded by hl-canonicalize when neutral
        op, c = draw(st.sampled_from(SCALAR)), draw(st.sampled_from([0.0, 1.0, 2.0]))
        return ("scalar", op, i, c, draw(st.booleans())), [], x
    if kind == "reduce":
        dims = draw(st.none() | st.sets(st.integers(0, rank - 1), min_size=1) if rank else st.none())
        keepdim = draw(st.booleans())
        expand = keepdim and draw(st.booleans())
        reduced = tuple(range(rank)) if dims is None else tuple(sorted(dims))
        shape = x if expand else _reduced(x, reduced, keepdim)
        return ("reduce", draw(st.sampled_from(REDUCE)), i, dims and reduced, keepdim, expand), [], shape
    if kind == "expand":
        lead = tuple(draw(st.lists(DIM, max_size=max(0, 3 - rank))))
        shape = lead + tuple(draw(DIM) if n == 1 else n for n in x)
        return ("expand", i, shape), [], shape
    if kind == "reshape":
        shape = draw(st.sampled_from([(int(np.prod(x)),), (*x, 1), (1, *x), tuple(n for n in x if n != 1)]))
        return ("reshape", i, shape), [], shape
    if kind == "softmax":
        return ("softmax", i, draw(st.integers(-1, rank - 1))), [], x
    if kind == "transpose":
        perm = tuple(draw(st.permutations(range(rank))))
        return ("transpose", i, perm), [], tuple(x[p] for p in perm)
    if kind == "slice":
        d = draw(st.integers(0, rank - 1))
        start = draw(st.integers(0, x[d] - 1))
        stop = draw(st.integers(start + 1, x[d]))
        step = draw(st.integers(1, 2))
        shape = x[:d] + (len(range(start, stop, step)),) + x[d + 1 :]
        return ("slice", i, d, start, stop, step), [], shape
    if kind == "index":
        return ("index", i, draw(st.integers(-x[0], x[0] - 1))), [], x[1:]
    if kind == "cat":
        d = draw(st.integers(0, rank - 1))
        other = x[:d] + (draw(DIM),) + x[d + 1 :]
        return ("cat", i, len(shapes), d), [other], x[:d] + (x[d] + other[d],) + x[d + 1 :]
    if kind == "pad":
        low, high = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        return ("pad", i, low, high), [], x[:-1] + (x[-1] + low + high,)
    if kind == "argmax":
        d = draw(st.integers(0, rank - 1))
        keepdim = draw(st.booleans())
        return ("argmax", i, d, keepdim), [], _reduced(x, (d,), keepdim)
    # matmul: x @ a new input, with broadcast batch dims when x has them
    k = draw(DIM)
    batch = tuple(draw(st.sampled_from([n, 1])) for n in x[:-2])
    other = (*batch[len(batch) - draw(st.integers(0, len(batch))) :], x[-1], k)
    other = other[:-1] if rank == 1 and draw(st.booleans()) else other
    return ("matmul", i, len(shapes)), [other], np.matmul(np.zeros(x), np.zeros(other)).shape


def _broadcastable(a, b) -> bool:
    return all(m == n or 1 in (m, n) for m, n in zip(reversed(a), reversed(b)))


@st.composite
def graphs(draw):
    """(input shapes, steps, outputs): values are inputs and step results, numbered in creation order."""
    first = tuple(draw(st.lists(DIM, max_size=3)))
    shapes, inputs, steps = [first], [first], []
    kinds = [("input",)]
    for _ in range(draw(st.integers(1, 6))):
        step, new, shape = draw(_step(shapes))
        for s in new:
            shapes.append(s), inputs.append(s), kinds.append(("input",))
        shapes.append(tuple(shape)), steps.append(step), kinds.append(step)
    computed = [v for v, k in enumerate(kinds) if k[0] != "input"]
    outputs = [computed[-1], *draw(st.sets(st.sampled_from(computed), max_size=1))]
    return inputs, kinds, outputs


def build(kinds, outputs):
    """The traced function replaying `kinds` on its arguments."""

    def fn(*args):
        env, next_arg = [], iter(args)
        for kind, *a in kinds:
            env.append(next(next_arg) if kind == "input" else _apply(kind, a, env))
        return tuple(env[v] for v in outputs)

    return fn


def _apply(kind, a, env):
    x = env[a[1]] if kind in ("unary", "binary", "scalar", "where", "reduce") else env[a[0]]
    if kind == "unary":
        return getattr(x, a[0])()
    if kind == "binary":
        y = env[a[2]]
        return getattr(y, a[0])(x) if a[3] else getattr(x, a[0])(y)
    if kind == "scalar":
        fn, c = getattr(operator, a[0]), a[2]
        return fn(c, x) if a[3] else fn(x, c)
    if kind == "where":  # where(x > y, x, y): an i1 producer feeding a select
        y = env[a[2]]
        return where(getattr(x, a[0])(y), y, x) if a[3] else where(getattr(x, a[0])(y), x, y)
    if kind == "reduce":
        name, _, dims, keepdim, expand = a
        r = getattr(x, name)(dims, keepdim=keepdim)
        return r.broadcast_to(x.shape) if expand else r
    if kind == "expand":
        return x.broadcast_to(a[1])
    if kind == "reshape":
        return x.reshape(*a[1])
    if kind == "softmax":
        return x.softmax(a[1])
    if kind == "transpose":
        return x.permute(*a[1])
    if kind == "slice":
        d, start, stop, step = a[1:]
        return x[(slice(None),) * d + (slice(start, stop, step),)]
    if kind == "index":
        return x[a[1]]
    if kind == "cat":
        return cat([x, env[a[1]]], a[2])
    if kind == "pad":
        return pad(x, (a[1], a[2]), value=0.5)
    if kind == "argmax":
        return x.argmax(a[1], keepdim=a[2]).float()
    return x @ env[a[1]]


def lower_and_compare(inputs, kinds, outputs, seed=0):
    """Lower to stage 3 and compare hl-opt and linalg with the reference on the traced module."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in inputs]
    module = trace(build(kinds, outputs), [irc.Spec.of(a) for a in arrays])
    with np.errstate(all="ignore"):
        expected = run_hl(module, arrays)
        lowering = Pipeline(target="llvm", stop_after="linalg").run(module)
        for stage in ("hl-opt", "linalg"):
            got = lowering.execute(stage, *arrays)
            assert len(got) == len(expected)
            for g, e in zip(got, expected):
                assert g.shape == e.shape and g.dtype == e.dtype, (stage, g.shape, g.dtype, e.shape, e.dtype)
                np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4, equal_nan=True, err_msg=f"stage {stage}")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**16))
def test_random_graph_lowers_to_what_hl_computes(graph, seed):
    lower_and_compare(*graph, seed)


def test_every_step_kind_lowers():
    # one graph with every kind of step the generator draws, fusing into reductions
    kinds = [
        ("input",),  # v0 (3, 1)
        ("scalar", "add", 0, 0.0, True),
        ("input",),  # v2 (3,)
        ("binary", "add", 1, 2, True),  # (3, 3)
        ("reduce", "sum", 3, (1,), True, True),  # v4 (3, 3)
        ("reduce", "amax", 3, (0,), True, False),  # (1, 3)
        ("expand", 5, (2, 3, 3)),
        ("reshape", 6, (18,)),
        ("softmax", 7, 0),  # v8
        ("transpose", 4, (1, 0)),
        ("slice", 9, 0, 0, 3, 2),  # (2, 3)
        ("index", 10, 0),  # v11 (3,)
        ("argmax", 4, 1, True),  # (3, 1)
        ("input",),  # v13 (1, 2)
        ("matmul", 12, 13),  # (3, 2)
        ("where", "gt", 14, 13, True),  # (3, 2)
        ("input",),  # v16 (3, 1)
        ("cat", 15, 16, 1),  # (3, 3)
        ("pad", 17, 1, 2),  # v18 (3, 6)
    ]
    lower_and_compare([(3, 1), (3,), (1, 2), (3, 1)], kinds, [18, 8, 11])
