"""`irc.nn.functional`: torch.nn.functional spellings over hl ops."""

from __future__ import annotations

from irc.errors import FrontendError
from irc.frontend.autograd import no_grad
from irc.frontend.graph import apply, user_location
from irc.frontend.tensor import Tensor, as_tensor, rng_key, where
from irc.ir import hl


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    return as_tensor(x).relu()


def sigmoid(x: Tensor) -> Tensor:
    return as_tensor(x).sigmoid()


def tanh(x: Tensor) -> Tensor:
    return as_tensor(x).tanh()


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as in PyTorch).

    >>> softplus(irc.tensor([0.0, 100.0]))   # [log(2), 100]: no overflow
    """
    x = as_tensor(x)
    scaled = x if beta == 1 else x * beta
    y = scaled._unary(hl.SoftplusOp)
    return where(scaled > threshold, x, y if beta == 1 else y / beta)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return as_tensor(x).softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return as_tensor(x).log_softmax(dim)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias (weight is (out_features, in_features), as in PyTorch)."""
    out = as_tensor(x) @ as_tensor(weight).t()
    return out if bias is None else out + bias


def conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups: int = 1
) -> Tensor:
    """NCHW input, OIHW weight, optional bias of O."""
    x, weight = as_tensor(x), as_tensor(weight)
    if isinstance(padding, str):
        raise FrontendError("conv2d: string padding is not supported; give the pad sizes", user_location()[:2])
    out = x._new(
        apply(
            hl.Conv2dOp,
            [x._node, weight._node],
            stride=hl.pair(stride),
            padding=hl.pair(padding),
            dilation=hl.pair(dilation),
            groups=int(groups),
        )
    )
    return out if bias is None else out + as_tensor(bias).reshape(1, -1, 1, 1)


def _pool(op, x: Tensor, kernel_size, stride, padding) -> Tensor:
    x = as_tensor(x)
    stride = kernel_size if stride is None else stride
    return x._new(apply(op, [x._node], kernel=hl.pair(kernel_size), stride=hl.pair(stride), padding=hl.pair(padding)))


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    return _pool(hl.MaxPool2dOp, x, kernel_size, stride, padding)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    return _pool(hl.AvgPool2dOp, x, kernel_size, stride, padding)


def pad(x: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> Tensor:
    """torch.nn.functional.pad: `pad` lists (left, right) pairs from the last dim backwards."""
    x = as_tensor(x)
    if mode != "constant":
        raise FrontendError(f"pad: only mode='constant' is supported, got {mode!r}", user_location()[:2])
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise FrontendError(
            f"pad: {list(pad)} must hold (left, right) pairs for at most {x.ndim} dims", user_location()[:2]
        )
    low, high = [0] * x.ndim, [0] * x.ndim
    for i in range(len(pad) // 2):
        low[x.ndim - 1 - i], high[x.ndim - 1 - i] = pad[2 * i], pad[2 * i + 1]
    return x._new(apply(hl.PadOp, [x._node], low=low, high=high, value=float(value)))


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p); identity when not training."""
    x = as_tensor(input)
    if not 0.0 <= p <= 1.0:
        raise FrontendError(f"dropout probability has to be between 0 and 1, but got {p}", user_location()[:2])
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    uniform = Tensor(apply(hl.RandomUniformOp, [rng_key()], x._node.type), x.device)
    keep = (uniform >= p).type_as(x) * (1.0 / (1.0 - p))
    return x * keep


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over every dim but 1 (channels), as torch.nn.functional.batch_norm.

    In training, batch statistics normalize and the running statistics (when
    given) are updated in place: r = (1 - momentum) * r + momentum * s, with
    the unbiased batch variance for `running_var`.
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise FrontendError(
            f"batch_norm: expected input of rank >= 2 (N, C, ...), got {list(x.shape)}", user_location()[:2]
        )
    stat_shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
    if training:
        dims = [d for d in range(x.ndim) if d != 1]
        count = x.numel() // max(x.shape[1], 1)
        if count == 1:
            raise FrontendError(
                f"batch_norm: expected more than 1 value per channel when training, got input of shape {list(x.shape)}",
                user_location()[:2],
            )
        mean = x.mean(dims, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(dims, keepdim=True)
        # an empty batch has no statistics: the running ones stay as they are (as in PyTorch)
        if running_mean is not None and running_var is not None and count > 0:
            with no_grad():
                running_mean._assign(running_mean * (1 - momentum) + mean.reshape(-1) * momentum)
                running_var._assign(running_var * (1 - momentum) + var.reshape(-1) * (momentum * count / (count - 1)))
    else:
        if running_mean is None or running_var is None:
            raise FrontendError(
                "batch_norm: running_mean and running_var are needed when not training", user_location()[:2]
            )
        mean, var = running_mean.reshape(stat_shape), running_var.reshape(stat_shape)
        centered = x - mean
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * as_tensor(weight).reshape(stat_shape)
    if bias is not None:
        out = out + as_tensor(bias).reshape(stat_shape)
    return out


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    d = as_tensor(input) - target
    return _reduce(d * d, reduction)


def cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Logits (N, C) and integer class targets (N,), like torch.nn.functional.cross_entropy."""
    logits, target = as_tensor(input), as_tensor(target)
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise FrontendError(
            f"cross_entropy: expected logits (N, C) and targets (N,), got {list(logits.shape)} and {list(target.shape)}",
            user_location()[:2],
        )
    classes = Tensor(apply(hl.IotaOp, [], hl.tensor_type(logits.shape, hl.DTYPES["i64"]), dim=1), logits.device)
    one_hot = (classes == target.long().reshape(-1, 1)).type_as(logits)
    return _reduce(-(logits.log_softmax(1) * one_hot).sum(1), reduction)


def _reduce(x: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise FrontendError(f"unknown reduction {reduction!r} (mean, sum, none)", user_location()[:2])
