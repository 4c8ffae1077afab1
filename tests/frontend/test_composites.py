"""The composite ops (relu, sigmoid, rsqrt, mean, softmax, log_softmax) against PyTorch at their edges: values
and gradients in eager mode (both tiers), irc.grad (hl reference) and irc.jit (llvm). They have no derivative
rules of their own (irc/transforms/decompose.py): autodiff differentiates their decompositions."""

from __future__ import annotations

import numpy as np
import pytest

import irc
import irc.nn.functional as F

torch = pytest.importorskip("torch")

INF = np.inf
#: name -> (irc function, torch function, input): each at the values where a decomposition could go wrong
CASES = {
    # relu'(0) = 0, as PyTorch (select(x <= 0, 0, x) sends 0 to the zero branch)
    "relu": (lambda x: x.relu(), lambda x: x.relu(), [-2.0, -0.0, 0.0, 1e-30, 3.0]),
    "relu_rows": (F.relu, torch.relu, [[0.0, -1.0], [2.0, 0.0]]),
    # exp(-x) overflows for x < -88 (f32): no inf, no nan, in the value or the gradient
    "sigmoid": (
        lambda x: x.sigmoid(),
        torch.sigmoid,
        [-1000.0, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1000.0],
    ),
    "rsqrt": (lambda x: x.rsqrt(), torch.rsqrt, [1e-6, 0.25, 1.0, 4.0, 1e6]),
    "mean": (lambda x: x.mean(), torch.mean, [[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]]),
    "mean_dims": (
        lambda x: x.mean((0, 2), keepdim=True),
        lambda x: x.mean((0, 2), keepdim=True),
        np.arange(24.0).reshape(2, 3, 4),
    ),
    # rows with -inf (masked logits), ties, and large logits
    "softmax": (
        lambda x: x.softmax(-1),
        lambda x: x.softmax(-1),
        [[-INF, 0.0, 1.0], [2.0, 2.0, -INF], [1000.0, -1000.0, 0.0], [0.5, 0.5, 0.5]],
    ),
    "softmax_dim0": (lambda x: F.softmax(x, 0), lambda x: torch.softmax(x, 0), [[-INF, 3.0], [1.0, -INF], [1.0, 2.0]]),
    "log_softmax": (
        lambda x: x.log_softmax(-1),
        lambda x: x.log_softmax(-1),
        [[-1000.0, 0.0, 1000.0], [2.0, 2.0, -3.0], [1e-3, 0.0, -1e-3]],
    ),
    "log_softmax_inf": (
        lambda x: F.log_softmax(x, 1),
        lambda x: torch.log_softmax(x, 1),
        [[-INF, 0.0, 1.0], [0.0, 1.0, -INF]],
    ),
}


def _weights(shape) -> np.ndarray:
    """Distinct weights, so that every element's gradient counts (a plain sum of a softmax has gradient 0)."""
    return np.arange(1.0, np.prod(shape) + 1).reshape(shape) / np.prod(shape)


def _torch(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, f, _ = CASES[name]
    t = torch.tensor(x, requires_grad=True)
    y = f(t)
    w = torch.tensor(_weights(y.shape), dtype=t.dtype)
    (torch.where(y > -INF, y, 0) * w).sum().backward()
    return y.detach().numpy(), t.grad.numpy()


def _loss(name: str):
    f, _, _ = CASES[name]

    def loss(x):
        y = f(x)
        w = irc.tensor(_weights(y.shape), dtype=y.dtype)
        return (irc.where(y > -INF, y, 0.0) * w).sum()

    return loss


def _check(name, dtype, y, dx):
    x = np.asarray(CASES[name][2], dtype=dtype)
    want_y, want_dx = _torch(name, x)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    if y is not None:
        assert y.dtype == want_y.dtype
        np.testing.assert_allclose(y, want_y, **tol)
    assert not np.isnan(dx).any()
    np.testing.assert_allclose(dx, want_dx, **tol)


def _input(name, dtype) -> np.ndarray:
    return np.asarray(CASES[name][2], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["interpret", "compile"])
@pytest.mark.parametrize("name", CASES)
def test_eager_matches_torch(name, mode, dtype):
    with irc.set_eager_mode(mode):
        x = irc.tensor(_input(name, dtype), requires_grad=True)
        y = CASES[name][0](x)
        _loss(name)(x).backward()
        _check(name, dtype, y.numpy(), x.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_grad_matches_torch(name, dtype):
    with irc.set_eager_mode("interpret"):  # irc.grad's gradient function run by the hl reference
        _check(name, dtype, None, irc.grad(_loss(name))(_input(name, dtype)).numpy())


@pytest.mark.parametrize("name", CASES)
def test_jit_matches_torch(name):
    x = irc.tensor(_input(name, np.float32))
    forward = irc.jit(CASES[name][0], target="llvm")
    grad = irc.jit(irc.grad(_loss(name)), target="llvm")
    _check(name, np.float32, forward(x).numpy(), grad(x).numpy())
    stages = grad.lower(x).stages
    assert not any(f"hl.{op} " in stages["hl-opt"] for op in ("relu", "sigmoid", "rsqrt", "mean", "softmax"))


@pytest.mark.parametrize("mode", ["interpret", "compile"])
def test_mean_of_nothing_is_nan_with_a_zero_gradient(mode):
    with irc.set_eager_mode(mode):
        x = irc.tensor(np.zeros((0, 3), np.float32), requires_grad=True)
        y = x.mean()
        y.backward()
        assert np.isnan(y.item()) and x.grad.shape == (0, 3)
        z = irc.tensor(np.zeros((2, 0), np.float32), requires_grad=True)
        m = z.mean(1)
        m.sum().backward()
        assert np.isnan(m.numpy()).all() and m.shape == (2,) and z.grad.shape == (2, 0)


def test_second_derivative_of_sigmoid_matches_torch():
    x = np.array([-100.0, -2.0, 0.0, 0.5, 3.0, 100.0])
    d2 = irc.grad(lambda x: irc.grad(lambda x: x.sigmoid().sum())(x).sum())(x).numpy()
    t = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(torch.sigmoid(t).sum(), t, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(d2, t.grad.numpy(), rtol=1e-12, atol=1e-30)


def test_jvp_of_softmax_matches_torch():
    x, v = np.array([[-np.inf, 0.0, 1.0], [3.0, 3.0, 1.0]]), np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]])
    _, tangent = irc.jvp(lambda x: x.softmax(-1), (x,), (v,))
    _, want = torch.func.jvp(lambda t: t.softmax(-1), (torch.tensor(x),), (torch.tensor(v),))
    np.testing.assert_allclose(tangent.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)
