"""`detach()` shares its tensor's elements, as in PyTorch: an in-place op on the result changes the tensor
(`p.detach().mul_(0.9)`, the exponential moving average of weights), and the result follows the tensor's later
in-place updates. Before, detach() copied: such updates were silently lost. Each case against torch."""

import numpy as np
import pytest

import irc

torch = pytest.importorskip("torch")


def _linear(m, fill):
    layer = m.nn.Linear(3, 2)
    with m.no_grad():
        for k, p in enumerate(layer.parameters()):
            p.copy_(m.tensor(np.full(tuple(p.shape), fill + k, np.float32)))
    return layer


def in_place_on_detached(m):
    x = m.tensor([1.0, 2.0])
    x.detach().add_(1)
    return [x]


def parameter_scaled_through_detach(m):
    layer = _linear(m, 1.0)
    for p in layer.parameters():
        p.detach().mul_(0.5)
    return list(layer.parameters())


def ema_of_weights(m):
    model, ema = _linear(m, 1.0), _linear(m, 0.0)
    for _ in range(3):
        for e, p in zip(ema.parameters(), model.parameters()):
            e.detach().mul_(0.9).add_(p.detach(), alpha=0.1)
    return list(ema.parameters())


def detached_follows_later_updates(m):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    with m.no_grad():
        x.add_(10)
    return [d]


def new_leaf_from_detach(m):
    x = m.tensor([1.0, -2.0], requires_grad=True)
    z = (x * 3).detach().requires_grad_()
    (z * z).sum().backward()
    return [z.grad, x * 1]


def clamped_copy_of_an_output(m):
    x = m.tensor([1.0, -2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    d.clamp_(0, 1)  # torch changes y's storage too; irc keeps y (and its gradient) as it was
    y.sum().backward()
    return [d, x.grad]


def grad_through_an_update_of_a_detached_tensor(m):
    w = m.tensor([1.0, 1.0], requires_grad=True)
    d = m.tensor([5.0, 6.0]).detach()
    d.add_(w * 2)
    d.sum().backward()
    return [d, w.grad]


def indexed_write(m):
    x = m.tensor([[1.0, 2.0], [3.0, 4.0]])
    x.detach()[0, 1] = 9.0
    return [x]


CASES = [
    in_place_on_detached,
    parameter_scaled_through_detach,
    ema_of_weights,
    detached_follows_later_updates,
    new_leaf_from_detach,
    clamped_copy_of_an_output,
    grad_through_an_update_of_a_detached_tensor,
    indexed_write,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_detach_matches_torch(case):
    for got, want in zip(case(irc), case(torch), strict=True):
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)


def test_an_ema_update_through_detach_inside_jit():
    """The EMA step traced once and called three times gives torch's eager result."""
    want = ema_of_weights(torch)
    model, ema = _linear(irc, 1.0), _linear(irc, 0.0)

    @irc.jit
    def update():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.detach().mul_(0.9).add_(p.detach(), alpha=0.1)
        return ema.weight * 1

    for _ in range(3):
        update()
    for got, w in zip(ema.parameters(), want, strict=True):
        np.testing.assert_allclose(got.detach().numpy(), w.detach().numpy(), rtol=1e-6)
