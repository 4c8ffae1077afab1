"""Writing with tensor indices against PyTorch: scatter (src and value), scatter_add, scatter_reduce
(sum, mean, amax, amin, include_self), index_add, index_copy, index_fill and the in-place forms;
values and gradients (input and src) on both eager tiers and under irc.jit, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import irc
from irc.errors import FrontendError
from tests.torch_compare import check_jit_value_and_grad

torch = pytest.importorskip("torch")

rng = np.random.default_rng(1)
X = rng.standard_normal((3, 4, 2)).astype(np.float32)
SRC = rng.standard_normal((3, 4, 2)).astype(np.float32)
IDX = rng.integers(0, 3, (2, 4, 2))  # along dim 0 (size 3): duplicates
IDX1 = rng.integers(0, 4, (3, 3, 1))  # along dim 1, smaller than x outside it
PERM = np.array([[[3], [0], [1]], [[1], [2], [0]], [[0], [3], [2]]])  # along dim 1, no duplicates
ROWS = [2, 0, 2]  # index_add / index_copy / index_fill rows with a duplicate
TIES = np.array([[[0.5, 1.0]], [[0.5, -1.0]]], np.float32)  # for amax/amin: equal values share the gradient


def _i(m, a):
    return m.tensor(np.asarray(a))


#: name -> f(module, x, src): the same code for irc and torch
CASES = {
    "scatter_add": lambda m, x, s: x.scatter_add(0, _i(m, IDX), s[:2]),
    "scatter_add_neg_dim_smaller": lambda m, x, s: m.scatter_add(x, -2, _i(m, IDX1), s[:, :3, :1]),
    "scatter_src": lambda m, x, s: x.scatter(1, _i(m, [[[3, 1], [0, 2]]] * 3), s[:, :2]),
    "scatter_value": lambda m, x, s: x.scatter(1, _i(m, IDX1), -2.5) * s,
    "sum_no_self": lambda m, x, s: x.scatter_reduce(0, _i(m, IDX), s[:2], "sum", include_self=False),
    "mean": lambda m, x, s: m.scatter_reduce(x, 0, _i(m, IDX), s[:2], "mean"),
    "mean_no_self": lambda m, x, s: x.scatter_reduce(1, _i(m, IDX1), s[:, :3, :1], "mean", include_self=False),
    "amax": lambda m, x, s: x.scatter_reduce(0, _i(m, IDX), s[:2], "amax"),
    "prod": lambda m, x, s: x.scatter_reduce(0, _i(m, IDX), s[:2], "prod"),
    "prod_zeros_no_self": lambda m, x, s: (x * m.tensor(X > 0)).scatter_reduce(
        1, _i(m, IDX1), s[:, :3, :1] * m.tensor(SRC[:, :3, :1] > -0.5), "prod", include_self=False
    ),
    "amin_no_self": lambda m, x, s: x.scatter_reduce(2, _i(m, IDX1 % 2), s[:, :3, :1], "amin", include_self=False),
    "amax_ties": lambda m, x, s: x.scatter_reduce(
        0, _i(m, [[[0, 0]], [[0, 1]]]), s[:2, :1] * 0 + m.tensor(TIES), "amax"
    ),
    "index_add": lambda m, x, s: x.index_add(0, _i(m, ROWS), s, alpha=2.0),
    "index_add_dim1_int32": lambda m, x, s: m.index_add(x, 1, m.tensor([3, 0], dtype=m.int32), s[:, :2]),
    "index_copy": lambda m, x, s: x.index_copy(-1, _i(m, [1, 0]), s),
    "index_fill": lambda m, x, s: x.index_fill(1, _i(m, [-1, 0]), 1.5) * s,
    "index_fill_tensor": lambda m, x, s: m.index_fill(x, 0, _i(m, ROWS), s[0, 0, 0]),
}


def _check(f):
    xi, si = irc.tensor(X, requires_grad=True), irc.tensor(SRC, requires_grad=True)
    xt, st = torch.tensor(X, requires_grad=True), torch.tensor(SRC, requires_grad=True)
    yi, yt = f(irc, xi, si), f(torch, xt, st)
    assert yi.shape == tuple(yt.shape)
    np.testing.assert_allclose(yi.numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    seed = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (yi * irc.tensor(seed)).sum().backward()
    (yt * torch.tensor(seed)).sum().backward()
    for gi, gt in ((xi.grad, xt.grad), (si.grad, st.grad)):
        if gt is None:
            assert gi is None or not gi.numpy().any()
        else:
            np.testing.assert_allclose(gi.numpy(), gt.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_eager_matches_torch(name):
    _check(CASES[name])


@pytest.mark.parametrize("name", ["scatter_add", "amax_ties", "index_add", "scatter_value"])
def test_compiled_eager_matches_torch(name):
    with irc.set_eager_mode("compile"):
        _check(CASES[name])


def test_jit_values_and_grads_in_one_compile():
    """Several scatters in one jitted gradient: the values and the gradients of x and src."""

    def f(m, x, s):
        return (
            (x.scatter_add(0, _i(m, IDX), s[:2]) * 3).sum()
            + x.scatter_reduce(1, _i(m, IDX1), s[:, :3, :1], "amax").square().sum()
            + x.index_add(0, _i(m, ROWS), s).sin().sum()
            + x.scatter(1, _i(m, PERM), s[:, :3, :1]).cos().sum()  # duplicates would keep different values
        )

    grad = check_jit_value_and_grad(torch, f, [X, SRC])
    assert "hl.scatter" in grad.lower(irc.tensor(X), irc.tensor(SRC)).stages["hl"]


def test_in_place_forms_and_ints_and_bools():
    x, t = irc.zeros(3, 4, dtype=irc.int64), torch.zeros(3, 4, dtype=torch.int64)
    index = [[0, 1, 2, 0], [2, 2, 1, 0]]
    src = np.arange(8).reshape(2, 4)
    x.scatter_add_(0, irc.tensor(index), irc.tensor(src))
    t.scatter_add_(0, torch.tensor(index), torch.tensor(src))
    x.index_add_(1, irc.tensor([1, 1]), irc.ones(3, 2, dtype=irc.int64))
    t.index_add_(1, torch.tensor([1, 1]), torch.ones(3, 2, dtype=torch.int64))
    x.scatter_reduce_(0, irc.tensor(index), irc.tensor(src), "mean", include_self=False)  # integer mean floors
    t.scatter_reduce_(0, torch.tensor(index), torch.tensor(src), "mean", include_self=False)
    x.scatter_(1, irc.tensor([[3], [0], [1]]), 7)
    t.scatter_(1, torch.tensor([[3], [0], [1]]), 7)
    x.index_copy_(0, irc.tensor([1]), irc.full((1, 4), -1, dtype=irc.int64))
    t.index_copy_(0, torch.tensor([1]), torch.full((1, 4), -1, dtype=torch.int64))
    x.index_fill_(1, irc.tensor([0]), 9)
    t.index_fill_(1, torch.tensor([0]), 9)
    assert x.dtype == irc.int64 and x.tolist() == t.tolist()
    mask = irc.zeros(2, 3, dtype=irc.bool).scatter(1, irc.tensor([[2], [0]]), True)
    assert mask.tolist() == torch.zeros(2, 3, dtype=torch.bool).scatter(1, torch.tensor([[2], [0]]), True).tolist()


def test_scatter_reduce_add_and_a_larger_src():
    """`reduce='add'` adds, `'multiply'` multiplies; a src larger than the index gives only its covered part (torch has no gradient
    for either: values only)."""
    x, index = irc.tensor(X), irc.tensor(IDX)
    expected = torch.tensor(X).scatter(0, torch.tensor(IDX), torch.tensor(SRC), reduce="add")
    np.testing.assert_allclose(x.scatter(0, index, irc.tensor(SRC), reduce="add").numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.scatter_add(0, index, irc.tensor(SRC)).numpy(), expected.numpy(), rtol=1e-6)
    for reduce in ("add", "multiply"):
        value = torch.tensor(X).scatter(1, torch.tensor(IDX1), 2.0, reduce=reduce)
        np.testing.assert_allclose(x.scatter(1, irc.tensor(IDX1), 2.0, reduce=reduce).numpy(), value.numpy(), rtol=1e-6)


def test_scatter_duplicates_keep_one_of_the_values():
    """torch keeps an unspecified one of duplicate targets' values; irc keeps the largest."""
    out = irc.zeros(3).scatter(0, irc.tensor([1, 1, 2]), irc.tensor([4.0, 6.0, 1.0]))
    assert out.tolist() == [0.0, 6.0, 1.0]


