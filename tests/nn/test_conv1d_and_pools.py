"""Conv1d / F.conv1d, the 1-d pools (MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d) and
AdaptiveMaxPool2d against PyTorch: values and gradients on the interpret tier (every option of conv1d that
conv2d has, unbatched inputs, indices), modules with torch's weights and reprs, and one small program compiled
through llvm. (Their errors are in test_conv_pool.py's table.)"""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
from tests.nn.test_layers import check_function

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
TF = torch.nn.functional

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 11)).astype(np.float32)  # (N, C, L)
X2 = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)

CONV = [
    ((6, 4, 3), dict()),
    ((6, 4, 3), dict(stride=2, padding=1)),
    ((6, 4, 4), dict(padding="same")),
    ((6, 4, 3), dict(padding="same", dilation=2)),
    ((6, 4, 3), dict(padding="valid", stride=(3,))),
    ((6, 2, 3), dict(groups=2, dilation=(2,), padding=(2,))),
    ((4, 1, 5), dict(groups=4, stride=2)),
]


@pytest.mark.parametrize("shape, kwargs", CONV, ids=[f"{s}-{k}" for s, k in CONV])
@pytest.mark.parametrize("batched", [True, False], ids=["NCL", "CL"])
def test_conv1d_matches_torch(shape, kwargs, batched):
    w = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    b = np.random.default_rng(2).standard_normal(shape[0]).astype(np.float32)
    check_function(lambda x, w, b: F.conv1d(x, w, b, **kwargs), lambda x, w, b: TF.conv1d(x, w, b, **kwargs),
                   X if batched else X[0], w, b, rtol=1e-4, atol=1e-5)  # fmt: skip


POOLS = [
    ("max_pool1d", dict(kernel_size=2)),
    ("max_pool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool1d", dict(kernel_size=3, stride=(1,), dilation=2)),
    ("avg_pool1d", dict(kernel_size=2)),
    ("avg_pool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool1d", dict(kernel_size=(3,), stride=2, padding=1, count_include_pad=False)),
    ("adaptive_avg_pool1d", dict(output_size=4)),
    ("adaptive_avg_pool1d", dict(output_size=(1,))),
    ("adaptive_max_pool1d", dict(output_size=4)),
    ("adaptive_max_pool1d", dict(output_size=11)),
]


@pytest.mark.parametrize("name, kwargs", POOLS, ids=[f"{n}-{k}" for n, k in POOLS])
@pytest.mark.parametrize("batched", [True, False], ids=["NCL", "CL"])
def test_pools_1d_match_torch(name, kwargs, batched):
    check_function(lambda x: getattr(F, name)(x, **kwargs), lambda x: getattr(TF, name)(x, **kwargs),
                   X if batched else X[0])  # fmt: skip


@pytest.mark.parametrize("size", [1, 3, (3, 4), (5, None), (7, 9), (4, 2)])
@pytest.mark.parametrize("batched", [True, False], ids=["NCHW", "CHW"])
def test_adaptive_max_pool2d_matches_torch(size, batched):
    x = X2 if batched else X2[0]
    check_function(lambda x: F.adaptive_max_pool2d(x, size), lambda x: TF.adaptive_max_pool2d(x, size), x)
    _, index = F.adaptive_max_pool2d(irc.tensor(x), size, return_indices=True)
    _, expected = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    assert index.dtype == np.int64
    np.testing.assert_array_equal(index.numpy(), expected.numpy())


def test_indices_of_the_1d_max_pools_match_torch():
    for ours, theirs in [
        (F.max_pool1d(irc.tensor(X), 3, 2, 1, return_indices=True), TF.max_pool1d(torch.tensor(X), 3, 2, 1, return_indices=True)),
        (F.adaptive_max_pool1d(irc.tensor(X), 4, True), TF.adaptive_max_pool1d(torch.tensor(X), 4, True)),
    ]:  # fmt: skip
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


def test_adaptive_max_pool2d_gives_a_tied_window_gradient_to_the_first_maximum_as_torch():
    x = np.zeros((1, 1, 5, 5), np.float32)  # every window is a tie
    check_function(lambda t: F.adaptive_max_pool2d(t, 3), lambda t: TF.adaptive_max_pool2d(t, 3), x)


MODULES = [
    lambda m: m.Conv1d(4, 6, 3),
    lambda m: m.Conv1d(4, 6, 3, stride=2, padding=1, bias=False),
    lambda m: m.Conv1d(4, 6, 4, padding="same", dilation=2),
    lambda m: m.Conv1d(4, 4, 3, padding="same", padding_mode="reflect", groups=2),
    lambda m: m.Conv1d(4, 6, 3, padding=2, padding_mode="circular"),
    lambda m: m.Conv1d(4, 6, 3, padding=1, padding_mode="replicate", stride=2),
    lambda m: m.MaxPool1d(2),
    lambda m: m.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True),
    lambda m: m.AvgPool1d(3, 2, 1),
    lambda m: m.AvgPool1d(3, ceil_mode=True, count_include_pad=False),
    lambda m: m.AdaptiveAvgPool1d(3),
    lambda m: m.AdaptiveMaxPool1d(5),
]


@pytest.mark.parametrize("make", MODULES)
def test_modules_match_torch_with_the_same_weights(make):
    module, reference = make(nn), make(torch.nn)
    assert repr(module) == repr(reference)
    assert list(module.state_dict()) == list(reference.state_dict())
    module.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    check_function(module, reference, X, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size, indices", [(3, False), ((2, None), True)])
def test_adaptive_max_pool2d_module(size, indices):
    module, reference = nn.AdaptiveMaxPool2d(size, indices), torch.nn.AdaptiveMaxPool2d(size, indices)
    assert repr(module) == repr(reference)
    out, expected = module(irc.tensor(X2)), reference(torch.tensor(X2))
    for ours, theirs in zip(out, expected) if indices else [(out, expected)]:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_conv1d_init_follows_torch():
    module = nn.Conv1d(4, 6, 3, groups=2)
    assert module.weight.shape == (6, 2, 3) and module.bias.shape == (6,)
    bound = 1 / np.sqrt(2 * 3)  # fan_in = in_channels / groups * k
    assert np.abs(module.weight.numpy()).max() <= bound and np.abs(module.bias.numpy()).max() <= bound


def test_a_small_program_through_llvm():
    """conv1d, max_pool1d, avg_pool1d and a non-dividing adaptive_max_pool2d with their gradients, compiled."""

    def loss(f, x, w, x2):
        y = f.max_pool1d(f.conv1d(x, w, padding=1), 2) + f.avg_pool1d(x[:, :3], 3, 2, 1)[..., :5]
        return (y * y).sum() + (f.adaptive_max_pool2d(x2, (3, 4)) ** 2).sum()

    w = np.random.default_rng(1).standard_normal((3, 4, 3)).astype(np.float32)
    grads = irc.jit(irc.value_and_grad(lambda *a: loss(F, *a), argnums=(0, 1, 2)), target="llvm")
    value, got = grads(X, w, X2)
    args = [torch.tensor(a, requires_grad=True) for a in (X, w, X2)]
    want = loss(TF, *args)
    want.backward()
    np.testing.assert_allclose(value.item(), want.item(), rtol=1e-5)
    for ours, arg in zip(got, args):
        np.testing.assert_allclose(ours.numpy(), arg.grad.numpy(), rtol=1e-4, atol=1e-4)
