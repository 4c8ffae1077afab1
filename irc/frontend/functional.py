"""`irc.nn.functional`: torch.nn.functional spellings over hl ops."""

from __future__ import annotations

from irc.errors import FrontendError
from irc.frontend.graph import apply, user_location
from irc.frontend.tensor import Tensor, as_tensor
from irc.ir import hl


def _pair(v) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(v[0]), int(v[1])]


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    return as_tensor(x).relu()


def sigmoid(x: Tensor) -> Tensor:
    return as_tensor(x).sigmoid()


def tanh(x: Tensor) -> Tensor:
    return as_tensor(x).tanh()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return as_tensor(x).softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return as_tensor(x).log_softmax(dim)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias (weight is (out_features, in_features), as in PyTorch)."""
    out = as_tensor(x) @ as_tensor(weight).t()
    return out if bias is None else out + bias


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """NCHW input, OIHW weight, optional bias of O."""
    x, weight = as_tensor(x), as_tensor(weight)
    if isinstance(padding, str):
        raise FrontendError("conv2d: string padding is not supported; give the pad sizes", user_location()[:2])
    out = x._new(
        apply(
            hl.Conv2dOp,
            [x._node, weight._node],
            stride=_pair(stride),
            padding=_pair(padding),
            dilation=_pair(dilation),
            groups=int(groups),
        )
    )
    return out if bias is None else out + as_tensor(bias).reshape(1, -1, 1, 1)


def _pool(op, x: Tensor, kernel_size, stride, padding) -> Tensor:
    x = as_tensor(x)
    stride = kernel_size if stride is None else stride
    return x._new(apply(op, [x._node], kernel=_pair(kernel_size), stride=_pair(stride), padding=_pair(padding)))


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
        raise FrontendError(f"pad: {list(pad)} must hold (left, right) pairs for at most {x.ndim} dims", user_location()[:2])
    low, high = [0] * x.ndim, [0] * x.ndim
    for i in range(len(pad) // 2):
        low[x.ndim - 1 - i], high[x.ndim - 1 - i] = pad[2 * i], pad[2 * i + 1]
    return x._new(apply(hl.PadOp, [x._node], low=low, high=high, value=float(value)))


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
