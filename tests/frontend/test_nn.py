"""irc.nn modules against PyTorch (the oracle) with copied weights; registration, state_dict, init."""

import math

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F

torch = pytest.importorskip("torch")

needs_backward = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("irc.frontend.transforms"),
    reason="backward() needs irc.frontend.transforms (not landed yet)",
)


def copy_weights(module: nn.Module, reference) -> None:
    """Load a torch module's state_dict (as numpy) into the irc module."""
    module.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})


def check_forward(module, reference, x: np.ndarray, rtol=1e-5, atol=1e-5):
    copy_weights(module, reference)
    out = module(irc.tensor(x))
    expected = reference(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.Linear(5, 3),
        lambda m: m.Linear(5, 3, bias=False),
        lambda m: m.Sequential(m.Linear(5, 7), m.ReLU(), m.Linear(7, 2), m.Sigmoid()),
        lambda m: m.Sequential(m.Tanh(), m.Softmax(dim=1)),
        lambda m: m.LogSoftmax(dim=-1),
    ],
)
def test_dense_modules_match_torch(make, rng):
    check_forward(make(nn), make(torch.nn), rng.standard_normal((4, 5)).astype(np.float32))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=3, out_channels=4, kernel_size=3),
        dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=2, padding=1, bias=False),
        dict(in_channels=4, out_channels=6, kernel_size=3, padding=2, dilation=2, groups=2),
        dict(in_channels=4, out_channels=4, kernel_size=3, stride=(1, 2), padding=(1, 0), groups=4),
    ],
)
def test_conv2d_matches_torch(kwargs, rng):
    x = rng.standard_normal((2, kwargs["in_channels"], 7, 8)).astype(np.float32)
    check_forward(nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs), x, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "make", [lambda m: m.MaxPool2d(2), lambda m: m.MaxPool2d(3, stride=2, padding=1), lambda m: m.AvgPool2d(2, 1, 1)]
)
def test_pooling_and_flatten_match_torch(make, rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    check_forward(nn.Sequential(make(nn), nn.Flatten()), torch.nn.Sequential(make(torch.nn), torch.nn.Flatten()), x)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda m: m.BatchNorm2d(3), (4, 3, 5, 5)),
        (lambda m: m.BatchNorm1d(3, momentum=0.3, eps=1e-3), (6, 3)),
        (lambda m: m.BatchNorm1d(3, affine=False), (4, 3, 5)),
        (lambda m: m.BatchNorm2d(3, momentum=None), (4, 3, 2, 2)),
    ],
)
def test_batch_norm_train_eval_and_running_stats_match_torch(make, shape, rng):
    module, reference = make(nn), make(torch.nn)
    if module.affine:
        reference.weight.data.uniform_(0.5, 1.5)
        reference.bias.data.uniform_(-0.5, 0.5)
    copy_weights(module, reference)
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        out = module(irc.tensor(x))
        np.testing.assert_allclose(out.numpy(), reference(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    for name, buffer in reference.named_buffers():
        np.testing.assert_allclose(getattr(module, name).numpy(), buffer.numpy(), rtol=1e-5, err_msg=name)
    module.eval(), reference.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(
        module(irc.tensor(x)).numpy(), reference(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5
    )
    assert module.num_batches_tracked.item() == 3


def test_cumulative_batch_norm_running_stats_are_exact_in_float64(rng):
    """momentum=None: the factor 1 / num_batches_tracked in float64 (not float32), as torch's Python float."""
    module, reference = nn.BatchNorm2d(3, momentum=None).double(), torch.nn.BatchNorm2d(3, momentum=None).double()
    for step in range(3):
        x = rng.standard_normal((2, 3, 7, 6)) * 5 + step
        module(irc.tensor(x)), reference(torch.from_numpy(x))
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(module, name).numpy(), getattr(reference, name).numpy(), rtol=1e-14)


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval(rng):
    x = rng.standard_normal((5, 2, 3, 3)).astype(np.float32)
    module, reference = (
        nn.BatchNorm2d(2, track_running_stats=False).eval(),
        torch.nn.BatchNorm2d(2, track_running_stats=False).eval(),
    )
    check_forward(module, reference, x, rtol=1e-4)
    assert list(module.state_dict()) == ["weight", "bias"]


def test_batch_norm_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected 4D input .* got shape \[2, 3\]"):
        nn.BatchNorm2d(3)(irc.ones(2, 3))


def test_losses_match_torch(rng):
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 6)
    target = rng.standard_normal((6, 4)).astype(np.float32)
    for reduction in ("mean", "sum", "none"):
        got = nn.CrossEntropyLoss(reduction=reduction)(irc.tensor(logits), irc.tensor(labels)).numpy()
        want = torch.nn.CrossEntropyLoss(reduction=reduction)(torch.from_numpy(logits), torch.from_numpy(labels))
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)
        got = nn.MSELoss(reduction=reduction)(irc.tensor(logits), irc.tensor(target)).numpy()
        want = torch.nn.MSELoss(reduction=reduction)(torch.from_numpy(logits), torch.from_numpy(target))
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ dropout


