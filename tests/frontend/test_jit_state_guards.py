"""What a jitted function's trace bakes in, checked at every call (`irc.frontend.tracing.guard`): a module's
`train()`/`eval()`, a replaced parameter, `requires_grad_(False)`, `.grad` being None, a module's scalar
attributes and the scalar globals and closure variables the function names. Each was silently ignored
after the first call; each program is compared with the same calls in eager torch (or plain numpy)."""

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


class _Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.scale = 2.0

    def forward(self, x):
        return self.lin(x) * self.scale


@pytest.mark.parametrize("how", ["module", "closure"])
def test_a_module_s_scalar_attribute_changed_after_a_call_is_read(how):
    model = _Scaled()
    forward = irc.jit(model) if how == "module" else irc.jit(lambda x: model(x))
    first = forward(irc.tensor(X)).numpy()
    model.scale = 3.0
    np.testing.assert_allclose(forward(irc.tensor(X)).numpy(), first * 1.5, rtol=1e-6)
    assert forward.cache_size == 2
    forward(irc.tensor(X))
    assert forward.cache_size == 2  # unchanged since: no new trace


SHIFT = 1.0


def test_scalar_globals_and_closure_variables_changed_after_a_call_are_read():
    global SHIFT
    factor = 2.0

    @irc.jit
    def f(x):
        return x * factor + SHIFT

    x = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(f(x).numpy(), x * 2 + 1)
    factor, SHIFT = 5.0, -1.0
    try:
        np.testing.assert_array_equal(f(x).numpy(), x * 5 - 1)
    finally:
        SHIFT = 1.0
    assert f.cache_size == 2


def test_a_value_that_changes_every_call_traces_every_call_and_warns():
    count = 0

    @irc.jit
    def f(x):
        return x + count

    x = np.zeros(3, np.float32)
    with pytest.warns(RuntimeWarning, match="traced f 8 times for the same input shapes"):
        for count in range(8):  # noqa: B007 - f reads it
            np.testing.assert_array_equal(f(x).numpy(), x + count)
