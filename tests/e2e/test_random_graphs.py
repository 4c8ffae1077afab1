"""Property-based: random small graphs of elementwise, reduction, arg-reduction,
view/reshape and matmul ops compile for `llvm` to the same values as the hl
numpy reference. Shapes include a zero-size batch (m = 0), 0-d and 1-d
intermediates (full reductions), every dims spelling of the reductions, and
float64."""

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import irc
from tests.helpers import assert_matches_reference

# no periodic ops: after a chain of exps their float32 argument is too large to mean anything
UNARY = ["exp", "tanh", "sigmoid", "relu", "neg", "abs"]
BINARY = ["add", "sub", "mul", "maximum", "minimum"]
REDUCTIONS = ["sum", "mean", "amax", "amin", "prod"]
#: how a reduction names its dims, resolved against the rank of the tensor it reduces
DIMS = ["none", "empty", "first", "last", "pair"]
#: reshapes of non-contiguous views; each gives back a tensor of the same shape (2-D)
VIEWS = ["transpose", "slice", "expand"]


@st.composite
def programs(draw):
    """A recipe: a list of steps applied to a stack of tensors, plus the input shapes and dtype."""
    m = draw(st.integers(0, 5))
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    steps = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("unary"), st.sampled_from(UNARY)),
                st.tuples(st.just("binary"), st.sampled_from(BINARY), st.booleans()),
                st.tuples(st.just("reduce"), st.sampled_from(REDUCTIONS), st.sampled_from(DIMS), st.booleans()),
                st.tuples(
                    st.just("argreduce"), st.sampled_from(["argmax", "argmin"]), st.sampled_from(DIMS), st.booleans()
                ),
                st.tuples(st.just("view"), st.sampled_from(VIEWS)),
                st.tuples(
                    st.just("matmul"),
                ),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return (m, n, k), dtype, steps


def resolve_dims(spelling: str, ndim: int):
    """The `dim` argument for a dims spelling on a tensor of rank `ndim` (0-d tensors take 0 and -1)."""
    return {"none": None, "empty": (), "first": 0, "last": -1, "pair": (0, -1) if ndim >= 2 else None}[spelling]


def reduced_extent(shape, dim) -> int:
    dims = range(len(shape)) if dim is None or dim == () else [dim] if isinstance(dim, int) else dim
    return int(np.prod([shape[d] for d in dims])) if shape else 1


def build(shapes, steps):
    m, n, k = shapes

    def fn(x, y, w):
        h = x
        for step in steps:
            kind = step[0]
            if kind == "unary":
                h = getattr(h, step[1])()
            elif kind == "binary":
                # y, a row of it (broadcasting), or h itself: `h - h` must stay NaN for NaN and inf
                # (TVM's simplifier would fold it to 0; see tests/e2e/test_ieee_semantics.py)
                other = y if h.shape == (m, n) else h
                other = other[0] if step[2] and other.ndim == 2 and other.shape[0] else other
                h = getattr(h, step[1])(other)
            elif kind == "reduce":
                op, dim, keepdim = step[1], resolve_dims(step[2], h.ndim), step[3]
                if op in ("amax", "amin") and reduced_extent(h.shape, dim) == 0:
                    op = "sum"  # max/min of nothing is an error (as in PyTorch)
                if op == "prod" and not isinstance(dim, int):
                    dim = None if dim is None or not h.ndim else -1  # torch's prod takes one dim
                if op == "prod" and dim is None:
                    h = h.prod()
                else:
                    reduced = getattr(h, op)(dim, keepdim=keepdim)
                    h = reduced.expand(*h.shape) if keepdim and h.ndim and dim not in (None, ()) else reduced
            elif kind == "argreduce":
                dim = resolve_dims(step[2], h.ndim)
                dim = dim if isinstance(dim, int) else None
                if h.numel() and reduced_extent(h.shape, dim):
                    h = getattr(h, step[1])(dim, keepdim=step[3]).type_as(h)
            elif kind == "view" and h.ndim == 2:
                a, b = h.shape
                if step[1] == "transpose":
                    h = h.transpose(0, 1).reshape(a, b)
                elif step[1] == "slice":
                    h = h[:, ::2].reshape(-1).reshape(a, -(-b // 2)) if a else h
                else:
                    h = h.unsqueeze(1).expand(a, 2, b).reshape(2 * a, b)[::2]
            elif kind == "matmul" and h.ndim == 2 and h.shape[1] == n:
                h = (h @ w) @ w.T
        return h

    return fn


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(programs(), st.integers(0, 2**16))
def test_random_graph_matches_reference(program, seed):
    shapes, dtype, steps = program
    m, n, k = shapes
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in [(m, n), (m, n), (n, k)]]
    assert_matches_reference(build(shapes, steps), arrays, tol_scale=50)


def test_generator_covers_all_step_kinds():
    # the property above is only meaningful if every kind of step can occur
    steps = [("unary", "exp"), ("binary", "add", True), ("reduce", "sum", "last", True), ("view", "transpose")]
    steps += [("view", "slice"), ("view", "expand"), ("matmul",), ("argreduce", "argmax", "first", True)]
    fn = build((2, 3, 4), steps + [("reduce", "mean", "pair", False)])
    out = fn(*(irc.randn(*s) for s in [(2, 3), (2, 3), (3, 4)]))
    assert out.shape == ()
