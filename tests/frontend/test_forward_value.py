"""backward() computes the loss's value on its way (the gradient function runs the forward pass):
a loss still unrealized and held by a tensor when the step is realized takes that value, so
`loss.item()` after `opt.step()` runs no forward pass of its own (one program per step, not two).
Oracle: the forward pass in numpy from the parameters as they were before the step."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.frontend import realize


def _numpy_loss(params, x, y) -> float:
    w1, b1, w2, b2 = params
    h = np.maximum(x @ w1.T + b1, 0)
    logits = (h @ w2.T + b2).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def _setup():
    realize.clear_cache()
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = rng.standard_normal((8, 16)).astype(np.float32)
    y = rng.integers(0, 4, 8)
    return model, opt, x, y


def _loss_and_oracle(model, x, y):
    """The loss of `model` (recorded, not realized) and its value by numpy from the parameters now."""
    expected = _numpy_loss([p.numpy().copy() for p in model.parameters()], x, y)
    return nn.CrossEntropyLoss()(model(irc.tensor(x)), irc.tensor(y)), expected


@pytest.mark.parametrize("mode", ["interpret", "compile"])
def test_loss_item_after_the_step_is_the_forward_value_without_a_program_of_its_own(mode):
    model, opt, x, y = _setup()
    loss_fn = nn.CrossEntropyLoss()
    with irc.set_eager_mode(mode):
        for _ in range(4):
            before = [p.numpy().copy() for p in model.parameters()]
            opt.zero_grad()
            loss = loss_fn(model(irc.tensor(x)), irc.tensor(y))
            loss.backward()
            opt.step()
            assert loss._node.value is not None  # realized with the step
            np.testing.assert_allclose(loss.item(), _numpy_loss(before, x, y), rtol=1e-5)
    # zero_grad, the step (forward, backward, update and the loss): one program, run 4 times
    assert [p.runs for p in realize._cache.values()] == [4]
    assert loss.requires_grad and loss.grad_fn is not None  # still the loss of the graph it came from


def test_a_loss_nobody_holds_is_no_output_of_the_step():
    model, opt, x, y = _setup()
    nn.CrossEntropyLoss()(model(irc.tensor(x)), irc.tensor(y)).backward()
    with irc.set_eager_mode("interpret"):
        opt.step()
    (program,) = realize._cache.values()
    outputs = program.module.ops.first.function_type.outputs.data
    # the 4 parameters, their momentum buffers and their .grad tensors; no scalar loss
    assert len(outputs) == 3 * 4
    assert all(t.get_shape() for t in outputs)


def test_loss_item_before_backward_runs_its_own_forward_and_keeps_its_value():
    model, opt, x, y = _setup()
    with irc.set_eager_mode("interpret"):
        loss, expected = _loss_and_oracle(model, x, y)
        first = loss.item()
        loss.backward()
        opt.step()
        assert loss.item() == first
    np.testing.assert_allclose(first, expected, rtol=1e-5)
    assert realize.cache_size() == 2  # the forward pass to the loss, then the step


def test_realizing_a_gradient_realizes_the_loss_with_it_and_a_second_backward_still_fails():
    model, opt, x, y = _setup()
    with irc.set_eager_mode("interpret"):
        loss, expected = _loss_and_oracle(model, x, y)
        loss.backward()
        model[0].weight.grad.numpy()
        assert loss._node.value is not None
        np.testing.assert_allclose(loss.item(), expected, rtol=1e-5)
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()


def test_a_seeded_backward_of_a_vector_gives_the_vector_and_its_gradient():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(5).astype(np.float32)
    g = rng.standard_normal(5).astype(np.float32)
    x = irc.tensor(a, requires_grad=True)
    with irc.set_eager_mode("interpret"):
        y = x * x
        y.backward(irc.tensor(g), retain_graph=True)
        np.testing.assert_allclose(x.grad.numpy(), 2 * a * g, rtol=1e-6)
        np.testing.assert_allclose(y.numpy(), a * a, rtol=1e-6)
        y.backward(irc.tensor(g))  # retained: a second pass accumulates
        np.testing.assert_allclose(x.grad.numpy(), 4 * a * g, rtol=1e-6)


def _ops(program) -> int:
    return sum(1 for _ in program.module.walk())


def test_a_closure_s_loss_is_computed_once_in_the_step():
    """opt.step(closure) realizes the loss with the update: from the gradient function's forward pass,
    not by a second forward pass inside the same program (the same program as loss.item() after
    opt.step() without a closure)."""
    model, opt, x, y = _setup()
    with irc.set_eager_mode("interpret"):
        for _ in range(2):
            opt.zero_grad()
            loss, expected = _loss_and_oracle(model, x, y)
            loss.backward()
            opt.step()
            np.testing.assert_allclose(loss.item(), expected, rtol=1e-5)
    (plain,) = realize._cache.values()

    model, opt, x, y = _setup()

    def closure():
        opt.zero_grad()
        loss, closure.expected = _loss_and_oracle(model, x, y)
        loss.backward()
        return loss

    with irc.set_eager_mode("interpret"):
        for _ in range(2):
            loss = opt.step(closure)
            assert loss._node.value is not None
            np.testing.assert_allclose(loss.item(), closure.expected, rtol=1e-5)
    (with_closure,) = realize._cache.values()
    assert _ops(with_closure) == _ops(plain)