def test_dropout_eval_is_identity_and_p_zero_is_identity(rng):
    x = irc.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    assert nn.Dropout(0.5).eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros((3, 4), np.float32))


def test_dropout_mask_statistics_and_scaling():
    irc.manual_seed(0)
    x = irc.ones(200, 500)
    out = nn.Dropout(0.3)(x).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    # rows and columns are independent (no striping from the counter-based generator)
    assert np.abs(kept.mean(axis=1) - 0.7).max() < 0.15 and np.abs(kept.mean(axis=0) - 0.7).max() < 0.15


def test_dropout_same_seed_same_mask_new_call_new_mask():
    x = irc.ones(64, 64)
    irc.manual_seed(7)
    first, second = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    irc.manual_seed(7)
    again = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert (first != second).any()


def test_dropout_key_is_a_marked_data_leaf():
    from irc.frontend.graph import topological_order

    out = F.dropout(irc.ones(4, 4), 0.5)
    (key,) = [n for n in topological_order([out._node]) if n.feed is not None]
    assert key.value is not None and key.value.dtype == np.int64 and key.shape == ()
    assert key.feed().dtype == np.int64 and key.feed() != key.feed()  # irc.jit feeds a fresh key per call


# ------------------------------------------------------- module machinery


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.head = nn.Linear(8, 3)
        self.register_buffer("scale", irc.ones(3))
        self.register_buffer("cache", irc.zeros(1), persistent=False)

    def forward(self, x):
        return self.head(self.features(x).flatten(1)) * self.scale


def test_registration_and_traversal():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias", "head.weight", "head.bias",
    ]  # fmt: skip
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == [
        "scale", "cache", "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
    ]  # fmt: skip
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear"]
    assert len(list(net.modules())) == 6
    assert "cache" not in net.state_dict() and "scale" in net.state_dict()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        net.head.weight = irc.ones(3, 8)
    net.head.bias = None
    assert "head.bias" not in dict(net.named_parameters())


def test_repr_like_torch():
    model = nn.Sequential(nn.Linear(4, 2), nn.ReLU())
    assert repr(model) == repr(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU()))
    assert repr(nn.Conv2d(2, 4, 3, padding=1, groups=2, bias=False)) == repr(
        torch.nn.Conv2d(2, 4, 3, padding=1, groups=2, bias=False)
    )
    for make in (lambda m: m.BatchNorm1d(3), lambda m: m.BatchNorm2d(3, bias=False), lambda m: m.MaxPool2d(2)):
        assert repr(make(nn)) == repr(make(torch.nn))
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    assert list(nn.BatchNorm2d(3, bias=False).state_dict()) == list(torch.nn.BatchNorm2d(3, bias=False).state_dict())


def test_state_dict_round_trip(rng):
    irc.manual_seed(1)
    a = Net()
    irc.manual_seed(2)
    b = Net()
    x = irc.tensor(rng.standard_normal((2, 1, 4, 4)).astype(np.float32))
    a(x)  # updates a's running statistics
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=name)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    assert all(p.requires_grad and p.is_leaf for p in b.parameters())


