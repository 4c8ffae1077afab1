"""irc/nn/layers_more.py and the functional block it uses against torch on the same weights: InstanceNorm,
GroupNorm, padding modules, channel dropout, pixel (un)shuffle, the extra activations and distances (forward,
gradients of input and parameters, keywords, train/eval, state_dict keys, reprs, errors); the legacy typed
constructors; one llvm-compiled function using several of them."""

import re

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
from irc.errors import FrontendError
from tests.nn.test_layers import check_function

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def paired(name: str, *args, **kwargs):
    """The irc and torch modules of `name`, the irc one holding torch's (randomized) parameters and buffers."""
    torch.manual_seed(0)
    reference = getattr(torch.nn, name)(*args, **kwargs)
    with torch.no_grad():
        for i, p in enumerate(reference.parameters()):
            p.copy_(torch.from_numpy(randn(*p.shape, seed=100 + i)))
        if getattr(reference, "running_var", None) is not None:
            reference.running_mean.copy_(torch.from_numpy(randn(*reference.running_mean.shape, seed=7)))
            reference.running_var.copy_(torch.from_numpy(np.abs(randn(*reference.running_var.shape, seed=8)) + 0.5))
    module = getattr(nn, name)(*args, **kwargs)
    assert list(module.state_dict()) == list(reference.state_dict())
    assert repr(module) == repr(reference)
    module.load_state_dict(reference.state_dict())
    return module, reference


