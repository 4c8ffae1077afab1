"""Eager autograd with PyTorch semantics (the dynamic graph): oracles are analytic gradients."""

import numpy as np
import pytest

import irc


def test_backward_accumulates_until_zeroed(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    x = irc.tensor(a, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a, rtol=1e-6)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a + 3, rtol=1e-6)
    x.grad = None
    x.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones_like(a))


def test_leaves_non_leaves_and_grad_fn():
    x = irc.tensor([1.0, 2.0], requires_grad=True)
    c = irc.tensor([3.0, 4.0])
    y = x * c
    assert x.is_leaf and x.grad_fn is None and c.is_leaf and not c.requires_grad
    assert y.requires_grad and not y.is_leaf and repr(y.grad_fn) == "<MulBackward>"
    y.sum().backward()
    assert y.grad is None and c.grad is None  # only leaves that require grad get .grad
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_no_grad_stops_recording_and_decorator_form():
    x = irc.tensor([1.0, 2.0], requires_grad=True)
    with irc.no_grad():
        y = x * 2
        with irc.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad and irc.is_grad_enabled()

    @irc.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    with irc.set_grad_enabled(False):
        assert not (x + 1).requires_grad


def test_detach_cuts_the_gradient():
    x = irc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    (y.detach() * x).sum().backward()  # d/dx (c * x) with c = x*x held constant
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 4.0, 9.0])
    assert not y.detach().requires_grad


def test_non_scalar_backward_with_gradient_argument():
    x = irc.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.backward(gradient=irc.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0])


def test_retain_graph_and_freed_graph_error():
    x = irc.tensor([1.0, 2.0], requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    expected = 2 * (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_error_messages_pytorch_users_know():
    with pytest.raises(RuntimeError, match="does not require grad"):
        irc.tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (irc.tensor([1.0, 2.0], requires_grad=True) * 2).backward()
    with pytest.raises(RuntimeError, match="floating point"):
        irc.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="does not require grad"):
        irc.tensor([1, 2]).sum().backward()  # backward() on an integer tensor
    x = irc.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x.add_(1.0)


def test_in_place_update_under_no_grad_keeps_a_leaf():
    w = irc.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with irc.no_grad():
        w -= 0.5 * w.grad
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])
    w.grad = None
    (w + 1).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 1.0])


def test_jit_retraces_for_a_new_rank_instead_of_failing():
    f = irc.jit(lambda t: (t * 2).sum())
    assert f(np.ones((2, 3), np.float32)).item() == 12.0
    assert f(np.ones(5, np.float32)).item() == 10.0
    assert f(np.ones((2, 3), np.float32)).item() == 12.0
    assert f.cache_size == 2


def test_gradient_function_is_built_once_per_graph_structure(rng, monkeypatch):
    # an eager training loop records the same graph every step: its VJP is built once and
    # replayed on the new values; another structure (or another leaf set) gets its own
    import irc.frontend.autograd as autograd
    import irc.transforms.autodiff as autodiff

    monkeypatch.setattr(autograd, "_vjp_cache", {})  # no structure seen by an earlier test
    built = []
    real = autodiff.build_vjp
    monkeypatch.setattr(autodiff, "build_vjp", lambda *a, **k: built.append(1) or real(*a, **k))
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = irc.tensor(b, requires_grad=True)
    for values in (a, 2 * a, a - 1):
        w.grad = None
        x = irc.tensor(values)
        (x * w).tanh().sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), values * (1 - np.tanh(values * b) ** 2), rtol=1e-5, atol=1e-6)
    assert len(built) == 1
    x = irc.tensor(a, requires_grad=True)
    (x * w).tanh().sum().backward()  # same ops, but x now needs a gradient too
    np.testing.assert_allclose(x.grad.numpy(), b * (1 - np.tanh(a * b) ** 2), rtol=1e-5, atol=1e-6)
    (x * w).sin().sum().backward()  # another op
    assert len(built) == 3


def test_a_lazily_updated_parameter_does_not_replay_its_history():
    """pytorch/examples' regression loop: `p.data.add_(-0.1 * p.grad)`, read back only through the next
    loss. A tensor's value is kept once computed, so every step runs the same graph (was: each step's graph
    held all earlier steps, quadratic time)."""
    from irc.frontend import realize
    from irc.frontend.graph import topological_order

    torch = pytest.importorskip("torch")
    irc.manual_seed(0)
    fc = irc.nn.Linear(4, 1)
    sizes, torch_fc = [], torch.nn.Linear(4, 1)
    with torch.no_grad():
        torch_fc.weight.copy_(torch.from_numpy(fc.weight.detach().numpy()))
        torch_fc.bias.copy_(torch.from_numpy(fc.bias.detach().numpy()))
    realize._cache.clear()
    rng = np.random.default_rng(0)
    for _ in range(6):
        x, y = rng.standard_normal((8, 4), np.float32), rng.standard_normal((8, 1), np.float32)
        fc.zero_grad()
        torch_fc.zero_grad()
        out = irc.nn.functional.smooth_l1_loss(fc(irc.tensor(x)), irc.tensor(y))
        sizes.append(len(topological_order([out._node])))
        expected = torch.nn.functional.smooth_l1_loss(torch_fc(torch.from_numpy(x)), torch.from_numpy(y))
        np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-5)
        out.backward()
        expected.backward()
        for p, q in zip(fc.parameters(), torch_fc.parameters()):
            p.data.add_(-0.1 * p.grad)
            q.data.add_(-0.1 * q.grad)
    assert sizes[2:] == [sizes[1]] * 4, sizes  # the same graph every step after the first
    assert len(realize._cache) == 2
    np.testing.assert_allclose(fc.weight.detach().numpy(), torch_fc.weight.detach().numpy(), rtol=1e-5)


def test_zero_and_fill_keep_the_history_with_a_zero_gradient():
    """As torch: `y = x * 2; y.zero_()` still depends on x (its gradient is 0), so backward works."""
    torch = pytest.importorskip("torch")
    for fill in (lambda y: y.zero_(), lambda y: y.fill_(3.0)):
        grads = []
        for m in (torch, irc):
            x = m.tensor([1.0, -2.0, 3.0], requires_grad=True)
            y = x * 2
            fill(y)
            (y * y + x).sum().backward()
            grads.append(np.asarray(x.grad.numpy()))
        np.testing.assert_array_equal(grads[1], grads[0])
