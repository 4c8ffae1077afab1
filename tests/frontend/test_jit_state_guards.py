"""What a jitted function's trace bakes in, checked at every call (`irc.frontend.tracing.guard`): a module's
`train()`/`eval()`, a replaced parameter, `requires_grad_(False)` and `.grad` being None. Each was silently
ignored after the first call; each program is compared with the same calls in eager torch."""

from __future__ import annotations

import numpy as np
import pytest

import irc
from irc import nn

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _interpret():
    with irc.set_eager_mode("interpret"):
        yield


def _mlp(T, seed=0):
    rng = np.random.default_rng(seed)
    model = T.nn.Sequential(T.nn.Linear(4, 8), T.nn.BatchNorm1d(8), T.nn.ReLU(), T.nn.Linear(8, 3))
    with T.no_grad():
        for p in model.parameters():
            p.copy_(T.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.5))
    return model


X = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)


def test_eval_and_train_after_the_first_call():
    """BatchNorm in eval mode uses (and keeps) its running statistics; the jitted forward follows `eval()`."""

    def run(T, wrap):
        model = _mlp(T)
        forward = wrap(lambda x: model(x))
        outs = [forward(T.tensor(X))]
        model.eval()
        outs.append(forward(T.tensor(X)))
        model.train()
        outs.append(forward(T.tensor(X)))
        return [np.array(o.detach().numpy()) for o in outs] + [np.array(model[1].running_mean.numpy())]

    expected = run(torch, lambda f: f)
    for got, want in zip(run(irc, irc.jit), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dropout_follows_eval():
    d = nn.Dropout(0.5)
    f = irc.jit(lambda x: d(x))
    f(irc.ones(64))
    d.eval()
    np.testing.assert_array_equal(f(irc.ones(64)).numpy(), np.ones(64))
    d.train()
    assert (f(irc.ones(64)).numpy() == 0).any()


def test_a_frozen_layer_stays_frozen():
    def run(T, wrap):
        model = _mlp(T)
        opt = T.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()

        step = wrap(step)
        step(T.tensor(X))
        model[0].weight.requires_grad_(False)  # freeze the first layer
        step(T.tensor(X))
        return [np.array(p.detach().numpy()) for p in model.parameters()] + [model[0].weight.grad is None]

    expected = run(torch, lambda f: f)
    got = run(irc, irc.jit)
    assert got[-1] == expected[-1]
    for g, e in zip(got[:-1], expected[:-1]):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_a_replaced_parameter_is_read():
    def run(T, wrap):
        model = _mlp(T)
        forward = wrap(lambda x: model(x))
        first = np.array(forward(T.tensor(X)).detach().numpy())
        model[3].weight = T.nn.Parameter(T.ones(3, 8))
        return first, np.array(forward(T.tensor(X)).detach().numpy())

    for g, e in zip(run(irc, irc.jit), run(torch, lambda f: f)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_unchanged_state_does_not_trace_again():
    model = _mlp(irc)
    opt = irc.optim.SGD(model.parameters(), lr=0.1)

    @irc.jit
    def step(x):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()

    for _ in range(3):
        step(irc.tensor(X))
    assert step.cache_size == 1