def check(module, reference, *arrays, rtol=1e-5, atol=1e-5):
    """Same forward result; same gradients (of a random weighting of it) for the inputs and every parameter."""
    ours = [irc.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    got, expected = module(*ours), reference(*theirs)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
    seed = randn(*expected.shape, seed=99)
    (got * irc.tensor(seed)).sum().backward()
    (expected * torch.from_numpy(seed)).sum().backward()
    for i, (o, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i}")
    params = dict(reference.named_parameters())
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), params[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


MODULES = [
    ("InstanceNorm1d", (3,), {}, (2, 3, 5)),
    ("InstanceNorm1d", (3,), {"affine": True, "eps": 1e-3}, (3, 5)),  # unbatched
    ("InstanceNorm2d", (3,), {"affine": True}, (2, 3, 4, 5)),
    ("InstanceNorm2d", (3,), {"affine": True, "bias": False}, (3, 4, 4)),
    ("InstanceNorm2d", (3,), {"track_running_stats": True, "affine": True}, (2, 3, 4, 4)),
    ("GroupNorm", (2, 4), {}, (2, 4, 3, 3)),
    ("GroupNorm", (3, 6), {"eps": 1e-2, "affine": False}, (2, 6, 5)),
    ("GroupNorm", (1, 4), {"bias": False}, (3, 4)),
    ("ReflectionPad1d", (2,), {}, (2, 3, 5)),
    ("ReflectionPad2d", ((1, 2, 0, 3),), {}, (1, 2, 4, 5)),
    ("ReplicationPad1d", ((3, 1),), {}, (3, 4)),
    ("ReplicationPad2d", (2,), {}, (1, 2, 3, 3)),
    ("ZeroPad1d", (1,), {}, (2, 3)),
    ("ZeroPad2d", ((1, 0, 2, -1),), {}, (1, 2, 3, 3)),
    ("ConstantPad1d", ((2, 1), 3.5), {}, (2, 3, 2)),
    ("ConstantPad2d", (1,), {"value": -1.0}, (1, 3, 3)),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 2)),
    ("PixelShuffle", (3,), {}, (9, 2, 2)),
    ("PixelUnshuffle", (2,), {}, (1, 2, 3, 4, 6)),
    ("ReLU6", (), {}, (3, 8)),
    ("Hardtanh", (-0.5, 2), {}, (3, 8)),
    ("Hardtanh", (), {"min_val": -2.0}, (3, 8)),
    ("Hardsigmoid", (), {}, (3, 8)),
    ("Hardswish", (), {}, (3, 8)),
    ("Mish", (), {}, (3, 8)),
    ("PReLU", (), {}, (2, 3, 4)),
    ("PReLU", (3,), {"init": 0.1}, (2, 3, 4)),
    ("Softsign", (), {}, (3, 8)),
    ("Tanhshrink", (), {}, (3, 8)),
    ("Threshold", (0.1, 20.0), {}, (3, 8)),
    ("Softmin", (1,), {}, (3, 8)),
    ("LogSigmoid", (), {}, (3, 8)),
    ("CELU", (0.5,), {}, (3, 8)),
    ("SELU", (), {}, (3, 8)),
    ("GLU", (), {}, (3, 8)),
    ("GLU", (0,), {}, (4, 3)),
    ("Softshrink", (), {}, (3, 8)),
    ("Softshrink", (1.5,), {}, (3, 8)),
    ("Hardshrink", (), {}, (3, 8)),
    ("Hardshrink", (2.0,), {}, (3, 8)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", MODULES, ids=lambda v: str(v) if isinstance(v, str) else None)
@pytest.mark.parametrize("train", [True, False])
def test_module_matches_torch(name, args, kwargs, shape, train):
    module, reference = paired(name, *args, **kwargs)
    module.train(train)
    reference.train(train)
    x = randn(*shape, seed=1) * 3  # the activations' kinks (hardtanh, relu6, hardsigmoid) are reached
    check(module, reference, x)
    for key, value in reference.state_dict().items():  # running statistics moved as torch's (or stayed)
        np.testing.assert_allclose(module.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


def test_instance_norm_running_stats_then_eval():
    module, reference = paired("InstanceNorm2d", 3, track_running_stats=True, momentum=0.3)
    for seed in (1, 2):
        x = randn(2, 3, 4, 4, seed=seed) * 2 + 1
        module(irc.tensor(x)).numpy()
        reference(torch.from_numpy(x))
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(module, key).numpy(), getattr(reference, key).numpy(), rtol=1e-5)
    module.eval()
    reference.eval()
    check(module, reference, randn(2, 3, 3, 3, seed=3))


def test_functional_keywords():
    x, y = randn(2, 4, 3, seed=1), randn(2, 4, 3, seed=2)
    rm, rv = randn(4, seed=3), np.abs(randn(4, seed=4)) + 0.5
    w, b = randn(4, seed=5), randn(4, seed=6)
    cases = [
        (F.instance_norm, TF.instance_norm, (x,), dict(weight=w, bias=b, eps=1e-3)),
        (F.instance_norm, TF.instance_norm, (x, rm, rv), dict(use_input_stats=False, weight=w)),
        (F.group_norm, TF.group_norm, (x, 2), dict(bias=b, weight=w, eps=0.1)),
        (F.normalize, TF.normalize, (x,), dict(p=1.0, dim=0)),
        (F.normalize, TF.normalize, (x,), {}),
        (F.cosine_similarity, TF.cosine_similarity, (x, y[:1]), dict(dim=-1)),
        (F.pairwise_distance, TF.pairwise_distance, (x, y), dict(p=1.0, keepdim=True)),
        (F.pairwise_distance, TF.pairwise_distance, (x, y), dict(eps=0.1)),
        (F.softmin, TF.softmin, (x,), dict(dim=0)),
        (F.hardtanh, TF.hardtanh, (x,), dict(max_val=0.5, min_val=-0.2)),
        (F.threshold, TF.threshold, (x, 0.3, -2.0), {}),
        (F.glu, TF.glu, (x,), dict(dim=1)),
        (F.celu, TF.celu, (x,), dict(alpha=2.0)),
        (F.prelu, TF.prelu, (x, w), {}),
        (F.pixel_shuffle, TF.pixel_shuffle, (x.reshape(1, 8, 1, 3), 2), {}),
        (F.relu6, TF.relu6, (x * 5,), {}),
        (F.elu, TF.elu, (x,), {}),
    ]
    for ours, theirs, args, kwargs in cases:
        got = ours(*(irc.tensor(a) if isinstance(a, np.ndarray) else a for a in args),
                   **{k: irc.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})  # fmt: skip
        expected = theirs(*(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args),
                          **{k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})  # fmt: skip
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6, err_msg=ours.__name__)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 4), (2, 3, 4, 2)])
def test_softmax_without_dim_takes_torchs_implicit_dim_and_warns(name, shape):
    """torch's deprecated implicit dim: 0 for 0-, 1- and 3-D input, else 1 (not -1), with its warning."""
    x = randn(*shape, seed=len(shape))
    with pytest.warns(UserWarning) as theirs:
        expected = getattr(TF, name)(torch.from_numpy(x))
    with pytest.warns(UserWarning) as ours:
        got = getattr(F, name)(irc.tensor(x))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert ours[0].filename == __file__  # the warning points at the caller, as torch's


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "hardsigmoid", "hardswish", "threshold", "softshrink",
                                  "hardshrink"])  # fmt: skip
