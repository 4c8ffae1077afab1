"""F.softplus and nn.Softplus against PyTorch: values and gradients, eager (both tiers) and jit (llvm),
including where log(1 + exp(x)) would overflow (x = 100) or underflow (x = -100)."""

from __future__ import annotations

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F

torch = pytest.importorskip("torch")

X = np.array([-100.0, -20.5, -3.0, -0.5, 0.0, 0.25, 1.0, 4.0, 19.5, 20.0, 20.5, 100.0], dtype=np.float32)
ARGS = [{}, {"beta": 2.0}, {"beta": 0.5, "threshold": 3.0}]
#: sigmoid(-100) is 3.8e-44 in torch's f32 gradient, a subnormal that irc's compiled code may flush to 0
GRAD_ATOL = 1e-40


def _torch(x: np.ndarray, kwargs: dict) -> tuple[np.ndarray, np.ndarray]:
    """torch's softplus of x and the gradient of its weighted sum (weights 1..n, so each element counts)."""
    t = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.softplus(t, **kwargs)
    (y * torch.arange(1, x.size + 1, dtype=t.dtype)).sum().backward()
    return y.detach().numpy(), t.grad.numpy()


def _loss(x: irc.Tensor, kwargs: dict) -> irc.Tensor:
    return (F.softplus(x, **kwargs) * irc.arange(1, x.shape[0] + 1, dtype=x.dtype)).sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", ARGS, ids=["default", "beta", "beta_threshold"])
@pytest.mark.parametrize("mode", ["interpret", "compile"])
def test_eager_matches_torch(mode, kwargs, dtype):
    x = X.astype(dtype)
    want_y, want_dx = _torch(x, kwargs)
    with irc.set_eager_mode(mode):
        t = irc.tensor(x, requires_grad=True)
        y = F.softplus(t, **kwargs)
        _loss(t, kwargs).backward()
        assert y.dtype == want_y.dtype
        np.testing.assert_allclose(y.numpy(), want_y, rtol=1e-6)
        np.testing.assert_allclose(t.grad.numpy(), want_dx, rtol=1e-6, atol=GRAD_ATOL)
    assert np.isfinite(y.numpy()).all() and y.numpy()[-1] == 100.0 and y.numpy()[0] >= 0


@pytest.mark.parametrize("kwargs", ARGS, ids=["default", "beta", "beta_threshold"])
def test_jit_llvm_matches_torch(kwargs):
    want_y, want_dx = _torch(X, kwargs)
    forward = irc.jit(lambda x: F.softplus(x, **kwargs), target="llvm")
    grad = irc.jit(irc.grad(lambda x: _loss(x, kwargs)), target="llvm")
    np.testing.assert_allclose(forward(irc.tensor(X)).numpy(), want_y, rtol=1e-6)
    np.testing.assert_allclose(grad(irc.tensor(X)).numpy(), want_dx, rtol=1e-6, atol=GRAD_ATOL)
    assert "hl.softplus" in forward.lower(irc.tensor(X)).stages["hl"]


def test_module_matches_torch():
    module, reference = nn.Softplus(beta=2.0, threshold=5.0), torch.nn.Softplus(beta=2.0, threshold=5.0)
    np.testing.assert_allclose(module(irc.tensor(X)).numpy(), reference(torch.tensor(X)).numpy(), rtol=1e-6)
    assert repr(module) == repr(reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_op_itself_does_not_overflow(dtype):
    """Without the threshold, hl.softplus is log(1 + exp(x)) computed stably: 100 at x = 100, not inf."""
    x = np.array([-1000.0, -100.0, -1.0, 0.0, 1.0, 88.0, 100.0, 1000.0], dtype=dtype)
    no_threshold = irc.jit(lambda x: F.softplus(x, threshold=float("inf")), target="llvm")
    np.testing.assert_allclose(no_threshold(irc.tensor(x)).numpy(), np.logaddexp(0, x), rtol=1e-6)
    with irc.set_eager_mode("compile"):
        np.testing.assert_allclose(F.softplus(irc.tensor(x), threshold=float("inf")).numpy(), np.logaddexp(0, x))
