"""Convolution and pooling breadth against PyTorch: pooling keywords (ceil_mode, dilation, count_include_pad,
divisor_override), conv padding strings and padding modes, unbatched inputs, F.pad modes and negative pads,
adaptive average pooling, nearest interpolation, transposed convolution, add/sub alpha; forward values and
gradients on the interpret tier, once through irc.jit(target="llvm") and the compile tier; reprs and errors."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
from irc.errors import FrontendError
from tests.nn.test_layers import check_function

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
TF = torch.nn.functional

X = np.random.default_rng(0).standard_normal((2, 3, 7, 8)).astype(np.float32)

POOLS = [
    ("max", dict(kernel_size=2, ceil_mode=True)),
    ("max", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max", dict(kernel_size=3, stride=2, dilation=2)),
    ("max", dict(kernel_size=(2, 3), stride=(2, 1), padding=1, dilation=(2, 1), ceil_mode=True)),
    ("avg", dict(kernel_size=2, ceil_mode=True)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg", dict(kernel_size=2, divisor_override=3)),
    ("avg", dict(kernel_size=3, padding=1, ceil_mode=True, divisor_override=2)),
]


@pytest.mark.parametrize("kind, kwargs", POOLS, ids=[f"{k}-{v}" for k, v in POOLS])
@pytest.mark.parametrize("batched", [True, False], ids=["NCHW", "CHW"])
def test_pooling_keywords_match_torch(kind, kwargs, batched):
    name = f"{kind}_pool2d"
    check_function(
        lambda x: getattr(F, name)(x, **kwargs), lambda x: getattr(TF, name)(x, **kwargs), X if batched else X[0]
    )


@pytest.mark.parametrize(
    "kwargs", [dict(kernel_size=2, stride=(1, 2), dilation=2), dict(kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2))]
)
def test_dilated_max_pooling_with_unequal_strides_compiles(kwargs):
    """A dilated pool is a maximum of strided slices, one dim of them unit-step and narrower than x."""
    got = irc.jit(lambda x: F.max_pool2d(x, **kwargs), target="llvm")(X)
    np.testing.assert_array_equal(got.numpy(), TF.max_pool2d(torch.tensor(X), **kwargs).numpy())


W = np.random.default_rng(1).standard_normal((4, 3, 2, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "kwargs", [dict(padding="same"), dict(padding="valid"), dict(padding="same", dilation=2), dict(padding=(1, 2))]
)
@pytest.mark.parametrize("batched", [True, False], ids=["NCHW", "CHW"])
def test_conv2d_padding_strings_and_unbatched_input_match_torch(kwargs, batched):
    check_function(lambda x, w: F.conv2d(x, w, **kwargs), lambda x, w: TF.conv2d(x, w, **kwargs),
                   X if batched else X[0], W, rtol=1e-4, atol=1e-5)  # fmt: skip


PADS = [
    ("constant", (-1, 2, 1, -3)),
    ("reflect", (2, 1, 1, 3)),
    ("reflect", (-1, 2, 3, -2)),
    ("replicate", (2, 1, 1, 3)),
    ("replicate", (-2, 3, 0, 1)),
    ("circular", (2, 1, 1, 3)),
    ("circular", (3, -1, 0, 0)),
]


@pytest.mark.parametrize("mode, pad", PADS, ids=[f"{m}{p}" for m, p in PADS])
def test_pad_modes_and_negative_padding_match_torch(mode, pad):
    check_function(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), X)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_on_one_dim(mode):
    x = X[0]  # (3, 7, 8): one padded dim of a 2-D or 3-D tensor
    check_function(lambda t: F.pad(t, (3, -1), mode=mode), lambda t: TF.pad(t, (3, -1), mode=mode), x)


@pytest.mark.parametrize("size", [1, 2, (3, 4), (5, 3), (None, 3), (7, 8)])
def test_adaptive_avg_pool2d_matches_torch(size):
    check_function(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), X)


@pytest.mark.parametrize(
    "kwargs",
    [dict(scale_factor=2), dict(scale_factor=(2, 3)), dict(size=(14, 16)), dict(size=(10, 5)),
     dict(scale_factor=1.5), dict(scale_factor=0.5), dict(scale_factor=1.5, recompute_scale_factor=True)],
)  # fmt: skip
def test_interpolate_nearest_matches_torch(kwargs):
    check_function(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), X)


def test_interpolate_one_spatial_dim():
    check_function(lambda x: F.interpolate(x, scale_factor=3), lambda x: TF.interpolate(x, scale_factor=3), X[0])


CONV_T = [
    ((3, 4, 3, 3), dict()),
    ((3, 4, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((3, 2, 4, 4), dict(stride=2, padding=1)),
    ((3, 4, 2, 3), dict(stride=(2, 3), padding=(0, 2), dilation=(1, 2))),
    ((3, 2, 3, 3), dict(groups=3, stride=2)),
    ((3, 4, 4, 4), dict(padding=4)),
    ((3, 4, 3, 3), dict(stride=3, padding=2, output_padding=2)),
]


@pytest.mark.parametrize("shape, kwargs", CONV_T, ids=[f"{s}-{k}" for s, k in CONV_T])
def test_conv_transpose2d_matches_torch(shape, kwargs):
    rng = np.random.default_rng(2)
    w = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[1] * kwargs.get("groups", 1)).astype(np.float32)
    check_function(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
                   lambda x, w, b: TF.conv_transpose2d(x, w, b, **kwargs), X, w, b, rtol=1e-4, atol=1e-5)  # fmt: skip
    check_function(lambda x, w: F.conv_transpose2d(x, w, **kwargs),
                   lambda x, w: TF.conv_transpose2d(x, w, **kwargs), X[0], w, rtol=1e-4, atol=1e-5)  # fmt: skip


def test_add_and_sub_take_alpha():
    y = X[::-1].copy()
    check_function(lambda a, b: irc.add(a, b, alpha=2), lambda a, b: torch.add(a, b, alpha=2), X, y)
    check_function(lambda a, b: a.sub(b, alpha=0.5), lambda a, b: a.sub(b, alpha=0.5), X, y)
    assert irc.tensor([1, 2]).add(irc.tensor([3, 4]), alpha=3).tolist() == [10, 14]
    with pytest.raises(FrontendError, match="For integral input tensors, argument alpha must not be a floating"):
        irc.tensor([1, 2]).sub(irc.tensor([1, 2]), alpha=0.5)


MODULES = [
    lambda m: m.MaxPool2d(2, ceil_mode=True),
    lambda m: m.MaxPool2d(3, 2, 1, dilation=2),
    lambda m: m.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda m: m.AvgPool2d(2, divisor_override=3),
    lambda m: m.AdaptiveAvgPool2d(1),
    lambda m: m.AdaptiveAvgPool2d((3, None)),
    lambda m: m.Upsample(scale_factor=2),
    lambda m: m.Upsample(size=(5, 12)),
    lambda m: m.ConvTranspose2d(3, 4, 3, 2, 1, 1),
    lambda m: m.ConvTranspose2d(3, 6, 4, 2, 1, groups=3, bias=False),
    lambda m: m.Conv2d(3, 4, 3, padding="same"),
    lambda m: m.Conv2d(3, 4, 4, padding="same", padding_mode="reflect"),
    lambda m: m.Conv2d(3, 4, 3, padding=2, padding_mode="circular"),
    lambda m: m.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="replicate", stride=2),
]


@pytest.mark.parametrize("make", MODULES)
def test_modules_match_torch_with_the_same_weights(make):
    module, reference = make(nn), make(torch.nn)
    assert repr(module) == repr(reference)
    module.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    assert [n for n, _ in module.named_parameters()] == [n for n, _ in reference.named_parameters()]
    check_function(module, reference, X, rtol=1e-4, atol=1e-5)


def test_conv_transpose2d_init_follows_torch():
    module = nn.ConvTranspose2d(4, 6, 3, groups=2)
    assert module.weight.shape == (4, 3, 3, 3) and module.bias.shape == (6,)
    bound = 1 / np.sqrt(3 * 9)  # fan_in = weight.size(1) * kh * kw, as in torch
    assert np.abs(module.weight.numpy()).max() <= bound and np.abs(module.bias.numpy()).max() <= bound


ERRORS = [
    (lambda f, t: f.max_pool2d(t.ones(1, 2, 5, 5), 2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"),
    (lambda f, t: f.max_pool2d(t.ones(5, 5), 2), "non-empty 3D or 4D (batch mode) tensor expected for input"),
    (lambda f, t: f.max_pool2d(t.ones(1, 2, 5, 5), 6),
     "Given input size: (2x5x5). Calculated output size: (2x0x0). Output size is too small"),
    (lambda f, t: f.max_pool2d(t.ones(1, 2, 5, 5), 2, stride=0), "stride should not be zero"),
    (lambda f, t: f.avg_pool2d(t.ones(1, 2, 5, 5), 2, divisor_override=0), "divisor must be not zero"),
    (lambda f, t: f.conv2d(t.ones(5, 5), t.ones(1, 1, 3, 3)),
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [5, 5]"),
    (lambda f, t: f.conv2d(t.ones(1, 2, 5, 5), t.ones(1, 2, 3, 3), padding="same", stride=2),
     "padding='same' is not supported for strided convolutions"),
    (lambda f, t: f.conv2d(t.ones(1, 2, 5, 5), t.ones(1, 2, 3, 3), padding="foo"), "Invalid padding string: 'foo'"),
    (lambda f, t: f.pad(t.ones(1, 3), (3, 3), mode="reflect"),
     "Padding size should be less than the corresponding input dimension, but got: padding (3, 3) at dimension 1"),
    (lambda f, t: f.pad(t.ones(1, 3), (1, 1), mode="reflect", value=1.0),
     'Padding mode "reflect" doesn\'t take in value argument'),
    (lambda f, t: f.pad(t.ones(1, 3), (1, 1), mode="foo"), "Unrecognised padding mode foo"),
    (lambda f, t: f.pad(t.ones(1, 3), (1, 1, 1)), "Padding length must be divisible by 2"),
    (lambda f, t: f.pad(t.ones(1, 3), (1,) * 6),
     "Padding length should be less than or equal to two times the input dimension but got padding length 6"),
    (lambda f, t: f.pad(t.ones(3), (1, 1), mode="reflect"), "Padding size 2 is not supported for 1D input tensor."),
    (lambda f, t: f.pad(t.ones(1, 3), (4, 0), mode="circular"), "Padding value causes wrapping around more than once."),
    (lambda f, t: f.adaptive_avg_pool2d(t.ones(5, 5), 2), "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [5, 5]"),
    (lambda f, t: f.adaptive_avg_pool2d(t.ones(1, 2, 5, 5), (2, 3, 4)), "adaptive_avg_pool2d: output_size must be 2"),
    (lambda f, t: f.interpolate(t.ones(1, 2, 5, 5)), "either size or scale_factor should be defined"),
    (lambda f, t: f.interpolate(t.ones(1, 2, 5, 5), size=3, scale_factor=2),
     "only one of size or scale_factor should be defined"),
    (lambda f, t: f.interpolate(t.ones(1, 2, 5, 5), scale_factor=2, align_corners=True),
     "align_corners option can only be set with the interpolating modes"),
    (lambda f, t: f.conv_transpose2d(t.ones(1, 2, 5, 5), t.ones(2, 3, 3, 3), stride=2, output_padding=2),
     "output padding must be smaller than either stride or dilation, but got output_padding_height: 2"),
    (lambda f, t: f.conv_transpose2d(t.ones(1, 2, 5, 5), t.ones(3, 3, 3, 3)),
     "Given transposed=1, weight of size [3, 3, 3, 3], expected input[1, 2, 5, 5] to have 3 channels, but got 2"),
    (lambda f, t: f.conv1d(t.ones(1, 2, 5, 5), t.ones(1, 2, 3)),
     "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [1, 2, 5, 5]"),
    (lambda f, t: f.conv1d(t.ones(1, 2, 5), t.ones(1, 2, 3), padding="same", stride=2),
     "padding='same' is not supported for strided convolutions"),
    (lambda f, t: f.max_pool1d(t.ones(1, 2, 3, 5), 2),
     "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:[1, 2, 3, 5]"),
    (lambda f, t: f.max_pool1d(t.ones(1, 2, 5), 2, padding=2),
     "max_pool1d() padding should be at most half of kernel size, but got padding=2 and kernel_size=2"),
    (lambda f, t: f.avg_pool1d(t.ones(5), 2),
     "Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 'self' (while checking arguments "
     "for avg_pool1d)"),
    (lambda f, t: f.adaptive_avg_pool1d(t.ones(5), 2),
     "Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 'self' (while checking arguments "
     "for adaptive_avg_pool1d)"),
    (lambda f, t: f.adaptive_max_pool2d(t.ones(5), 2), "adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: [5]"),
]  # fmt: skip


@pytest.mark.parametrize("call, message", ERRORS, ids=[m[:40] for _, m in ERRORS])
def test_errors_are_torchs(call, message):
    with pytest.raises(Exception) as theirs:
        call(TF, torch)
    assert message in str(theirs.value)
    with pytest.raises(FrontendError) as ours:
        call(F, irc)
    assert message in str(ours.value)
    assert __file__ in str(ours.value)  # reported at the caller's line


def test_what_is_not_supported_says_so():
    x = irc.ones(1, 2, 4, 4)
    with pytest.raises(FrontendError, match="mode 'nearest-exact' is not supported"):
        F.interpolate(x, scale_factor=2, mode="nearest-exact")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


WT = np.random.default_rng(3).standard_normal((3, 2, 3, 3)).astype(np.float32)


def everything(f, x, w, wt):
    """One loss over all the compositions above (`f`: irc's or torch's functional), for the compiled paths."""
    parts = [
        f.max_pool2d(x, 3, 2, 1, ceil_mode=True),
        f.max_pool2d(x, 3, 2, dilation=2),
        f.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        f.conv2d(x, w, padding="same"),
        f.pad(x, (2, -1, 1, 3), mode="reflect"),
        f.pad(x, (2, 1, -1, 3), mode="replicate"),
        f.adaptive_avg_pool2d(x, (3, 5)),
        f.interpolate(x, scale_factor=2),
        f.interpolate(x, size=(5, 11)),
        f.conv_transpose2d(x, wt, stride=2, padding=1, output_padding=1),
    ]
    return sum(((p * p).sum() * (i + 1) for i, p in enumerate(parts)), start=x.sum())


def check_against_torch(loss_and_grads, f_loss, arrays):
    """`loss_and_grads(*arrays)` (irc: value and gradients) equals torch's `f_loss` and its gradients."""
    args = [torch.tensor(a, requires_grad=True) for a in arrays]
    want = f_loss(*args)
    want.backward()
    value, grads = loss_and_grads
    np.testing.assert_allclose(value.item(), want.item(), rtol=1e-5)
    for got, arg in zip(grads, args):
        np.testing.assert_allclose(got.numpy(), arg.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.slow  # a 20 s compile; the compile-tier test and the interpreter cases cover the same ops
def test_one_program_of_everything_through_llvm():
    loss_and_grads = irc.value_and_grad(lambda x, w, wt: everything(F, x, w, wt), argnums=(0, 1, 2))
    got = irc.jit(loss_and_grads, target="llvm")(X, W, WT)
    check_against_torch(got, lambda x, w, wt: everything(TF, x, w, wt), (X, W, WT))


def test_compile_tier(compile_tier):
    def loss(f, x, wt):
        y = f.conv_transpose2d(f.pad(x, (2, -1, 1, 3), mode="reflect"), wt, stride=2, padding=1)
        return (f.interpolate(f.max_pool2d(y, 3, 2, 1, ceil_mode=True), size=(5, 11)) ** 2).sum()

    got = irc.value_and_grad(lambda x, wt: loss(F, x, wt), argnums=(0, 1))(irc.tensor(X), irc.tensor(WT))
    check_against_torch(got, lambda x, wt: loss(TF, x, wt), (X, WT))
