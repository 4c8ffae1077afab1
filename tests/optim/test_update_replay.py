"""Eager steps of the built-in optimizers replay each parameter's update from the ops recorded at its
first step (`irc.optim.optimizers._update_replayed`). Oracle: the same steps with every update
recorded through `update` itself (the replay turned off), which must give bit-identical parameters
and state, on the interpreter (numpy, op for op)."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.frontend import realize
from irc.optim import optimizers

OPTIMIZERS = {
    "sgd-nesterov-wd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "sgd-dampening-maximize": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.3, maximize=True),
    "adam-amsgrad": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2),
    "rmsprop-centered-momentum": lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=1e-1, lr_decay=1e-2),
    "adadelta": lambda ps: optim.Adadelta(ps, weight_decay=1e-2),
}


def _train(make_opt, steps: int = 4, lrs=None):
    """Parameters and optimizer state after `steps` eager steps of a small MLP (two groups)."""
    rng = np.random.default_rng(0)
    irc.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = make_opt([{"params": model[0].parameters()}, {"params": model[2].parameters()}])
    x = irc.tensor(rng.standard_normal((5, 6)).astype(np.float32))
    y = irc.tensor(rng.integers(0, 3, 5))
    with irc.set_eager_mode("interpret"):
        for step in range(steps):
            if lrs is not None:
                opt.param_groups[1]["lr"] = lrs[step]
            opt.zero_grad()
            nn.CrossEntropyLoss()(model(x), y).backward()
            opt.step()
    params = [p.numpy().copy() for p in model.parameters()]
    state = [t.numpy().copy() for s in opt.state.values() for t in s.values() if isinstance(t, irc.Tensor)]
    return params, state


def _recorded(make_opt, monkeypatch, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(optimizers, "_UPDATES", {})
        return _train(make_opt, **kwargs)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_replayed_updates_equal_recorded_ones(name, monkeypatch):
    optimizers._update_plans.clear()
    realize.clear_cache()
    replayed = _train(OPTIMIZERS[name])
    assert optimizers._update_plans and all(optimizers._update_plans.values())
    # the first step replays too: one program for every step
    assert [p.runs for p in realize._cache.values()] == [4]
    recorded = _recorded(OPTIMIZERS[name], monkeypatch)
    for got, want in zip([*replayed[0], *replayed[1]], [*recorded[0], *recorded[1]], strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_new_learning_rate_reaches_a_replayed_update(monkeypatch):
    make = OPTIMIZERS["adamw"]
    lrs = [1e-2, 1e-1, 0.0, 3e-2]
    replayed = _train(make, lrs=lrs)
    recorded = _recorded(make, monkeypatch, lrs=lrs)
    for got, want in zip(replayed[0], recorded[0], strict=True):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(replayed[0][2], _train(make)[0][2])  # the second group's lr did change it


def test_a_subclass_with_its_own_update_runs_it_every_step():
    class Halving(optim.SGD):
        calls = 0

        def update(self, param, grad, state, group, hyper):
            Halving.calls += 1
            param._assign(param - grad * hyper("lr", param) * 0.5)

    model = nn.Linear(3, 2)
    opt = Halving(model.parameters(), lr=0.1)
    before = model.weight.numpy().copy()
    with irc.set_eager_mode("interpret"):
        for _ in range(3):
            opt.zero_grad()
            model(irc.ones(4, 3)).sum().backward()
            opt.step()
    assert Halving.calls == 3 * 2  # weight and bias, every step
    grad = np.ones((2, 3), np.float32) * 4  # d(sum of x @ W^T)/dW for 4 rows of ones
    np.testing.assert_allclose(model.weight.numpy(), before - 3 * 0.05 * grad, rtol=1e-6)
