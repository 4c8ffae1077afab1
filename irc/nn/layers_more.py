"""More torch.nn layers (issue 12, what pytorch/examples needs): instance and group normalization,
the padding modules, channel dropout, pixel (un)shuffle, and the remaining activations and distances.

Each is a composition of `irc.nn.functional` (no hl op of its own), with torch's arguments,
defaults, parameter and buffer names (a torch state dict loads) and repr.

    >>> nn.InstanceNorm2d(3)(irc.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
"""

from __future__ import annotations

import warnings

import numpy as np

from irc.frontend.autograd import no_grad
from irc.frontend.graph import Tracing
from irc.frontend.tensor import Tensor
from irc.nn import functional as F
from irc.nn.modules import (
    Dropout,
    Module,
    Parameter,
    _Activation,
    _flush_stale,
    _NormBase,
    _pending_state,
    _SoftmaxLike,
)


# ------------------------------------------------------------------ normalization
class _InstanceNorm(_NormBase):
    """Shared by InstanceNorm1d/2d: per-instance statistics; with `track_running_stats`, the running
    ones are updated in training and normalize in eval (as torch)."""

    NO_BATCH_DIMS = 2

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
        track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True,
    ):  # fmt: skip
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        ranks = (self.NO_BATCH_DIMS, self.NO_BATCH_DIMS + 1)
        if input.ndim not in ranks:
            raise ValueError(f"expected {ranks[0]}D or {ranks[1]}D input (got {input.ndim}D input)")
        feature_dim = input.ndim - self.NO_BATCH_DIMS
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"expected input's size at dim={feature_dim} to match num_features ({self.num_features}), "
                    f"but got: {input.shape[feature_dim]}."
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. You can silence this warning by not "
                "passing in num_features, which is not used because affine=False",
                stacklevel=2,
            )
        x = input.unsqueeze(0) if feature_dim == 0 else input
        use_input_stats = self.training or not self.track_running_stats
        if use_input_stats and self.track_running_stats:
            _flush_stale(self)
            if Tracing.depth == 0:
                _pending_state.update((id(b), b) for b in self.buffers(recurse=False))
        momentum = 0.0 if self.momentum is None else self.momentum
        out = F.instance_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats, momentum, self.eps
        )
        return out.squeeze(0) if feature_dim == 0 else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or (C, L) input."""

    NO_BATCH_DIMS = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or (C, H, W) input."""

    NO_BATCH_DIMS = 3


class GroupNorm(Module):
    """Normalize each sample over `num_groups` groups of channels; per-channel weight (ones) and bias (zeros)."""

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None, dtype=None,
        *, bias: bool = True,
    ):  # fmt: skip
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.register_parameter("weight", Parameter(np.ones(num_channels, np.float32)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_channels, np.float32)) if affine and bias else None)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


# ------------------------------------------------------------------ padding
class _Pad(Module):
    """F.pad by `padding` (an int for every side, or torch's (left, right[, top, bottom]) tuple)."""

    MODE = "constant"
    SIDES = 2

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding,) * self.SIDES if isinstance(padding, int) else tuple(padding)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self.MODE)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_Pad):
    MODE = "reflect"


class ReflectionPad2d(_Pad):
    MODE, SIDES = "reflect", 4


class ReplicationPad1d(_Pad):
    MODE = "replicate"


class ReplicationPad2d(_Pad):
    MODE, SIDES = "replicate", 4


class ConstantPad1d(_Pad):
    """Pad with `value`."""

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    SIDES = 4


class ZeroPad1d(ConstantPad1d):
    """Pad with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ZeroPad1d):
    SIDES = 4


# ------------------------------------------------------------------ dropout, pixel shuffle
class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) / (C, L) input with probability p in training; identity in eval."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) / (N, C, L) input with probability p in training; identity in eval."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)


class AlphaDropout(Dropout):
    """SELU's dropout (F.alpha_dropout) in training; identity in eval."""

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class PixelShuffle(Module):
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W)."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


# ------------------------------------------------------------------ activations
class Hardtanh(_Activation):
    """x clamped to [min_val, max_val]."""

    function = staticmethod(F.hardtanh)
    ARGS = ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        if not max_val > min_val:
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        super().__init__(min_val, max_val, inplace=inplace)


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _PlainActivation(_Activation):
    def __init__(self, inplace: bool = False):
        super().__init__(inplace=inplace)


class Hardsigmoid(_PlainActivation):
    function = staticmethod(F.hardsigmoid)


class Hardswish(_PlainActivation):
    function = staticmethod(F.hardswish)


class Mish(_PlainActivation):
    function = staticmethod(F.mish)


class SELU(_PlainActivation):
    function = staticmethod(F.selu)


class Softsign(_Activation):
    function = staticmethod(F.softsign)


class Tanhshrink(_Activation):
    function = staticmethod(F.tanhshrink)


class Softshrink(_Activation):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""

    function = staticmethod(F.softshrink)
    ARGS = ("lambd",)

    def __init__(self, lambd: float = 0.5):
        super().__init__(lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x where |x| > lambd, else 0."""

    function = staticmethod(F.hardshrink)


class RReLU(_Activation):
    """x where x > 0, else a * x: a ~ U(lower, upper) per element in training, (lower + upper) / 2 in eval."""

    ARGS = ("lower", "upper")

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__(lower, upper, inplace=inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.rrelu(x, self.lower, self.upper, self.training)


class LogSigmoid(_Activation):
    function = staticmethod(F.logsigmoid)


class CELU(_Activation):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    function = staticmethod(F.celu)
    ARGS = ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(alpha, inplace=inplace)


class Threshold(_Activation):
    """x where x > threshold, else value."""

    function = staticmethod(F.threshold)
    ARGS = ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__(threshold, value, inplace=inplace)


class GLU(_Activation):
    """a * sigmoid(b) for the halves of the input along dim."""

    function = staticmethod(F.glu)
    ARGS = ("dim",)

    def __init__(self, dim: int = -1):
        super().__init__(dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(_SoftmaxLike):
    function = staticmethod(F.softmin)


class PReLU(Module):
    """x where x > 0, else weight * x; `weight` holds `num_parameters` slopes (one, or one per channel)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(np.full(num_parameters, init, np.float32))

    def reset_parameters(self) -> None:
        with no_grad():
            self.weight.fill_(self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


# ------------------------------------------------------------------ distances
class CosineSimilarity(Module):
    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


__all__ = [
    "InstanceNorm1d", "InstanceNorm2d", "GroupNorm",
    "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "ZeroPad1d", "ZeroPad2d",
    "ConstantPad1d", "ConstantPad2d", "Dropout1d", "Dropout2d", "AlphaDropout", "PixelShuffle", "PixelUnshuffle",
    "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "Mish", "SELU", "Softsign", "Tanhshrink", "LogSigmoid", "CELU",
    "Threshold", "GLU", "Softmin", "PReLU", "CosineSimilarity", "PairwiseDistance", "Softshrink", "Hardshrink",
    "RReLU",
]  # fmt: skip
