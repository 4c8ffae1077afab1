"""irc.optim steps equal PyTorch's on the same parameters and gradients; one realization per step."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.frontend import realize
from tests.helpers import training_step

torch = pytest.importorskip("torch")


def make_params(rng, shapes=((3, 4), (4,))):
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(3)]
    return values, grads


def run_both(irc_opt, torch_opt, values, grads, **kwargs):
    """Three steps with the given gradients in both frameworks; returns the final parameters."""
    ours = [nn.Parameter(v) for v in values]
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    a, b = irc_opt(ours, **kwargs), torch_opt(theirs, **kwargs)
    for step_grads in grads:
        for p, q, g in zip(ours, theirs, step_grads):
            p.grad, q.grad = irc.tensor(g), torch.from_numpy(g.copy())
        a.step(), b.step()
    return [p.numpy() for p in ours], [q.detach().numpy() for q in theirs], a, b


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.1),
        dict(lr=0.1, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
        dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
        dict(lr=0.1, maximize=True, weight_decay=0.1),
    ],
)
def test_sgd_matches_torch(kwargs, rng):
    values, grads = make_params(rng)
    ours, theirs, _, _ = run_both(optim.SGD, torch.optim.SGD, values, grads, **kwargs)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("Adam", dict(lr=0.01)),
        ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
        ("Adam", dict(lr=0.01, amsgrad=True)),
        ("AdamW", dict(lr=0.01)),
        ("AdamW", dict(lr=0.02, weight_decay=0.5, amsgrad=True)),
    ],
)
def test_adam_and_adamw_match_torch(name, kwargs, rng):
    values, grads = make_params(rng)
    ours, theirs, a, b = run_both(getattr(optim, name), getattr(torch.optim, name), values, grads, **kwargs)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    p0 = a.param_groups[0]["params"][0]
    q0 = b.param_groups[0]["params"][0]
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_allclose(a.state[p0][key].numpy(), b.state[q0][key].numpy(), rtol=1e-5, atol=1e-7)
    assert a.state[p0]["step"].item() == b.state[q0]["step"].item() == 3


def test_step_realizes_everything_with_one_cached_program(rng, monkeypatch):
    values, grads = make_params(rng)
    params = [nn.Parameter(v) for v in values]
    opt = optim.Adam(params, lr=0.01)
    calls = []
    original = realize.realize_all
    monkeypatch.setattr("irc.optim.optimizers.realize_all", lambda nodes: calls.append(len(nodes)) or original(nodes))
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = irc.tensor(g) * 1.0  # a lazy gradient, as backward() produces
        opt.step()
        assert all(p._node.value is not None and p.grad._node.value is not None for p in params)
        assert all(t._node.value is not None for s in opt.state.values() for t in s.values())
    assert calls == [len(params) * 5] * 3
    assert realize.cache_size() == 1  # every step has the same graph structure


def test_skips_parameters_without_grad_and_zero_grad(rng):
    a, b = nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.ones(2, np.float32))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.5)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[1]["lr"] == 1.0
    a.grad = irc.ones(2)
    opt.step()
    np.testing.assert_array_equal(a.numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    assert b.grad is None
    opt.zero_grad()
    assert a.grad is None
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)


def test_training_loop_matches_torch(rng):
    """Forward, backward and SGD-momentum steps of a small MLP track PyTorch step by step."""
    make = lambda m: m.Sequential(m.Linear(6, 16), m.Tanh(), m.Linear(16, 3))  # noqa: E731
    model, reference = make(nn), make(torch.nn)
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    losses = []
    for _ in range(5):
        opt.zero_grad(), ref_opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(irc.tensor(x)), irc.tensor(y))
        loss.backward()
        ref_loss = torch.nn.CrossEntropyLoss()(reference(torch.from_numpy(x)), torch.from_numpy(y))
        ref_loss.backward()
        opt.step(), ref_opt.step()
        np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-4)
        losses.append(loss.item())
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    assert losses[-1] < losses[0]


def test_step_with_closure_returns_realized_loss(rng):
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    opt = optim.Adam(model.parameters(), lr=0.05)
    x = irc.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = irc.tensor(rng.standard_normal((16, 1)).astype(np.float32))

    def closure():
        opt.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        return loss

    losses = []
    for _ in range(20):
        loss = opt.step(closure)
        assert loss._node.value is not None
        assert model[1].running_mean._node.value is not None  # running stats realized with the step
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert model[1].num_batches_tracked.item() == 20


def test_jit_training_step_equals_eager(rng, monkeypatch):
    """irc.jit of forward + backward + step (run by the hl reference) updates the model like eager steps.

    (No Dropout: a jit call draws its key after the trace drew one, so masks differ from eager.)
    """
    from irc.frontend import jit as jit_module
    from irc.interpreters.reference import run_hl

    monkeypatch.setattr(jit_module, "compile_cached", lambda module, target: lambda *a: run_hl(module, a))

    def make():
        irc.manual_seed(3)
        model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten())
        model.append(nn.Linear(12, 2))
        return model, training_step(model, optim.Adam(model.parameters(), lr=0.01))

    data = [(rng.standard_normal((5, 1, 4, 4)).astype(np.float32), rng.integers(0, 2, 5)) for _ in range(3)]
    states, losses = [], []
    for jit in (False, True):
        model, step = make()
        step = irc.jit(step) if jit else step
        losses.append([step(irc.tensor(x), irc.tensor(y)).item() for x, y in data])
        states.append({k: v.numpy() for k, v in model.state_dict().items()})
        assert all(p.is_leaf and p.requires_grad for p in model.parameters())
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    for name, value in states[0].items():
        np.testing.assert_allclose(states[1][name], value, rtol=1e-5, atol=1e-6, err_msg=name)
