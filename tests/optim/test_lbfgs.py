"""LBFGS takes PyTorch's steps: the same losses and parameters after several `step(closure)` calls, with
fixed-length steps and with the strong-Wolfe line search, and its argument errors."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim

torch = pytest.importorskip("torch")


def _problem(framework, seed=0, dtype=np.float32):
    """A small regression model (Linear, tanh, Linear) on fixed data, and its closure's parts."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 3)).astype(dtype)
    y = np.sin(x.sum(1, keepdims=True)).astype(dtype)
    w1, b1 = rng.standard_normal((5, 3)).astype(dtype) * 0.5, np.zeros(5, dtype)
    w2, b2 = rng.standard_normal((1, 5)).astype(dtype) * 0.5, np.full(1, 0.1, dtype)
    params = [framework.nn.Parameter(framework.tensor(v)) for v in (w1, b1, w2, b2)]

    def loss_of():
        h = framework.tanh(framework.tensor(x) @ params[0].T + params[1])
        return ((h @ params[2].T + params[3] - framework.tensor(y)) ** 2).mean()

    return params, loss_of


def _run(framework, steps, dtype=np.float32, **kwargs):
    params, loss_of = _problem(framework, dtype=dtype)
    opt = framework.optim.LBFGS(params, **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    state = opt.state[params[0]]
    return losses, [p.detach().numpy().copy() for p in params], state["func_evals"], state["n_iter"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.5, max_iter=5),
        dict(lr=1, max_iter=8, history_size=3),
        dict(lr=1, max_iter=10, line_search_fn="strong_wolfe"),
        dict(lr=0.8, max_iter=4, history_size=2, line_search_fn="strong_wolfe", tolerance_change=1e-7),
    ],
    ids=["fixed", "short-history", "strong-wolfe", "strong-wolfe-short"],
)
def test_lbfgs_steps_like_torch(kwargs):
    # float64: LBFGS's line search and curvature pairs magnify float32 rounding (the order of a sum, a
    # BLAS kernel of another CPU) to 2.5e-4 of the loss in three steps, whoever computes it
    ours = _run(irc, 3, np.float64, **kwargs)
    theirs = _run(torch, 3, np.float64, **kwargs)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-12)
    for mine, want in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(mine, want, rtol=1e-9, atol=1e-12)
    assert ours[2:] == theirs[2:]  # the same number of closure calls and iterations
    assert ours[0][-1] < ours[0][0] / 2  # and it optimizes


def test_lbfgs_in_float32_steps_like_torch():
    ours, theirs = _run(irc, 3, lr=0.5, max_iter=5), _run(torch, 3, lr=0.5, max_iter=5)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4, atol=1e-6)
    for mine, want in zip(ours[1], theirs[1]):
        assert mine.dtype == np.float32
        np.testing.assert_allclose(mine, want, rtol=1e-4, atol=5e-5)


def test_lbfgs_stops_at_once_where_the_gradient_is_zero():
    p = nn.Parameter(irc.zeros(3))
    opt = optim.LBFGS([p])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0 and len(calls) == 1
    assert p.tolist() == [0.0, 0.0, 0.0]


def test_lbfgs_errors_name_the_problem():
    p = nn.Parameter(irc.ones(2))
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [nn.Parameter(irc.ones(1))]}])
    with pytest.raises(RuntimeError, match="needs a closure"):
        optim.LBFGS([p]).step(None)
