"""Training through the real `llvm` pipeline: eager and irc.jit steps, checked against PyTorch and the reference."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.frontend import realize
from irc.interpreters.reference import run_hl
from tests.helpers import training_step


def small_cnn():
    irc.manual_seed(0)
    return nn.Sequential(
        # no conv bias: before BatchNorm its gradient is rounding noise, which Adam would amplify
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * 4 * 4, 3),
    )  # fmt: skip


def batches(steps, rng):
    """A learnable toy task: the class is which third of the image is brightest."""
    for _ in range(steps):
        y = rng.integers(0, 3, 16)
        x = rng.random((16, 1, 8, 8)).astype(np.float32) * 0.5
        for i, c in enumerate(y):
            x[i, 0, :, 3 * c : 3 * c + 2] += 1.0
        yield irc.tensor(x), irc.tensor(y)


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_cnn_training_loss_decreases(mode):
    model = small_cnn()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = training_step(model, opt)
    if mode == "jit":
        step = irc.jit(step)
    losses = [step(x, y).item() for x, y in batches(12, np.random.default_rng(0))]
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3]), losses
    assert model[1].num_batches_tracked.item() == 12
    assert all(p.is_leaf and p.requires_grad for p in model.parameters())


def test_eager_step_compiles_once_and_equals_the_reference(monkeypatch):
    """The same steps realized by llvm and by the hl numpy reference give the same parameters."""
    results = []
    for reference in (False, True):
        if reference:
            monkeypatch.setattr(realize, "_compiler", lambda module, target: lambda *a: run_hl(module, a))
        monkeypatch.setattr(realize, "_cache", {})
        model = small_cnn()
        opt = optim.Adam(model.parameters(), lr=0.01)
        step = training_step(model, opt)
        for x, y in batches(3, np.random.default_rng(1)):
            step(x, y)
        assert realize.cache_size() <= 2  # the first step's graph, then one for every later step
        results.append([t.numpy() for t in model.state_dict().values()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_mlp_step_matches_torch():
    torch = pytest.importorskip("torch")
    make = lambda m: m.Sequential(m.Linear(20, 32), m.ReLU(), m.Linear(32, 5))  # noqa: E731
    model, reference = make(nn), make(torch.nn)
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    step = irc.jit(training_step(model, opt))
    rng = np.random.default_rng(2)
    for _ in range(3):
        x, y = rng.standard_normal((8, 20)).astype(np.float32), rng.integers(0, 5, 8)
        loss = step(irc.tensor(x), irc.tensor(y))
        ref_opt.zero_grad()
        ref_loss = torch.nn.CrossEntropyLoss()(reference(torch.from_numpy(x)), torch.from_numpy(y))
        ref_loss.backward()
        ref_opt.step()
        np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-4)
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