def test_out_of_range_raises_on_the_interpreting_tier_and_is_dropped_by_compiled_code():
    x, index, src = irc.zeros(2, 3), irc.tensor([[0, 3]]), irc.ones(1, 2)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dim 1 with size 3"):
        x.scatter_add(1, index, src).numpy()
    with irc.set_eager_mode("compile"):
        assert irc.zeros(2, 3).scatter_add(1, index, src).tolist() == [[1, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    "f, message",
    [
        (lambda x: x.scatter(1, irc.tensor([[0.0]]), 1.0), r"scatter\(\): Expected dtype int64 for index"),
        (lambda x: x.scatter(1, irc.tensor([0, 1]), irc.ones(2, 2)), "same number of dimensions as self tensor"),
        (lambda x: x.scatter_add(1, irc.tensor([[0, 1, 2, 3, 0]]), irc.ones(1, 4)), "to be no larger size than src"),
        (lambda x: x.scatter_add(1, irc.tensor([[0]] * 4), irc.ones(4, 1)), r"Expected index \[4, 1\] to be no larger"),
        (lambda x: x.scatter_add(1, irc.tensor([[0]]), irc.ones(1, 1, dtype=irc.float64)), "self.dtype to be equal"),
        (lambda x: x.scatter(1, irc.tensor([[0]]), irc.ones(1, 1), reduce="max"), "either add or multiply"),
        (lambda x: x.scatter(1, irc.tensor([[0]]), irc.ones(1, 1), reduce="mean"), "either add or multiply"),
        (
            lambda x: x.scatter_reduce(1, irc.tensor([[0]]), irc.ones(1, 1), "foo"),
            "sum, prod, mean, amax or amin, got foo",
        ),
        (lambda x: x.scatter(3, irc.tensor([[0]]), 1.0), "Dimension out of range"),
        (
            lambda x: x.index_add(1, irc.tensor([0.0, 1.0]), irc.ones(3, 2)),
            "Expected dtype int32/int64 for index but got: Float",
        ),
        (
            lambda x: x.index_add(1, irc.tensor([[0, 1]]), irc.ones(3, 2)),
            "Index is supposed to be a vector, but got dim: 2",
        ),
        (
            lambda x: x.index_add(1, irc.tensor([0, 1]), irc.ones(3, 3)),
            r"Number of indices \(2\) should be equal to source.size",
        ),
        (
            lambda x: x.index_add(1, irc.tensor([0, 1]), irc.ones(2, 2)),
            "source tensor shape must match self tensor shape",
        ),
        (
            lambda x: x.index_add(1, irc.tensor([0]), irc.ones(3, 1, dtype=irc.float64)),
            r"self \(Float\) and source \(Double\)",
        ),
        (
            lambda x: x.index_copy(1, irc.tensor([0], dtype=irc.int32), irc.ones(3, 1)),
            "Expected a long tensor for index, but got Int",
        ),
        (
            lambda x: x.index_fill(1, irc.tensor([0], dtype=irc.int32), 1.0),
            r"index_fill_\(\): Expected dtype int64 for index.",
        ),
        (lambda x: x.index_fill(1, irc.tensor([0]), irc.ones(2)), "only supports a 0-dimensional value tensor"),
    ],
)
def test_errors(f, message):
    with pytest.raises(FrontendError, match=message):
        f(irc.zeros(3, 4))


def test_torch_accepts_the_same_calls():
    """The error cases above are errors in torch too (a sample; messages compared by eye in the table)."""
    with pytest.raises(RuntimeError, match="Expected index"):
        torch.zeros(3, 4).scatter_add(1, torch.tensor([[0]] * 4), torch.ones(4, 1))
    with pytest.raises(RuntimeError, match="should be equal to source.size"):
        torch.zeros(3, 4).index_add(1, torch.tensor([0, 1]), torch.ones(3, 3))
