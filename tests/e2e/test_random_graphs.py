"""Property-based: random small graphs of elementwise, reduction and matmul ops
compile for `llvm` to the same values as the hl numpy reference."""

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import irc
from tests.helpers import assert_matches_reference

# no periodic ops: after a chain of exps their float32 argument is too large to mean anything
UNARY = ["exp", "tanh", "sigmoid", "relu", "neg", "abs"]
BINARY = ["add", "sub", "mul", "maximum", "minimum"]


@st.composite
def programs(draw):
    """A recipe: a list of steps applied to a stack of tensors, plus the input shapes."""
    m = draw(st.integers(1, 5))
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    steps = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("unary"), st.sampled_from(UNARY)),
                st.tuples(st.just("binary"), st.sampled_from(BINARY), st.booleans()),
                st.tuples(st.just("reduce"), st.sampled_from(["sum", "mean", "amax"]), st.integers(0, 1), st.booleans()),
                st.tuples(st.just("matmul"),),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return (m, n, k), steps


def build(shapes, steps):
    m, n, k = shapes

    def fn(x, y, w):
        h = x
        for step in steps:
            kind = step[0]
            if kind == "unary":
                h = getattr(h, step[1])()
            elif kind == "binary":
                other = y if h.shape == (m, n) else h  # broadcast a row vector when shapes allow
                other = other[0] if step[2] and other.ndim == 2 else other
                h = getattr(h, step[1])(other)
            elif kind == "reduce" and h.ndim == 2:
                h = getattr(h, step[1])(step[2], keepdim=True).expand(*h.shape) if step[3] else getattr(h, step[1])(step[2])
            elif kind == "matmul" and h.ndim == 2 and h.shape[1] == n:
                h = (h @ w) @ w.T
        return h

    return fn


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(programs(), st.integers(0, 2**16))
def test_random_graph_matches_reference(program, seed):
    shapes, steps = program
    m, n, k = shapes
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(m, n), (m, n), (n, k)]]
    assert_matches_reference(build(shapes, steps), arrays, tol_scale=50)


def test_generator_covers_all_step_kinds():
    # the property above is only meaningful if every kind of step can occur
    fn = build((2, 3, 4), [("unary", "exp"), ("binary", "add", True), ("reduce", "sum", 1, True), ("matmul",)])
    out = fn(*(irc.randn(*s) for s in [(2, 3), (2, 3), (3, 4)]))
    assert out.shape == (2, 3)
