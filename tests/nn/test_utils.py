"""nn.utils.clip_grad_norm_ / clip_grad_value_ against PyTorch, eagerly and inside irc.jit."""

import math

import numpy as np
import pytest

import irc
import irc.nn as nn
from irc.errors import FrontendError

torch = pytest.importorskip("torch")


def params_with_grads(rng, scale=1.0):
    shapes = [(3, 4), (4,), (2, 2)]
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [(rng.standard_normal(s) * scale).astype(np.float32) for s in shapes]
    ours, theirs = [nn.Parameter(v) for v in values], [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = irc.tensor(g), torch.from_numpy(g.copy())
    return ours, theirs


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, math.inf])
def test_clip_grad_norm_matches_torch(max_norm, norm_type, rng):
    ours, theirs = params_with_grads(rng)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-5)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_value_and_single_tensor(rng):
    ours, theirs = params_with_grads(rng, scale=2.0)
    assert nn.utils.clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    total = nn.utils.clip_grad_norm_(ours[0], 0.1)
    np.testing.assert_allclose(total.item(), torch.nn.utils.clip_grad_norm_(theirs[0], 0.1).item(), rtol=1e-5)
    assert nn.utils.clip_grad_norm_([nn.Parameter(np.ones(2, np.float32))], 1.0).item() == 0.0  # no gradients


def test_nonfinite_norm_is_an_error_when_asked(reference_jit):
    p = nn.Parameter(np.ones(2, np.float32))
    p.grad = irc.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(FrontendError, match="error_if_nonfinite needs the norm's value"):
        irc.jit(lambda x: nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True) + x)(irc.ones(()))


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, math.inf])
def test_get_total_norm_and_clip_grads_with_norm_match_torch(norm_type, rng):
    ours, theirs = params_with_grads(rng)
    total = nn.utils.get_total_norm([p.grad for p in ours], norm_type)
    expected = torch.nn.utils.get_total_norm([q.grad for q in theirs], norm_type)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-5)
    assert nn.utils.clip_grads_with_norm_(ours, 0.5, total) is None
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.5, expected)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert nn.utils.get_total_norm([]).item() == torch.nn.utils.get_total_norm([]).item() == 0.0


def test_get_total_norm_has_no_gradient_history_as_torchs(rng):
    values = [rng.standard_normal(s).astype(np.float32) for s in [(3, 2), (4,)]]
    ours, theirs = (
        [irc.tensor(v, requires_grad=True) for v in values],
        [torch.tensor(v, requires_grad=True) for v in values],
    )
    total, expected = nn.utils.get_total_norm(ours, 3.0), torch.nn.utils.get_total_norm(theirs, 3.0)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-5)
    assert not total.requires_grad and not expected.requires_grad


def test_parameters_to_vector_and_back_like_torch():
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2, bias=False))
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2, bias=False))
    model.load_state_dict(reference.state_dict())
    vec, ref_vec = (
        nn.utils.parameters_to_vector(model.parameters()),
        torch.nn.utils.parameters_to_vector(reference.parameters()),
    )
    np.testing.assert_array_equal(vec.numpy(), ref_vec.detach().numpy())
    (vec * vec).sum().backward()
    (ref_vec * ref_vec).sum().backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    new = np.arange(vec.shape[0], dtype=np.float32)
    nn.utils.vector_to_parameters(irc.tensor(new), model.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), reference.parameters())
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy(), err_msg=name)
        assert p.is_leaf and p.requires_grad
    for args, message in [((new, model.parameters()), "expected torch.Tensor, but got: numpy.ndarray")]:
        with pytest.raises(TypeError, match=message):
            nn.utils.vector_to_parameters(*args)
        with pytest.raises(TypeError, match=message):
            torch.nn.utils.vector_to_parameters(new, reference.parameters())