def test_load_state_dict_errors_name_the_keys():
    net = Net()
    state = net.state_dict()
    del state["head.bias"]
    state["head.extra"] = irc.zeros(1)
    state["head.weight"] = irc.zeros(3, 9)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(state)
    message = str(err.value)
    assert 'Missing key(s) in state_dict: "head.bias"' in message
    assert 'Unexpected key(s) in state_dict: "head.extra"' in message
    assert "size mismatch for head.weight: copying a param with shape [3, 9] from checkpoint, " in message
    assert "the shape in current model is [3, 8]" in message
    del state["head.weight"]
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.weight", "head.bias"] and result.unexpected_keys == ["head.extra"]


def test_default_init_matches_torch_distribution():
    irc.manual_seed(0)
    layer = nn.Linear(400, 300)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) too
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 1e-3
    conv = nn.Conv2d(4, 8, 3, groups=2)
    assert conv.weight.shape == (8, 2, 3, 3) and np.abs(conv.weight.numpy()).max() <= 1 / math.sqrt(18)
    irc.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.numpy(), w)


def test_init_functions():
    irc.manual_seed(0)
    w = nn.Parameter(np.zeros((200, 100), np.float32))
    assert nn.init.kaiming_uniform_(w) is w and w.requires_grad and w.is_leaf
    assert np.abs(w.numpy()).max() <= math.sqrt(2) * math.sqrt(3 / 100)  # a=0: plain ReLU gain
    nn.init.xavier_uniform_(w, gain=2.0)
    assert np.abs(w.numpy()).max() <= 2 * math.sqrt(6 / 300)
    nn.init.normal_(w, 1.0, 0.5)
    assert abs(w.numpy().mean() - 1) < 0.02 and abs(w.numpy().std() - 0.5) < 0.02
    nn.init.uniform_(w, -2, 3)
    assert w.numpy().min() >= -2 and w.numpy().max() < 3
    nn.init.constant_(w, 0.25)
    assert (w.numpy() == 0.25).all()
    assert nn.init.zeros_(w).numpy().sum() == 0 and nn.init.ones_(w).numpy().sum() == 200 * 100
    assert nn.init.calculate_gain("relu") == torch.nn.init.calculate_gain("relu")
    assert nn.init.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain("leaky_relu", 0.2)


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (8, 4, 3, 3), (5, 5)])
def test_orthogonal_init_gives_orthonormal_rows_or_columns(shape):
    """As torch.nn.init.orthogonal_ (super_resolution's init): flattened to (rows, rest), W W^T = gain^2 I
    where rows are fewer, W^T W = gain^2 I otherwise; reproducible under irc.manual_seed."""
    w = nn.Parameter(np.zeros(shape, np.float32))
    irc.manual_seed(3)
    assert nn.init.orthogonal_(w, gain=1.5) is w and w.is_leaf and w.requires_grad
    flat = w.numpy().reshape(shape[0], -1).astype(np.float64)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 2.25 * np.eye(len(gram)), atol=1e-5)
    first = w.numpy().copy()
    irc.manual_seed(3)
    np.testing.assert_array_equal(nn.init.orthogonal_(w, gain=1.5).numpy(), first)
    with pytest.raises(ValueError, match=r"2 or more dimensions, got shape \[4\]"):
        nn.init.orthogonal_(nn.Parameter(np.zeros(4, np.float32)))


# ------------------------------------------------------------- gradients


@needs_backward
def test_parameter_gradients_match_torch_autograd(rng):
    make = lambda m: m.Sequential(  # noqa: E731
        m.Conv2d(2, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.AvgPool2d(2), m.Flatten(), m.Linear(16, 3)
    )
    module, reference = make(nn), make(torch.nn)
    copy_weights(module, reference)
    x = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
    y = rng.integers(0, 3, 3)
    nn.CrossEntropyLoss()(module(irc.tensor(x)), irc.tensor(y)).backward()
    torch.nn.CrossEntropyLoss()(reference(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    for (name, p), q in zip(module.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
