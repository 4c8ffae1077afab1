"""`irc.nn.functional`: torch.nn.functional spellings over hl ops.

Activations, normalizations and losses beyond the hl primitives are
compositions of Tensor methods (decompositions), so they get gradients,
every backend and fusion from the ops they are made of.
"""

from __future__ import annotations

import math
import warnings

from irc.errors import FrontendError
from irc.frontend.autograd import no_grad
from irc.frontend.graph import Tracing, apply, user_location
from irc.frontend.tensor import Tensor, arange, as_tensor, ones, rng_key, where
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


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) with the normal CDF by erf (`approximate="none"`) or by PyTorch's tanh formula ("tanh")."""
    x = as_tensor(input)
    if approximate == "none":
        return x * 0.5 * (1.0 + (x * math.sqrt(0.5)).erf())
    if approximate == "tanh":
        return x * 0.5 * (1.0 + ((x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)).tanh())
    raise FrontendError("approximate argument must be either none or tanh.", user_location()[:2])


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    x = as_tensor(input)
    return x * x.sigmoid()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    x = as_tensor(input)
    return where(x > 0, x, x * negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    x = as_tensor(input)
    # exp of min(x, 0): the branch not taken never overflows (an inf there would make its zero gradient nan)
    return where(x > 0, x, (x.minimum(0.0).exp() - 1.0) * alpha)


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


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """The rows of `weight` at the int indices `input`: shape (*input.shape, embedding_dim), as torch.

    The row at `padding_idx` gets no gradient.  An index out of range is an IndexError on the
    interpreting tier; compiled code clamps it (docs/nn.md).

    >>> F.embedding(irc.tensor([[0, 2]]), irc.randn(3, 4)).shape
    (1, 2, 4)
    """
    index, weight = as_tensor(input), as_tensor(weight)
    if index._node.dtype not in ("i32", "i64"):
        raise FrontendError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
            f"but got {_torch_dtype(index)} instead (while checking arguments for embedding)",
            user_location()[:2],
        )
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise FrontendError("embedding: max_norm, scale_grad_by_freq and sparse are not supported", user_location()[:2])
    flat = index.reshape(-1)
    rows = weight.index_select(0, flat)
    if padding_idx is not None:
        n = weight.shape[0]
        if not -n <= padding_idx < n:
            raise FrontendError("Padding_idx must be within num_embeddings", user_location()[:2])
        rows = where((flat == padding_idx % n).reshape(-1, 1), rows.detach(), rows)
    return rows.reshape(*index.shape, weight.shape[1])


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot vectors along a new last dim of size `num_classes` (-1: the largest class + 1, eager only).

    >>> F.one_hot(irc.tensor([0, 2]), 3)   # [[1, 0, 0], [0, 0, 1]]
    """
    t = as_tensor(tensor)
    if t._node.dtype != "i64":
        raise FrontendError("one_hot is only applicable to index tensor of type LongTensor.", user_location()[:2])
    if num_classes == -1:
        if Tracing.depth:
            raise FrontendError(
                "one_hot with num_classes=-1 has a data-dependent shape: give num_classes inside irc.jit",
                user_location()[:2],
            )
        num_classes = int(t.numpy().max(initial=-1)) + 1
    return (t.unsqueeze(-1) == arange(num_classes, device=t.device)).long()


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(q @ k^T * scale + mask) @ v, composed of hl ops, as torch's reference implementation.

    `is_causal` masks out the upper triangle (position i attends to j <= i); a bool `attn_mask`
    keeps where true, a float one is added.
    """
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    L, S = q.shape[-2], k.shape[-2]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if is_causal:
        scores = scores.masked_fill(ones(L, S, dtype="bool", device=q.device).tril().bitwise_not(), -math.inf)
    if attn_mask is not None:
        mask = as_tensor(attn_mask)
        scores = scores.masked_fill(mask.bitwise_not(), -math.inf) if mask._node.dtype == "i1" else scores + mask
    weights = scores.softmax(-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ v


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
        mean, centered, var = _moments(x, dims)
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


def layer_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalize over the trailing dims `normalized_shape` (biased variance), then scale and shift elementwise."""
    x = as_tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) > x.ndim or x.shape[x.ndim - len(shape) :] != shape:
        raise FrontendError(
            f"Given normalized_shape={list(shape)}, expected input with shape [*, {', '.join(map(str, shape))}], "
            f"but got input of size{list(x.shape)}",
            user_location()[:2],
        )
    _, centered, var = _moments(x, list(range(x.ndim - len(shape), x.ndim)))
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _moments(x: Tensor, dims: list[int]) -> tuple[Tensor, Tensor, Tensor]:
    """mean, x - mean and the biased variance over `dims` (kept as size-1 dims)."""
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    return mean, centered, (centered * centered).mean(dims, keepdim=True)


# ------------------------------------------------------------------ losses
#
# Each takes PyTorch's arguments in PyTorch's order, the deprecated
# `size_average` / `reduce` included (mapped to `reduction` with PyTorch's warning).


def mse_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", weight=None
) -> Tensor:
    """(input - target)**2, optionally times an elementwise `weight`."""
    d = as_tensor(input) - target
    return _weighted(d * d, weight, _legacy_reduction(size_average, reduce, reduction), True, True)


def l1_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", weight=None
) -> Tensor:
    """|input - target|, optionally times an elementwise `weight`."""
    loss = (as_tensor(input) - target).abs()
    return _weighted(loss, weight, _legacy_reduction(size_average, reduce, reduction), True, True)


def smooth_l1_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target; beta=0 is the L1 loss)."""
    if beta < 0:
        raise FrontendError("smooth_l1_loss does not support negative values for beta.", user_location()[:2])
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    d = (as_tensor(input) - target).abs()
    return _reduce(where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0, weight=None
) -> Tensor:  # fmt: skip
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta): `delta * smooth_l1_loss(beta=delta)`."""
    if delta <= 0:
        raise FrontendError("huber_loss does not support non-positive values for delta.", user_location()[:2])
    d = (as_tensor(input) - target).abs()
    return _weighted(where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), weight, reduction, True)


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight=None, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """-(t * log(x) + (1 - t) * log(1 - x)) of probabilities x, each log clamped at -100 as in PyTorch."""
    x, t = as_tensor(input), as_tensor(target)
    if t.shape != x.shape:
        raise FrontendError(
            f"Using a target size ({_size(t)}) that is different to the input size ({_size(x)}) is deprecated. "
            "Please ensure they have the same size.",
            user_location()[:2],
        )
    loss = -(t * x.log().maximum(-100.0) + (1.0 - t) * (1.0 - x).log().maximum(-100.0))
    return _weighted(loss, weight, _legacy_reduction(size_average, reduce, reduction))


def binary_cross_entropy_with_logits(
    input: Tensor, target: Tensor, weight=None, size_average=None, reduce=None, reduction: str = "mean",
    pos_weight=None,
) -> Tensor:  # fmt: skip
    """binary_cross_entropy(sigmoid(x), t) in the stable form (1 - t) * x - w_t * log_sigmoid(x), where
    w_t = 1 + (pos_weight - 1) * t weighs the positive term."""
    x, t = as_tensor(input), as_tensor(target)
    if t.shape != x.shape:
        raise FrontendError(
            f"Target size ({_size(t)}) must be the same as input size ({_size(x)})", user_location()[:2]
        )
    log_sigmoid = x.minimum(0.0) - (1.0 + (-x.abs()).exp()).log()
    if pos_weight is not None:
        log_sigmoid = log_sigmoid * ((as_tensor(pos_weight) - 1.0) * t + 1.0)
    loss = (1.0 - t) * x - log_sigmoid
    return _weighted(loss, weight, _legacy_reduction(size_average, reduce, reduction))


def kl_div(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """target * (log(target) - input) for log-probabilities `input` (0 where target is 0);
    `log_target=True` takes log-probability targets. `reduction="batchmean"` divides the sum by the batch size."""
    x, t = as_tensor(input), as_tensor(target)
    if log_target:
        loss = t.exp() * (t - x)
    else:
        positive = t > 0
        loss = where(positive, t * where(positive, t, 1.0).log(), 0.0) - t * x
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            UserWarning,
            stacklevel=2,
        )
    if reduction == "batchmean":
        return loss.sum() / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction)


def nll_loss(
    input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """-input[n, target[n], ...] for log-probabilities (N, C, d1, ...) or (C,) and class targets (N, d1, ...)
    or (); `weight` (C,) weighs the classes, and "mean" divides by the summed weights of the counted targets."""
    x, t = as_tensor(input), as_tensor(target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_class_target(x, t, ignore_index)
    picked, counted = _pick_classes(x, t, _class_weight(weight, x), ignore_index)
    loss = -picked
    if reduction == "mean":
        return loss.sum() / counted.sum()
    return _reduce(loss, reduction)


def cross_entropy(
    input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
    reduction: str = "mean", label_smoothing: float = 0.0,
) -> Tensor:  # fmt: skip
    """log_softmax over the class dim (1, or 0 for a (C,) input) and the negative log-likelihood.

    `target` holds class indices (N, d1, ...), or class probabilities of the
    input's shape.  `label_smoothing` mixes the targets with the uniform
    distribution; `ignore_index` and `weight` work as in `nll_loss`.
    """
    x, t = as_tensor(input), as_tensor(target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise FrontendError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}", user_location()[:2])
    class_dim = 0 if x.ndim == 1 else 1
    classes = x.shape[class_dim] if x.ndim else 0
    logp = x.log_softmax(class_dim)
    w = _class_weight(weight, x)
    if t.shape == x.shape and t.dtype.kind == "f":  # class probabilities
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / classes
        loss = -(logp * t if w is None else logp * t * w)
        if reduction == "mean":
            return loss.sum() / (x.numel() // max(classes, 1))
        return loss.sum(class_dim) if reduction == "none" else _reduce(loss, reduction)
    _check_class_target(x, t, ignore_index)
    picked, counted = _pick_classes(logp, t, w, ignore_index)
    loss = -picked
    if label_smoothing > 0:
        smooth = -(logp if w is None else logp * w).sum(class_dim) * (t != ignore_index).type_as(logp)
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / classes)
    if reduction == "mean":
        return loss.sum() / counted.sum()
    return _reduce(loss, reduction)


def _check_class_target(x: Tensor, t: Tensor, ignore_index: int) -> None:
    """PyTorch's checks of class-index targets: the input's shape without the class dim, an integer dtype,
    and (for a target that is already realized, so checked for free) values that are classes."""
    where_ = user_location()[:2]
    if x.ndim == 0:
        raise FrontendError(f"Expected input of shape (C,), (N, C) or (N, C, d1, ...), got {list(x.shape)}", where_)
    if x.ndim > 1 and t.ndim >= 1 and x.shape[0] != t.shape[0]:
        raise FrontendError(
            f"Expected input batch_size ({x.shape[0]}) to match target batch_size ({t.shape[0]}).", where_
        )
    expected = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if t.shape != expected:
        if x.ndim <= 2:
            raise FrontendError("0D or 1D target tensor expected, multi-target not supported", where_)
        raise FrontendError(f"Expected target size {list(expected)}, got {list(t.shape)}", where_)
    if t.dtype.kind not in "iu":
        raise FrontendError(f"expected target dtype to be Long or Byte, but got {_torch_dtype(t)}", where_)
    classes = x.shape[0 if x.ndim == 1 else 1]
    if t._node.value is not None and t.numel():
        labels = t.numpy()
        bad = labels[((labels < 0) | (labels >= classes)) & (labels != ignore_index)]
        if bad.size:
            raise FrontendError(f"Target {bad.flat[0]} is out of bounds.", where_)


def _class_weight(weight, x: Tensor) -> Tensor | None:
    """A per-class weight (C,) shaped to broadcast along the class dim of `x` (1, or 0 for a (C,) input)."""
    return None if weight is None else as_tensor(weight).reshape([-1] + [1] * max(x.ndim - 2, 0))


def _pick_classes(logp: Tensor, t: Tensor, weight: Tensor | None, ignore_index: int) -> tuple[Tensor, Tensor]:
    """(weight[t] * logp[.., t, ..], weight[t]) per target, both 0 where t == ignore_index; via a one-hot
    mask from comparing `t` with an iota over the classes (no gather). `weight` as `_class_weight` gives it."""
    class_dim = 0 if logp.ndim == 1 else 1
    classes = Tensor(apply(hl.IotaOp, [], hl.tensor_type(logp.shape, hl.DTYPES["i64"]), dim=class_dim), logp.device)
    one_hot = (classes == t.long().unsqueeze(class_dim)) & (t != ignore_index).unsqueeze(class_dim)
    mask = one_hot.type_as(logp)
    if weight is not None:
        mask = mask * weight
    return (logp * mask).sum(class_dim), mask.sum(class_dim)


def _weighted(loss: Tensor, weight, reduction: str, same_size: bool = False, mean_by_weight: bool = False) -> Tensor:
    """`loss * weight`, reduced.  `same_size`: the weight must have the loss's shape (mse, l1, huber);
    `mean_by_weight`: "mean" divides the weighted sum by the summed weights (mse, l1), as PyTorch does."""
    if weight is None:
        return _reduce(loss, reduction)
    weight = as_tensor(weight)
    if same_size and weight.shape != loss.shape:
        raise FrontendError("Weights and input must have the same size.", user_location()[:2])
    if mean_by_weight and reduction == "mean":
        return (loss * weight).sum() / weight.sum()
    return _reduce(loss * weight, reduction)


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """`reduction`, or what the deprecated size_average / reduce flags mean (with PyTorch's warning)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
        UserWarning,
        stacklevel=3,
    )
    return reduction


def _size(x: Tensor) -> str:
    return f"torch.Size({list(x.shape)})"


def _torch_dtype(x: Tensor) -> str:
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "bool": "Bool", "int32": "Int"}
    return names.get(str(x.dtype), str(x.dtype))


def _reduce(x: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise FrontendError(f"{reduction} is not a valid value for reduction", user_location()[:2])