def test_gradient_at_the_kinks_as_torch(name):
    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 0.1, 7.0], np.float32)
    args = {"threshold": (0.1, 5.0), "softshrink": (1.0,), "hardshrink": (1.0,)}.get(name, ())
    ours, theirs = irc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    getattr(F, name)(ours, *args).sum().backward()
    getattr(TF, name)(theirs, *args).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)


def test_distance_modules_and_gradients():
    for name, kwargs in (("CosineSimilarity", {"dim": 2}), ("PairwiseDistance", {"p": 3.0, "keepdim": True})):
        module, reference = paired(name, **kwargs)
        check(module, reference, randn(2, 3, 4, seed=1), randn(2, 3, 4, seed=2))


@pytest.mark.parametrize(
    "name, shape", [("Dropout1d", (4, 16, 3)), ("Dropout1d", (16, 3)), ("Dropout2d", (4, 16, 2, 3))]
)
def test_channel_dropout(name, shape):
    x = irc.tensor(np.abs(randn(*shape, seed=1)) + 0.1, requires_grad=True)
    module = getattr(nn, name)(p=0.25)
    out = module(x)
    out.sum().backward()
    y, g = out.numpy(), x.grad.numpy()
    lead = len(shape) - (1 if name == "Dropout1d" else 2)
    channels = y.reshape(*shape[:lead], -1)
    kept = channels[..., 0] != 0
    assert np.all((channels != 0) == kept[..., None])  # whole channels, never parts
    np.testing.assert_allclose(y, x.numpy() * g, rtol=1e-6)  # kept ones scaled by the gradient 1/(1-p)
    assert set(np.unique(g)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.4 < kept.mean() < 0.95
    module.eval()
    np.testing.assert_array_equal(module(x).numpy(), x.numpy())
    function = getattr(F, name.lower())
    assert np.all(function(x, 1.0).numpy() == 0)
    np.testing.assert_array_equal(function(x, 0.0).numpy(), x.numpy())


def test_dropout2d_three_d_warns_as_torch():
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(irc.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(irc.ones(2, 3), training=False)


def test_alpha_dropout():
    x = randn(64, 8, seed=1)
    p, alpha = 0.2, 1.6732632423543772 * 1.0507009873554805
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    y = nn.AlphaDropout(p)(irc.tensor(x)).numpy()
    kept = np.isclose(y, a * x + alpha * a * p, atol=1e-5)
    dropped = np.isclose(y, alpha * a * (p - 1), atol=1e-5)
    assert np.all(kept | dropped) and 0.1 < dropped.mean() < 0.3
    np.testing.assert_array_equal(F.alpha_dropout(irc.tensor(x), p).numpy(), x)  # training=False by default


def test_instance_norm_feature_mismatch_warns():
    with pytest.warns(UserWarning, match="input's size at dim=1 does not match num_features"):
        nn.InstanceNorm2d(3)(irc.ones(2, 4, 3, 3))


ERRORS = [
    (lambda m: m.nn.GroupNorm(3, 4), None),
    (lambda m: m.nn.functional.group_norm(m.ones(2, 3, 4), 2), None),
    (lambda m: m.nn.InstanceNorm1d(3)(m.ones(2, 3, 4, 5)), None),
    (lambda m: m.nn.InstanceNorm2d(3)(m.ones(2, 3)), None),
    (lambda m: m.nn.InstanceNorm2d(3, affine=True)(m.ones(2, 4, 3, 3)), None),
    (lambda m: m.nn.InstanceNorm1d(3)(m.ones(2, 3, 1)), "Expected more than 1 spatial element when training"),
    (lambda m: m.nn.functional.dropout1d(m.ones(2, 3, 4, 5)), None),
    (lambda m: m.nn.functional.dropout2d(m.ones(2, 3, 4, 5), 1.5), None),
    (lambda m: m.nn.Dropout2d(-0.1), None),
    (lambda m: m.nn.functional.pixel_shuffle(m.ones(2, 3, 4, 4), 2), None),
    (lambda m: m.nn.functional.pixel_shuffle(m.ones(2, 4), 2), None),
    (lambda m: m.nn.functional.pixel_unshuffle(m.ones(2, 4, 5, 4), 2), None),
    (lambda m: m.nn.functional.pixel_unshuffle(m.ones(2, 4, 4, 5), 2), None),
    (lambda m: m.nn.functional.glu(m.ones(2, 3)), None),
    (lambda m: m.nn.functional.glu(m.ones(())), None),
    (lambda m: m.nn.functional.prelu(m.ones(2, 3), m.ones(4)), None),
    (lambda m: m.nn.ReflectionPad2d(3)(m.ones(1, 2, 3, 3)), "Padding size should be less than the corresponding"),
    (lambda m: m.nn.ReflectionPad1d(1)(m.ones(1, 2, 3, 3)), "Padding size 2 is not supported for 4D input tensor."),
    (lambda m: m.nn.ZeroPad2d(1)(m.ones(3)), None),
    (lambda m: m.nn.functional.hardtanh(m.ones(3), 2, 1), None),
    (lambda m: m.nn.Hardtanh(2, 1), None),
    (lambda m: m.nn.functional.softshrink(m.ones(3), -1.0), None),
]


@pytest.mark.parametrize("make, message", ERRORS)
def test_errors_as_torch(make, message):
    with pytest.raises(Exception) as theirs:
        make(torch)
    expected_type = FrontendError if type(theirs.value) in (RuntimeError, NotImplementedError) else type(theirs.value)
    with pytest.raises(expected_type, match=re.escape(message or str(theirs.value))):
        make(irc)


def test_reprs_and_state_dicts():
    cases = [
        ("InstanceNorm1d", (4,), {"momentum": None}),
        ("InstanceNorm2d", (4,), {"affine": True, "track_running_stats": True}),
        ("GroupNorm", (2, 4), {"affine": False}),
        ("Dropout1d", (), {}), ("Dropout2d", (0.2,), {}), ("AlphaDropout", (0.3,), {}),
        ("PixelUnshuffle", (3,), {}), ("ConstantPad2d", ((1, 2, 3, 4), 0.0), {}),
        ("ReLU6", (), {"inplace": True}), ("Hardswish", (), {}), ("SELU", (), {}), ("CELU", (), {}),
        ("Threshold", (0.1, 20), {}), ("PReLU", (3, 0.5), {}), ("CosineSimilarity", (), {}),
        ("PairwiseDistance", (), {}), ("Softsign", (), {}), ("LogSigmoid", (), {}),
        ("Softshrink", (), {}), ("Hardshrink", (0.3,), {}), ("RReLU", (), {}), ("RReLU", (0.1, 0.2, True), {}),
    ]  # fmt: skip
    for name, args, kwargs in cases:
        ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy())
    prelu = nn.PReLU(2)
    prelu.weight.data = irc.zeros(2)
    prelu.reset_parameters()
    np.testing.assert_allclose(prelu.weight.numpy(), [0.25, 0.25])


def test_legacy_constructors():
    cases = [
        ("FloatTensor", ([1, 2],)), ("FloatTensor", (2, 3)), ("FloatTensor", ()), ("DoubleTensor", ([[1.5], [2]],)),
        ("LongTensor", ([1.7, -1.7],)), ("LongTensor", (3,)), ("IntTensor", ([4, 5],)), ("BoolTensor", ([0, 2],)),
        ("HalfTensor", ([1.0, 0.1],)), ("BFloat16Tensor", ([0.1],)),
    ]  # fmt: skip
    for name, args in cases:
        ours, theirs = getattr(irc, name)(*args), getattr(torch, name)(*args)
        assert ours.type() == theirs.type() and ours.shape == tuple(theirs.shape), (name, args)
        expected = theirs.float().numpy() if name == "BFloat16Tensor" else theirs.numpy()
        if args and isinstance(args[0], int):
            expected = np.zeros_like(expected)  # uninitialised in torch, zeros in irc
        np.testing.assert_array_equal(ours.float().numpy() if name == "BFloat16Tensor" else ours.numpy(), expected)
        assert isinstance(ours, getattr(irc, name)) and isinstance(theirs, getattr(torch, name))
    assert not isinstance(irc.ones(2, dtype=irc.long), irc.FloatTensor)
    assert not isinstance(irc.ones(2), irc.LongTensor) and not isinstance(np.ones(2), irc.FloatTensor)
    x = irc.ones(2, dtype=irc.float64)
    np.testing.assert_array_equal(irc.DoubleTensor(x).numpy(), [1.0, 1.0])
    with pytest.raises(TypeError, match=re.escape("expected DoubleTensor (got torch.FloatTensor)")):
        irc.DoubleTensor(irc.ones(2))
    with pytest.raises(TypeError, match="expected a sequence of numbers or sizes"):
        irc.FloatTensor([1], [2])
    with pytest.raises(FrontendError, match="Trying to create tensor with negative dimension"):
        irc.IntTensor(2, -1)


def test_jit_llvm_uses_several_layers():
    """One compile: a small image block (reflection pad, instance norm, group norm, PReLU, Mish, pixel shuffle,
    hardswish) with the gradients of its input and parameters, against torch."""

    def make(m):
        return m.nn.Sequential(
            m.nn.ReflectionPad2d(1), m.nn.InstanceNorm2d(4, affine=True), m.nn.PReLU(4), m.nn.GroupNorm(2, 4),
            m.nn.Mish(), m.nn.PixelShuffle(2), m.nn.ZeroPad2d((0, 1, 1, 0)), m.nn.Hardswish(),
        )  # fmt: skip

    torch.manual_seed(0)
    reference = make(torch)
    with torch.no_grad():
        for i, p in enumerate(reference.parameters()):
            p.copy_(torch.from_numpy(randn(*p.shape, seed=10 + i)))
    model = make(irc)
    model.load_state_dict(reference.state_dict())
    seed = randn(2, 1, 11, 11, seed=5)

    def weighted(x):
        return (model(x) * irc.tensor(seed)).sum()

    @irc.jit(target="llvm")
    def loss_and_grads(x):
        loss = weighted(x)
        loss.backward()
        return loss, irc.grad(weighted)(x), *(p.grad for p in model.parameters())

    x = randn(2, 4, 3, 3, seed=4)
    xt = torch.tensor(x, requires_grad=True)
    ref_loss = (reference(xt) * torch.from_numpy(seed)).sum()
    ref_loss.backward()
    loss, x_grad, *grads = loss_and_grads(irc.tensor(x))
    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x_grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for g, p in zip(grads, reference.parameters()):
        np.testing.assert_allclose(g.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_running_stats_and_channel_dropout_under_jit():
    """Inside irc.jit the running statistics move as torch's, and Dropout2d draws new channel masks per call."""
    module, reference = paired("InstanceNorm2d", 3, track_running_stats=True, affine=True)
    dropout = nn.Dropout2d(0.5)

    @irc.jit
    def step(x):
        return module(x).sum(), dropout(irc.ones(4, 8, 2, 2))

    masks = []
    for seed in (1, 2):
        x = randn(2, 3, 4, 4, seed=seed)
        masks.append(step(irc.tensor(x))[1].numpy())
        reference(torch.from_numpy(x))
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(module, key).numpy(), getattr(reference, key).numpy(), rtol=1e-5)
    assert not np.array_equal(masks[0], masks[1])
    for mask in masks:
        assert set(np.unique(mask)) <= {0.0, 2.0} and np.all(mask == mask[:, :, :1, :1])


@pytest.mark.parametrize("lower, upper", [(1.0 / 8, 1.0 / 3), (0.1, 0.5)])
def test_rrelu_in_eval_is_torchs_and_in_training_draws_a_slope_per_element(lower, upper):
    module, reference = paired("RReLU", lower, upper)
    module.eval(), reference.eval()
    x = randn(4, 50, seed=1) * 3
    check(module, reference, x)
    check_function(lambda t: F.rrelu(t, lower, upper), lambda t: TF.rrelu(t, lower, upper), x)  # training=False
    module.train()
    ours = irc.tensor(x, requires_grad=True)
    irc.manual_seed(3)
    out = module(ours)
    out.sum().backward()
    slope, grad = out.numpy() / x, ours.grad.numpy()
    negative = x < 0
    np.testing.assert_array_equal(slope[~negative], 1.0)
    assert (slope[negative] >= lower - 1e-6).all() and (slope[negative] <= upper + 1e-6).all()
    assert np.unique(np.round(slope[negative], 5)).size > negative.sum() // 2  # one draw per element
    np.testing.assert_allclose(grad, slope, rtol=1e-5)  # the gradient is the drawn slope, as torch's
    irc.manual_seed(3)
    np.testing.assert_array_equal(module(irc.tensor(x)).numpy(), out.numpy())  # reproducible by the seed
    expected = TF.rrelu(torch.from_numpy(x), lower, upper, training=True).numpy() / x
    assert (expected[negative] >= lower).all() and (expected[negative] <= upper).all()  # torch's the same way
