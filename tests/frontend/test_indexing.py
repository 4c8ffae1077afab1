"""Reading with tensor indices against PyTorch: torch.gather, index_select, x[idx], x[:, [-1], :] and
x[mask]; values and gradients on both eager tiers and under irc.jit, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import irc
from irc.errors import FrontendError

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 5, 3)).astype(np.float32)
GATHER_INDEX = rng.integers(0, 5, (4, 2, 3))

#: name -> f(module, x): the same code for irc and torch
CASES = {
    "gather": lambda m, x: m.gather(x, 1, m.tensor(GATHER_INDEX)),
    "gather_smaller_index": lambda m, x: x.gather(2, m.tensor(GATHER_INDEX[:3, :, :2] % 3)),
    "index_select": lambda m, x: x.index_select(1, m.tensor([4, 0, 0, 2])),
    "index_select_int32": lambda m, x: m.index_select(x, 0, m.tensor([3, 3], dtype=m.int32)),
    "tensor_index": lambda m, x: x[m.tensor([[1, 2], [3, -1]])],
    "list_keeps_dim": lambda m, x: x[:, [-1], :],
    "after_ellipsis": lambda m, x: x[..., [0, 2, 2]],
    "with_int_and_slice": lambda m, x: x[1, 1:, m.tensor([2, 0])],
    "with_none": lambda m, x: x[None, :, m.tensor([2, 0])],
    "scalar_tensor_index": lambda m, x: x[:, m.tensor(3)],
    "bool_mask": lambda m, x: x[m.tensor(X[:, :, 0] > 0)],
}


def _check(f, seed_grad=True):
    xi, xt = irc.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    yi, yt = f(irc, xi), f(torch, xt)
    assert yi.shape == tuple(yt.shape)
    np.testing.assert_allclose(yi.numpy(), yt.detach().numpy(), rtol=1e-6)
    seed = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (yi * irc.tensor(seed)).sum().backward()
    (yt * torch.tensor(seed)).sum().backward()
    np.testing.assert_allclose(xi.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_eager_matches_torch(name):
    _check(CASES[name])


@pytest.mark.parametrize("name", ["gather", "index_select", "tensor_index", "bool_mask"])
def test_compiled_eager_matches_torch(name):
    with irc.set_eager_mode("compile"):
        _check(CASES[name])


def test_jit_value_and_grad():
    index = np.array([[0, 4], [2, 2]])

    def loss(x, i):
        return (x[:, i].tanh() * irc.arange(4 * 2 * 2 * 3, dtype=irc.float32).reshape(4, 2, 2, 3)).sum()

    grad = irc.jit(irc.value_and_grad(loss), target="llvm")
    value, dx = grad(irc.tensor(X), irc.tensor(index))
    xt = torch.tensor(X, requires_grad=True)
    expected = (xt[:, torch.tensor(index)].tanh() * torch.arange(48.0).reshape(4, 2, 2, 3)).sum()
    expected.backward()
    np.testing.assert_allclose(value.numpy(), expected.item(), rtol=1e-5)
    np.testing.assert_allclose(dx.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert "hl.gather" in grad.lower(irc.tensor(X), irc.tensor(index)).stages["hl"]


def test_out_of_range_tensor_index_raises_on_the_interpreting_tier():
    with pytest.raises(IndexError, match="index 5 is out of bounds for dim 1 with size 5"):
        irc.tensor(X).index_select(1, irc.tensor([5])).numpy()


def test_out_of_range_is_clamped_by_compiled_code():
    with irc.set_eager_mode("compile"):
        out = irc.tensor(X).index_select(1, irc.tensor([7, -2])).numpy()
    np.testing.assert_array_equal(out, X[:, [4, 0]])


@pytest.mark.parametrize(
    "f, message",
    [
        (lambda x: x[[0, 9]], "index 9 is out of bounds for dimension 0 with size 4"),
        (lambda x: x[[0, 1], [1, 0, 1]], r"could not be broadcast together with shapes \[2\], \[3\]"),
        (lambda x: x[[0.5]], "tensors used as indices must be long, int or bool tensors"),
        (lambda x: x.gather(1, irc.tensor(GATHER_INDEX, dtype=irc.float32)), "Expected dtype int32/int64 for index"),
        (lambda x: x.gather(1, irc.tensor(GATHER_INDEX[0])), "same number of dimensions"),
        (lambda x: x.gather(0, irc.tensor(np.zeros((1, 6, 3), np.int64))), "Size does not match at dimension 1"),
        (lambda x: x.index_select(0, irc.tensor([[0]])), "Index is supposed to be a vector"),
        (lambda x: x[irc.tensor([True, False])], "does not match the shape of the indexed tensor"),
        (lambda x: x[irc.tensor([True] * 4), 0], "a bool mask index is supported alone only"),
    ],
)
def test_errors(f, message):
    with pytest.raises(FrontendError, match=message):
        f(irc.tensor(X))


def test_bool_mask_read_is_refused_inside_jit():
    with pytest.raises(FrontendError, match="data-dependent shape"):
        irc.jit(lambda x, m: x[m])(irc.tensor(X), irc.tensor(X[:, :, 0] > 0))
