"""Losses against PyTorch: every reduction, forward values and input gradients, modules and functions, errors."""

import warnings

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
from irc.errors import FrontendError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def check_loss(ours, theirs, *arrays, grad_of=(0,), rtol=1e-5, atol=1e-6):
    """ours(*irc tensors) == theirs(*torch tensors) and the gradients of inputs `grad_of` agree."""
    xs = [irc.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    out, expected = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
    seed = np.random.default_rng(2).standard_normal(expected.shape).astype(np.float32)
    (out * irc.tensor(seed)).sum().backward()
    (expected * torch.from_numpy(seed)).sum().backward()
    for i in grad_of:
        np.testing.assert_allclose(xs[i].grad.numpy(), ts[i].grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i}")


def probabilities(rng, shape):
    return rng.uniform(0.05, 0.95, shape).astype(np.float32)


@pytest.fixture
def data(rng):
    return dict(
        x=rng.standard_normal((5, 4)).astype(np.float32),
        y=rng.standard_normal((5, 4)).astype(np.float32),
        p=probabilities(rng, (5, 4)),
        t=(rng.random((5, 4)) > 0.5).astype(np.float32),
        w=rng.uniform(0.5, 2.0, (5, 4)).astype(np.float32),
        pos=rng.uniform(0.5, 3.0, (4,)).astype(np.float32),
    )


# (name, irc module, torch module, data keys, which inputs get gradients)
MODULES = [
    ("MSELoss", lambda m, r: m.MSELoss(reduction=r), "xy", (0, 1)),
    ("L1Loss", lambda m, r: m.L1Loss(reduction=r), "xy", (0, 1)),
    ("SmoothL1Loss", lambda m, r: m.SmoothL1Loss(reduction=r), "xy", (0, 1)),
    ("SmoothL1Loss-beta", lambda m, r: m.SmoothL1Loss(reduction=r, beta=0.5), "xy", (0, 1)),
    ("SmoothL1Loss-beta0", lambda m, r: m.SmoothL1Loss(reduction=r, beta=0.0), "xy", (0, 1)),
    ("HuberLoss", lambda m, r: m.HuberLoss(reduction=r, delta=0.7), "xy", (0, 1)),
    ("BCELoss", lambda m, r: m.BCELoss(reduction=r), "pt", (0,)),
    ("BCELoss-soft", lambda m, r: m.BCELoss(reduction=r), "pp", (0, 1)),
    ("BCEWithLogitsLoss", lambda m, r: m.BCEWithLogitsLoss(reduction=r), "xt", (0,)),
    ("BCEWithLogitsLoss-soft", lambda m, r: m.BCEWithLogitsLoss(reduction=r), "xp", (0, 1)),
    ("KLDivLoss", lambda m, r: m.KLDivLoss(reduction=r), "xp", (0, 1)),
    ("KLDivLoss-log", lambda m, r: m.KLDivLoss(reduction=r, log_target=True), "xy", (0, 1)),
]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, make, keys, grads", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(name, make, keys, grads, reduction, data):
    check_loss(make(nn, reduction), make(torch.nn, reduction), *(data[k] for k in keys), grad_of=grads)


def both(name, **kwargs):
    """F.<name> and torch's, bound to kwargs (numpy arrays become tensors of each library)."""

    def bind(lib, convert):
        fn = getattr(lib, name)
        options = {k: convert(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        return lambda *inputs: fn(*inputs, **options)

    return bind(F, irc.tensor), bind(TF, torch.tensor)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weights_and_pos_weight(reduction, data):
    x, y, t, p, w = (data[k] for k in "xytpw")
    check_loss(*both("binary_cross_entropy_with_logits", weight=w, reduction=reduction, pos_weight=data["pos"]), x, t)
    check_loss(*both("binary_cross_entropy", weight=w, reduction=reduction), p, t)
    for fn in ("mse_loss", "l1_loss", "huber_loss"):
        check_loss(*both(fn, reduction=reduction, weight=w), x, y, grad_of=(0, 1))


def test_weight_buffers_and_batchmean(data):
    w, pos = irc.tensor(data["w"]), irc.tensor(data["pos"])
    reference = torch.nn.BCEWithLogitsLoss(torch.tensor(data["w"]), pos_weight=torch.tensor(data["pos"]))
    assert list(nn.BCEWithLogitsLoss(weight=w, pos_weight=pos).state_dict()) == list(reference.state_dict())
    logp = torch.log_softmax(torch.tensor(data["x"]), -1).numpy()
    check_loss(*both("kl_div", reduction="batchmean"), logp, data["p"], grad_of=(0, 1))
    with pytest.raises(FrontendError, match="Weights and input must have the same size."):
        F.mse_loss(irc.tensor(data["x"]), irc.tensor(data["y"]), weight=pos)


def test_bce_clamps_the_log_at_minus_100():
    p, t = np.array([0.0, 1.0, 0.5], np.float32), np.array([1.0, 0.0, 1.0], np.float32)
    got = F.binary_cross_entropy(irc.tensor(p), irc.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(got, TF.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none"))
    logits = np.array([-200.0, 200.0, 0.0, 50.0], np.float32)
    labels = np.array([1.0, 0.0, 1.0, 1.0], np.float32)
    got = F.binary_cross_entropy_with_logits(irc.tensor(logits), irc.tensor(labels), reduction="none").numpy()
    want = TF.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(labels), reduction="none")
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-6, atol=1e-7)  # the stable form: no inf


def test_bce_refuses_probabilities_outside_0_1_as_torch():
    """Checked where the input is already computed (eager); a lazy input is not realized for the check."""
    for value in (2.0, -0.1, float("nan")):
        with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
            TF.binary_cross_entropy(torch.full((3,), value), torch.ones(3))
        with pytest.raises(FrontendError, match="all elements of input should be between 0 and 1"):
            F.binary_cross_entropy(irc.tensor(np.full(3, value, np.float32)), irc.ones(3))
    assert np.isnan(F.binary_cross_entropy(irc.ones(3) * 2, irc.ones(3)).item())  # lazy: not checked


# ------------------------------------------------------------ class targets


CLASS_CASES = [
    ("plain", (6, 4), {}),
    ("weight", (6, 4), dict(weight=True)),
    ("ignore", (6, 4), dict(ignore_index=1)),
    ("ignore-weight", (6, 4), dict(ignore_index=-100, weight=True, ignored=-100)),
    ("spatial", (3, 4, 2, 5), dict(ignore_index=2, weight=True)),
    ("unbatched", (4,), {}),
]


def class_case(rng, shape, options):
    x = rng.standard_normal(shape).astype(np.float32)
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, shape[0 if len(shape) == 1 else 1], target_shape)
    if "ignored" in options:
        target.flat[::3] = options["ignored"]
    kwargs = {k: v for k, v in options.items() if k != "ignored"}
    classes = shape[0 if len(shape) == 1 else 1]
    weight = rng.uniform(0.5, 2.0, classes).astype(np.float32) if kwargs.pop("weight", False) else None
    return x, target, weight, kwargs


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, shape, options", CLASS_CASES, ids=[c[0] for c in CLASS_CASES])
def test_nll_and_cross_entropy_with_class_targets_match_torch(name, shape, options, reduction, rng):
    x, target, weight, kwargs = class_case(rng, shape, options)
    kwargs.update(weight=weight, reduction=reduction)
    for smoothing in (0.0, 0.2):
        check_loss(*both("cross_entropy", label_smoothing=smoothing, **kwargs), x, target)
    ours = nn.CrossEntropyLoss(**{**kwargs, "weight": None if weight is None else irc.tensor(weight)})
    theirs = torch.nn.CrossEntropyLoss(**{**kwargs, "weight": None if weight is None else torch.tensor(weight)})
    check_loss(ours, theirs, x, target)
    logp = torch.log_softmax(torch.tensor(x), 0 if x.ndim == 1 else 1).numpy()
    check_loss(*both("nll_loss", **kwargs), logp, target)


IGNORED_CASES = [
    ("cross_entropy", dict()),
    ("cross_entropy", dict(ignore_index=1)),
    ("cross_entropy", dict(ignore_index=1, label_smoothing=0.2)),
    ("cross_entropy", dict(ignore_index=1, weight=True)),
    ("nll_loss", dict(ignore_index=1)),
    ("nll_loss", dict(weight=True)),
]


@pytest.mark.parametrize("name, options", IGNORED_CASES, ids=[f"{n}-{o}" for n, o in IGNORED_CASES])
def test_every_target_ignored_is_nan_with_zero_gradients_as_torch(name, options, rng):
    """ "mean" over no counted target: the value is nan (0 / 0) in both, the input gradient torch's zeros."""
    x = rng.standard_normal((3, 4)).astype(np.float32)
    target = np.full(3, options.get("ignore_index", -100))
    weight = rng.uniform(0.5, 2.0, 4).astype(np.float32) if options.get("weight") else None
    check_loss(*both(name, **{**options, "weight": weight}), x, target)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted, smoothing", [(False, 0.0), (True, 0.1)])
def test_cross_entropy_with_probability_targets_matches_torch(reduction, weighted, smoothing, rng):
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    target = torch.softmax(torch.tensor(rng.standard_normal((3, 4, 2)).astype(np.float32)), 1).numpy()
    weight = rng.uniform(0.5, 2.0, 4).astype(np.float32) if weighted else None
    options = dict(weight=weight, reduction=reduction, label_smoothing=smoothing)
    check_loss(*both("cross_entropy", **options), x, target, grad_of=(0, 1))


def test_class_target_errors_are_torchs():
    x = irc.zeros(2, 3)
    cases = [
        (lambda: F.cross_entropy(x, irc.tensor([1, 2, 0])), "Expected input batch_size (2) to match target batch_size (3)."),
        (lambda: F.nll_loss(x, irc.tensor([1, 5])), "Target 5 is out of bounds."),
        (lambda: F.cross_entropy(x, irc.zeros(2, 4)), "0D or 1D target tensor expected, multi-target not supported"),
        (lambda: F.nll_loss(x, irc.tensor([1.0, 2.0])), "expected target dtype to be Long or Byte, but got Float"),
        (lambda: F.nll_loss(irc.zeros(2, 3, 4), irc.tensor([1, 2])), "Expected target size [2, 4], got [2]"),
        (lambda: F.cross_entropy(x, irc.tensor([1, 2]), label_smoothing=1.5), "label_smoothing must be between 0.0 and 1.0"),
        (lambda: F.binary_cross_entropy(irc.zeros(3), irc.zeros(3, 1)), "Using a target size (torch.Size([3, 1])) that is different to the input size (torch.Size([3])) is deprecated."),
        (lambda: F.binary_cross_entropy_with_logits(irc.zeros(3), irc.zeros(3, 1)), "Target size (torch.Size([3, 1])) must be the same as input size (torch.Size([3]))"),
        (lambda: F.smooth_l1_loss(x, x, beta=-1.0), "smooth_l1_loss does not support negative values for beta."),
        (lambda: F.mse_loss(x, x, reduction="avg"), "avg is not a valid value for reduction"),
    ]  # fmt: skip
    for call, message in cases:
        with pytest.raises(FrontendError) as err:
            call()
        assert message in str(err.value)
    F.cross_entropy(x, irc.tensor([1, -100]))  # the ignored index is no out-of-bounds target
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        nn.L1Loss(reduction="avg")


def test_deprecated_size_average_and_reduce_map_to_reduction(data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = nn.MSELoss(size_average=False)(irc.tensor(data["x"]), irc.tensor(data["y"])).item()
        each = F.l1_loss(irc.tensor(data["x"]), irc.tensor(data["y"]), reduce=False)
    assert "please use reduction='sum' instead" in str(caught[0].message)
    assert got == pytest.approx(((data["x"] - data["y"]) ** 2).sum(), rel=1e-5) and each.shape == (5, 4)


def test_losses_and_activations_in_a_compiled_eager_step(compile_tier, rng):
    """The llvm pipeline (compile tier) computes activations, layer_norm, a loss mix and the gradients as PyTorch."""
    x = rng.standard_normal((4, 3, 2)).astype(np.float32) * 2
    labels = rng.integers(0, 3, (4, 2))
    labels[0, 0] = -100
    t = (rng.random((4, 3, 2)) > 0.5).astype(np.float32)

    def mix(F, a, b, c):
        a = F.gelu(a, approximate="tanh") + F.gelu(a) + F.silu(a) + F.leaky_relu(a, 0.2) + F.elu(a, 0.5)
        a = F.layer_norm(a, (3, 2))
        return (
            F.cross_entropy(a, b, label_smoothing=0.1) + F.binary_cross_entropy_with_logits(a, c)
            + F.smooth_l1_loss(a, c, beta=0.5) + F.kl_div(F.log_softmax(a, 1), c.softmax(1), reduction="batchmean")
        )  # fmt: skip

    check_loss(
        lambda a, b, c: mix(F, a, b, c), lambda a, b, c: mix(TF, a, b, c), x, labels, t, grad_of=(0, 2), rtol=1e-4, atol=1e-5
    )  # fmt: skip
