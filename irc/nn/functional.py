"""`irc.nn.functional`: torch.nn.functional spellings over hl ops.

Activations, normalizations and losses beyond the hl primitives are
compositions of Tensor methods (decompositions), so they get gradients,
every backend and fusion from the ops they are made of.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from irc.errors import FrontendError
from irc.frontend.autograd import no_grad
from irc.frontend.graph import Tracing, apply, is_leaf, user_location
from irc.frontend.tensor import Tensor, _spread, arange, as_tensor, cat, ones, rng_key, stack, tensor, where, zeros
from irc.ir import hl
from irc.runtime.devices import to_host


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
    # exp of min(x, 0): the branch not taken never overflows (an inf there would make its zero gradient nan);
    # clamp, not minimum: at x = 0 the gradient is alpha * exp(0), as torch's (minimum would halve it)
    return where(x > 0, x, (x.clamp(max=0.0).exp() - 1.0) * alpha)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """torch's deprecated implicit dim (a call without `dim=`): 0 for 0-, 1- and 3-D input, else 1."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (without it torch's implicit dim, with its warning)."""
    x = as_tensor(x)
    if dim is None:
        dim = _softmax_dim("softmax", x.ndim, _stacklevel)
    return x.softmax(dim, dtype=dtype)


def log_softmax(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log(softmax(x, dim)), computed stably (without `dim` torch's implicit dim, with its warning)."""
    x = as_tensor(x)
    if dim is None:
        dim = _softmax_dim("log_softmax", x.ndim, _stacklevel)
    return x.log_softmax(dim, dtype=dtype)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias (weight is (out_features, in_features), as in PyTorch)."""
    out = as_tensor(x) @ as_tensor(weight).t()
    return out if bias is None else out + bias


def conv2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups: int = 1
) -> Tensor:
    """NCHW (or unbatched CHW) input, OIHW weight, optional bias of O; `padding` may be "valid" or "same"
    (stride 1; an even kernel pads one more on the high side, as PyTorch)."""
    x, weight = as_tensor(input), as_tensor(weight)
    if x.ndim == 3:
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if x.ndim != 4:
        raise FrontendError(
            f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {list(x.shape)}",
            user_location()[:2],
        )
    if isinstance(padding, str):
        low, high = _same_padding(padding, weight.shape[2:], stride, dilation)
        if low != high:  # the odd one out goes on the high side
            x = pad(x, (0, high[1] - low[1], 0, high[0] - low[0]))
        padding = low
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


def _same_padding(padding: str, kernel, stride, dilation) -> tuple[tuple[int, int], tuple[int, int]]:
    """(low, high) padding per spatial dim for `padding="valid"` (none) or `"same"` (output size = input size)."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding != "same":
        raise FrontendError(f"Invalid padding string: {padding!r}", user_location()[:2])
    if hl.pair(stride) != (1, 1):
        raise FrontendError("padding='same' is not supported for strided convolutions", user_location()[:2])
    total = [d * (k - 1) for k, d in zip(kernel, hl.pair(dilation))]
    low = (total[0] // 2, total[1] // 2)
    return low, (total[0] - low[0], total[1] - low[1])


def conv_transpose2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, output_padding=0,
    groups: int = 1, dilation=1,
) -> Tensor:  # fmt: skip
    """The transposed convolution (the gradient of conv2d by its input); weight (C_in, C_out/groups, kh, kw).

    A composition: one matmul gives every input pixel's contribution `x[n, :, h, w] @ weight[:, :, i, j]`
    for each kernel offset (i, j); each offset's contributions are spread by the stride (zeros between)
    to their place (offset (i, j) * dilation) in the full output and summed, and `padding` is cut from
    its border.  (Convolving the stride-spread input with the flipped weight is the same function, but
    its weight gradient is a convolution with an output-sized kernel, which compiles very slowly.)
    """
    x, w = as_tensor(input), as_tensor(weight)
    if x.ndim == 3:
        return conv_transpose2d(x.unsqueeze(0), w, bias, stride, padding, output_padding, groups, dilation).squeeze(0)
    if x.ndim != 4:
        raise FrontendError(
            f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input of size: "
            f"{list(x.shape)}",
            user_location()[:2],
        )
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = (hl.pair(v) for v in (stride, padding, output_padding, dilation))
    n, c, h, wd = x.shape
    if w.ndim != 4 or w.shape[0] != c:
        raise FrontendError(
            f"Given transposed=1, weight of size {list(w.shape)}, expected input{list(x.shape)} to have "
            f"{w.shape[0] if w.ndim else 0} channels, but got {c} channels instead",
            user_location()[:2],
        )
    if not (oph < sh or oph < dh) or not (opw < sw or opw < dw):
        raise FrontendError(
            f"output padding must be smaller than either stride or dilation, but got output_padding_height: {oph} "
            f"output_padding_width: {opw} stride_height: {sh} stride_width: {sw} dilation_height: {dh} "
            f"dilation_width: {dw}",
            user_location()[:2],
        )
    cout_g, kh, kw = w.shape[1:]
    full = [(h - 1) * sh + dh * (kh - 1) + 1 + oph, (wd - 1) * sw + dw * (kw - 1) + 1 + opw]
    xg = x.reshape(n, groups, c // groups, h * wd).transpose(2, 3)  # (n, g, h*w, C_in/g)
    y = (xg @ w.reshape(groups, c // groups, cout_g * kh * kw)).reshape(n, groups, h, wd, cout_g, kh, kw)
    y = y.permute(0, 1, 4, 5, 6, 2, 3).reshape(n, groups * cout_g, kh, kw, h, wd)
    shape = (n, groups * cout_g, *full)
    parts = [
        _spread(y[:, :, i, j], [0, 0, i * dh, j * dw], [1, 1, sh, sw], shape) for i in range(kh) for j in range(kw)
    ]
    out = pad(functools.reduce(Tensor.__add__, parts), (-pw, -pw, -ph, -ph))
    return out if bias is None else out + as_tensor(bias).reshape(1, -1, 1, 1)


def _pool(op, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool, pad_value: float):
    """Pool `x` (NCHW or CHW) with PyTorch's output size; returns (result, the padded input's extra high
    rows/columns that ceil_mode adds, output size).  Dilated windows are the max of strided slices."""
    x = as_tensor(x)
    if x.ndim == 3:
        y, extra, out = _pool(op, x.unsqueeze(0), kernel_size, stride, padding, dilation, ceil_mode, pad_value)
        return y.squeeze(0), extra, out
    if x.ndim != 4 or 0 in x.shape[1:]:
        raise FrontendError("non-empty 3D or 4D (batch mode) tensor expected for input", user_location()[:2])
    k = hl.pair(kernel_size)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else hl.pair(stride)
    p, d = hl.pair(padding), hl.pair(dilation)
    if min(s) == 0:
        raise FrontendError("stride should not be zero", user_location()[:2])
    for pi, ki, di in zip(p, k, d):
        if pi > ((ki - 1) * di + 1) // 2:
            raise FrontendError(
                f"pad should be at most half of effective kernel size, but got pad={pi}, kernel_size={ki} and "
                f"dilation={di}",
                user_location()[:2],
            )
    out, extra = [], []
    for n, ki, si, pi, di in zip(x.shape[2:], k, s, p, d):
        reach = di * (ki - 1) + 1
        o = (n + 2 * pi - reach + (si - 1 if ceil_mode else 0)) // si + 1
        if ceil_mode and (o - 1) * si >= n + pi:  # the last window must start inside the input or its left pad
            o -= 1
        out.append(o)
        extra.append(max((o - 1) * si + reach - n - 2 * pi, 0))
    if min(out) < 1:
        c, h, w = x.shape[1:]
        raise FrontendError(
            f"Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{out[0]}x{out[1]}). "
            "Output size is too small",
            user_location()[:2],
        )
    if any(extra):
        x = pad(x, (0, extra[1], 0, extra[0]), value=pad_value)
    if d == (1, 1):
        return x._new(apply(op, [x._node], kernel=k, stride=s, padding=p)), extra, out
    x = pad(x, (p[1], p[1], p[0], p[0]), value=pad_value)
    windows = _pool_windows(x, k, s, d, out)
    while len(windows) > 1:  # pairwise, not a chain: the compiled expression nests log2(kh * kw) deep
        windows = [a.maximum(b) for a, b in zip(windows[::2], windows[1::2])] + windows[len(windows) & ~1 :]
    return windows[0], extra, out


def _pool_windows(x: Tensor, k, s, d, out) -> list[Tensor]:
    """The kh * kw strided slices of the padded `x` that the pooling windows read, in row-major kernel order."""
    return [
        x[
            :,
            :,
            i * d[0] : i * d[0] + s[0] * (out[0] - 1) + 1 : s[0],
            j * d[1] : j * d[1] + s[1] * (out[1] - 1) + 1 : s[1],
        ]
        for i in range(k[0])
        for j in range(k[1])
    ]


def max_pool2d(
    input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:  # fmt: skip
    """Max over kernel_size windows (padding counts as -inf), as torch.nn.functional.max_pool2d; with
    `return_indices=True` also each maximum's flat position in its input plane (``h * W + w``, the first
    of tied ones), as torch gives them to `max_unpool2d`."""
    y, extra, out = _pool(hl.MaxPool2dOp, input, kernel_size, stride, padding, dilation, ceil_mode, -math.inf)
    if not return_indices:
        return y
    return y, _max_pool2d_indices(as_tensor(input), kernel_size, stride, padding, dilation, extra, out)


def _max_pool2d_indices(x: Tensor, kernel_size, stride, padding, dilation, extra, out) -> Tensor:
    """The argmax of each window (stacked slices of the padded input) turned into a row and a column of x."""
    if x.ndim == 3:
        return _max_pool2d_indices(x.unsqueeze(0), kernel_size, stride, padding, dilation, extra, out).squeeze(0)
    k, p, d = hl.pair(kernel_size), hl.pair(padding), hl.pair(dilation)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else hl.pair(stride)
    with no_grad():
        xp = pad(x.detach(), (p[1], p[1] + extra[1], p[0], p[0] + extra[0]), value=-math.inf)
        best = stack(_pool_windows(xp, k, s, d, out), -1).argmax(-1)  # the first maximum, as torch's scan
        ki = best // k[1]
        rows = arange(out[0], device=x.device).reshape(-1, 1) * s[0] - p[0] + ki * d[0]
        cols = arange(out[1], device=x.device) * s[1] - p[1] + (best - ki * k[1]) * d[1]
        return rows * x.shape[-1] + cols


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """torch.nn.functional.max_unpool2d: zeros of the unpooled size with `input` put at `indices` (flat
    positions in each plane, as max_pool2d returns them): one hl.scatter."""
    x, index = as_tensor(input), as_tensor(indices)
    if x.ndim == 3:
        return max_unpool2d(x.unsqueeze(0), index.unsqueeze(0), kernel_size, stride, padding, output_size).squeeze(0)
    if x.ndim != 4:
        raise FrontendError(
            f"Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with {x.ndim} dimensions.",
            user_location()[:2],
        )
    if index.shape != x.shape:
        raise FrontendError(
            f"Expected shape of indices to be same as that of the input tensor ({list(x.shape)}) but got indices "
            f"tensor with shape: {list(index.shape)}",
            user_location()[:2],
        )
    k, p = hl.pair(kernel_size), hl.pair(padding)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else hl.pair(stride)
    if output_size is None:
        size = [(n - 1) * si - 2 * pi + ki for n, si, pi, ki in zip(x.shape[2:], s, p, k)]
    else:
        size = list(output_size)[-2:]
    n, c = x.shape[:2]
    flat = x.new_zeros(n, c, size[0] * size[1]).scatter(2, index.reshape(n, c, -1), x.reshape(n, c, -1))
    return flat.reshape(n, c, *size)


def avg_pool2d(
    input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:  # fmt: skip
    """Mean over kernel_size windows, as torch.nn.functional.avg_pool2d.

    The divisor is the window's size clipped to the padded input (count_include_pad) or to the input
    itself, or `divisor_override`: hl.avg_pool2d divides by kh * kw, and a constant per output
    position corrects that where the divisor differs.
    """
    if divisor_override is not None and divisor_override == 0:
        raise FrontendError("divisor must be not zero", user_location()[:2])
    x = as_tensor(input)
    y, extra, out = _pool(hl.AvgPool2dOp, x, kernel_size, stride, padding, 1, ceil_mode, 0.0)
    k = hl.pair(kernel_size)
    if divisor_override is not None:
        return y * (k[0] * k[1] / divisor_override)
    p = hl.pair(padding)
    if not any(extra) and (count_include_pad or not any(p)):
        return y
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else hl.pair(stride)
    counts = [
        _window_counts(n, ki, si, pi, o, count_include_pad) for n, ki, si, pi, o in zip(x.shape[-2:], k, s, p, out)
    ]
    scale = (k[0] * k[1]) / np.outer(*counts)
    return y * tensor(scale.astype(x.dtype), device=x.device)


def _window_counts(n: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """PyTorch's avg_pool divisor along one dim: each window clipped to the padded input, or to the input."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average over PyTorch's adaptive windows: output cell i of a dim of size n averages
    [floor(i * n / o), ceil((i + 1) * n / o)).  Sizes that divide the input are avg_pool2d; any other
    is a product with a constant averaging matrix per dim (`A_h @ x @ A_w^T`)."""
    x, size = _adaptive_input(input, output_size, "adaptive_avg_pool2d", "but got")
    h, w = x.shape[-2:]
    if min(size) > 0 and h % size[0] == 0 and w % size[1] == 0:
        return avg_pool2d(x, (h // size[0], w // size[1]))
    rows, cols = (
        tensor(_adaptive_matrix(n, o).astype(x.dtype), device=x.device) for n, o in ((h, size[0]), (w, size[1]))
    )
    return rows @ x @ cols.t()


def _adaptive_input(input: Tensor, output_size, name: str, but_got: str) -> tuple[Tensor, tuple[int, int]]:
    """An adaptive pool's 3-D or 4-D input and its (out_h, out_w), from an int or a pair whose None entries keep
    the input's size; torch's messages (`but_got` is how torch's `name` words its rank error)."""
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise FrontendError(f"{name}(): Expected 3D or 4D tensor, {but_got} {list(x.shape)}", user_location()[:2])
    size = (output_size, output_size) if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(size) != 2:
        raise FrontendError(f"{name}: output_size must be 2", user_location()[:2])
    size = tuple(n if o is None else int(o) for n, o in zip(x.shape[-2:], size))
    if min(size) < 0:
        raise FrontendError(f"{name}: elements of output_size must be >= 0, got {list(size)}", user_location()[:2])
    return x, size


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over PyTorch's adaptive windows [floor(i * n / o), ceil((i + 1) * n / o)) of each dim; with
    `return_indices=True` also each maximum's flat position `h * W + w` in its input plane (the first of
    tied ones, as torch).  Sizes that divide the input are max_pool2d; any other gathers each window's
    cells (padded to the longest window by repeating its last cell), takes the first argmax and gathers
    that one cell, so the gradient goes to it alone, as torch's.

    >>> F.adaptive_max_pool2d(irc.randn(1, 3, 5, 7), (2, 3)).shape
    (1, 3, 2, 3)
    """
    x, size = _adaptive_input(input, output_size, "adaptive_max_pool2d", "but got:")
    h, w = x.shape[-2:]
    if min(size) > 0 and h % size[0] == 0 and w % size[1] == 0:
        return max_pool2d(x, (h // size[0], w // size[1]), return_indices=return_indices)
    rows, cols = _adaptive_cells(h, size[0]), _adaptive_cells(w, size[1])
    cells = rows[:, None, :, None] * w + cols[None, :, None, :]  # (oh, ow, kh, kw) flat positions
    cells = tensor(cells.reshape(size[0], size[1], -1), device=x.device)
    flat = x.flatten(-2)
    with no_grad():
        values = flat.detach().index_select(-1, cells.reshape(-1)).reshape(*x.shape[:-2], *cells.shape)
        best = values.argmax(-1, keepdim=True)
        index = cells.expand(*values.shape).gather(-1, best).squeeze(-1)
    out = flat.gather(-1, index.flatten(-2)).reshape(index.shape)
    return (out, index) if return_indices else out


def _adaptive_cells(n: int, out: int) -> np.ndarray:
    """(out, longest window): the positions of each adaptive window's cells, the last one repeated."""
    start = np.arange(out) * n // out
    end = -(-(np.arange(out) + 1) * n // out)
    return np.minimum(start[:, None] + np.arange(max(end - start, default=1)), end[:, None] - 1).astype(np.int64)


def _adaptive_matrix(n: int, out: int) -> np.ndarray:
    """(out, n): row i averages PyTorch's adaptive window [floor(i * n / out), ceil((i + 1) * n / out))."""
    matrix = np.zeros((out, n))
    for i in range(out):
        start, end = i * n // out, -(-(i + 1) * n // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


# ------------------------------------------------------------------ 1-d convolution and pooling
#
# Each is its 2-D counterpart over the input with a unit height, (N, C, L) -> (N, C, 1, L), so it
# compiles and differentiates as that op does.


def _single(v, name: str) -> int:
    """A 1-d size given as an int or a one-element sequence (`kernel_size=3`, `stride=(2,)`)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise FrontendError(f"{name}: expected an int or a 1-element tuple, got {tuple(v)}", user_location()[:2])
        return int(v[0])
    return int(v)


def _unit_height(input: Tensor, message: str) -> Tensor:
    """(N, C, L) or (C, L) input as (N, C, 1, L) or (C, 1, L); any other rank is `message`'s error."""
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise FrontendError(message.format(shape=list(x.shape), ndim=x.ndim), user_location()[:2])
    return x.unsqueeze(-2)


def _pool1d_stride(stride, kernel: int) -> int:
    return kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else _single(stride, "stride")


def conv1d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups: int = 1
) -> Tensor:
    """(N, C, L) (or unbatched (C, L)) input, weight (O, C/groups, k), optional bias of O; `padding` may be
    "valid" or "same" (stride 1), as torch.nn.functional.conv1d: conv2d over a unit height.

    >>> F.conv1d(irc.randn(2, 3, 10), irc.randn(4, 3, 5), padding="same").shape
    (2, 4, 10)
    """
    x = _unit_height(input, "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: {shape}")
    pad_ = padding if isinstance(padding, str) else (0, _single(padding, "padding"))
    stride, dilation = (1, _single(stride, "stride")), (1, _single(dilation, "dilation"))
    return conv2d(x, as_tensor(weight).unsqueeze(-2), bias, stride, pad_, dilation, groups).squeeze(-2)


def max_pool1d(
    input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:  # fmt: skip
    """Max over kernel_size windows of (N, C, L) or (C, L) input, as torch.nn.functional.max_pool1d (with
    `return_indices=True` also each maximum's position in its row)."""
    x = _unit_height(
        input,
        "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:{shape}",
    )
    k, p = _single(kernel_size, "kernel_size"), _single(padding, "padding")
    if p > k / 2:
        raise FrontendError(
            f"max_pool1d() padding should be at most half of kernel size, but got padding={p} and kernel_size={k}",
            user_location()[:2],
        )
    out = max_pool2d(
        x, (1, k), (1, _pool1d_stride(stride, k)), (0, p), (1, _single(dilation, "dilation")), ceil_mode,
        return_indices,
    )  # fmt: skip
    return (out[0].squeeze(-2), out[1].squeeze(-2)) if return_indices else out.squeeze(-2)


def avg_pool1d(
    input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True
) -> Tensor:
    """Mean over kernel_size windows of (N, C, L) or (C, L) input, as torch.nn.functional.avg_pool1d."""
    x = _unit_height(
        input,
        "Expected 2 to 3 dimensions, but got {ndim}-dimensional tensor for argument #1 'self' (while checking "
        "arguments for avg_pool1d)",
    )
    k = _single(kernel_size, "kernel_size")
    stride, padding = (1, _pool1d_stride(stride, k)), (0, _single(padding, "padding"))
    return avg_pool2d(x, (1, k), stride, padding, ceil_mode, count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average over PyTorch's adaptive windows of (N, C, L) or (C, L) input, as adaptive_avg_pool2d."""
    x = _unit_height(
        input,
        "Expected 2 to 3 dimensions, but got {ndim}-dimensional tensor for argument #1 'self' (while checking "
        "arguments for adaptive_avg_pool1d)",
    )
    return adaptive_avg_pool2d(x, (1, _single(output_size, "output_size"))).squeeze(-2)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over PyTorch's adaptive windows of (N, C, L) or (C, L) input, as adaptive_max_pool2d."""
    x = _unit_height(input, "adaptive_max_pool1d(): Expected 2D or 3D tensor, but got: {shape}")
    out = adaptive_max_pool2d(x, (1, _single(output_size, "output_size")), return_indices)
    return (out[0].squeeze(-2), out[1].squeeze(-2)) if return_indices else out.squeeze(-2)


def interpolate(
    input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
    recompute_scale_factor=None, antialias: bool = False,
) -> Tensor:  # fmt: skip
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) input by `size` or `scale_factor`.

    Mode "nearest" (PyTorch's index floor(i * scale)): integer factors repeat each element (reshape and
    broadcast); other sizes multiply by a constant 0/1 selection matrix per dim.  Modes "linear",
    "bilinear", "trilinear", "bicubic" and "area" multiply each spatial dim by a constant interpolation
    matrix (torch's source indices and weights): `W_h @ x @ W_w^T`, exact and differentiable."""
    x = as_tensor(input)
    where_ = user_location()[:2]
    if mode not in _INTERPOLATE_MODES:
        raise FrontendError(
            f"interpolate: mode {mode!r} is not supported (supported: {', '.join(_INTERPOLATE_MODES)})", where_
        )
    if align_corners is not None and mode in ("nearest", "area"):
        raise FrontendError(
            "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | "
            "trilinear",
            where_,
        )
    if antialias:
        raise FrontendError("interpolate: antialias=True is not supported", where_)
    if x.ndim not in (3, 4, 5):
        raise FrontendError(f"interpolate: expected 3D, 4D or 5D input, got {list(x.shape)}", where_)
    need = _INTERPOLATE_MODES[mode]
    if need and x.ndim != need:
        raise FrontendError(f"Got {x.ndim}D input, but {mode} mode needs {need}D input", where_)
    if (size is None) == (scale_factor is None):
        raise FrontendError(
            "either size or scale_factor should be defined"
            if size is None
            else "only one of size or scale_factor should be defined",
            where_,
        )
    dims = x.ndim - 2
    given = size if size is not None else scale_factor
    given = list(given) if isinstance(given, (list, tuple)) else [given] * dims
    if len(given) != dims:
        raise FrontendError(
            f"Input and {'output' if size is not None else 'scale_factor'} must have the same number of spatial "
            f"dimensions, but got input with spatial dimensions of {list(x.shape[2:])} and output size of {given}.",
            where_,
        )
    if size is not None:
        out = [int(o) for o in given]
        scales = [n / o if o else 0.0 for n, o in zip(x.shape[2:], out)]
    else:
        out = [int(math.floor(n * float(f))) for n, f in zip(x.shape[2:], given)]
        scales = [n / o if recompute_scale_factor and o else 1.0 / float(f) for n, o, f in zip(x.shape[2:], out, given)]
    if mode != "nearest":
        if not x.is_floating_point():
            raise FrontendError(f"interpolate: mode {mode!r} needs a floating-point input, got {x.dtype}", where_)
        for d, (n, o) in enumerate(zip(x.shape[2:], out)):
            if mode == "area":
                matrix = _adaptive_matrix(n, o)
            else:
                given_scale = None if size is not None or recompute_scale_factor else float(given[d])
                matrix = _interpolation_matrix(n, o, given_scale, bool(align_corners), mode == "bicubic")
            if o == n and np.array_equal(matrix, np.eye(n)):
                continue
            weights = tensor(matrix.astype(x.dtype), device=x.device)
            if d == x.ndim - 3:
                x = x @ weights.t()
            elif d == x.ndim - 4:
                x = weights @ x
            else:
                x = (x.transpose(2 + d, -1) @ weights.t()).transpose(2 + d, -1)
        return x
    factors = [
        o // n if n and o % n == 0 and abs(sc * (o // n) - 1) < 1e-12 else 0
        for n, o, sc in zip(x.shape[2:], out, scales)
    ]
    if all(factors):  # repeat each element `factor` times: (.., n, 1) broadcast to (.., n, f)
        lead = list(x.shape[:2])
        grid = [v for n in x.shape[2:] for v in (n, 1)]
        wide = [v for n, f in zip(x.shape[2:], factors) for v in (n, f)]
        return x.reshape(*lead, *grid).broadcast_to(lead + wide).reshape(*lead, *out)
    for d, (n, o, sc) in enumerate(zip(x.shape[2:], out, scales)):
        src = np.minimum(np.floor(np.arange(o, dtype=np.float32) * np.float32(sc)).astype(np.int64), n - 1)
        select = (src[:, None] == np.arange(n)[None, :]).astype(x.dtype)
        x = (x.transpose(2 + d, -1) @ tensor(select.T, device=x.device)).transpose(2 + d, -1)
    return x


#: interpolate's modes -> the input rank each needs (0: any of 3, 4, 5)
_INTERPOLATE_MODES = {"nearest": 0, "linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5, "area": 0}


def _interpolation_matrix(n: int, out: int, scale_factor, align_corners: bool, cubic: bool) -> np.ndarray:
    """(out, n): PyTorch's linear (2 taps) or cubic (4 taps, A = -0.75, clamped at the border) weights
    of output i at source index `scale * i` (align_corners) or `scale * (i + 0.5) - 0.5` (clamped at 0
    for linear); scale is (n - 1) / (out - 1), 1 / scale_factor, or n / out."""
    matrix = np.zeros((out, n))
    if align_corners:
        scale = (n - 1) / (out - 1) if out > 1 else 0.0
    else:
        scale = 1.0 / scale_factor if scale_factor else n / out if out else 0.0
    for i in range(out):
        src = scale * i if align_corners else scale * (i + 0.5) - 0.5
        if not cubic:
            src = max(src, 0.0)
            i0 = min(int(math.floor(src)), n - 1)
            i1 = i0 + (1 if i0 < n - 1 else 0)
            lam = src - i0
            matrix[i, i0] += 1.0 - lam
            matrix[i, i1] += lam
            continue
        i0 = int(math.floor(src))
        t = src - i0
        a = -0.75
        weights = (
            ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
            ((a + 2) * t - (a + 3)) * t * t + 1,
            ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
            ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a,
        )
        for k, w in enumerate(weights):
            matrix[i, min(max(i0 - 1 + k, 0), n - 1)] += w
    return matrix


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:
    """The deprecated name of `interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """`interpolate(mode="bilinear", align_corners=True)`, as torch."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """`interpolate(mode="nearest")`."""
    return interpolate(input, size, scale_factor, mode="nearest")


def pad(x: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float | None = None) -> Tensor:
    """torch.nn.functional.pad: `pad` lists (left, right) pairs from the last dim backwards; a negative
    amount cuts.  Modes "constant" (`value`), "reflect", "replicate" and "circular" (the last
    len(pad) // 2 dims of a tensor with one or two more dims) are slices, flips and concats."""
    x = as_tensor(x)
    where_ = user_location()[:2]
    if len(pad) % 2:
        raise FrontendError("Padding length must be divisible by 2", where_)
    if len(pad) // 2 > x.ndim:
        raise FrontendError(
            "Padding length should be less than or equal to two times the input dimension but got padding length "
            f"{len(pad)} and input of dimension {x.ndim}",
            where_,
        )
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise FrontendError(f"Unrecognised padding mode {mode}", where_)
    if mode != "constant" and value is not None and value != 0:
        raise FrontendError(f'Padding mode "{mode}" doesn\'t take in value argument', where_)
    if mode != "constant" and x.ndim - len(pad) // 2 not in (1, 2):
        raise FrontendError(f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor.", where_)
    low, high = [0] * x.ndim, [0] * x.ndim
    for i in range(len(pad) // 2):
        low[x.ndim - 1 - i], high[x.ndim - 1 - i] = int(pad[2 * i]), int(pad[2 * i + 1])
    if mode == "constant":
        if max(*low, *high) > 0:
            grow = dict(low=[max(a, 0) for a in low], high=[max(b, 0) for b in high])
            x = x._new(apply(hl.PadOp, [x._node], **grow, value=float(value or 0.0)))
    for d in range(x.ndim):
        if mode == "circular":  # PyTorch wraps around what is left after the cuts
            x = _cut(x, d, low[d], high[d], where_)
        if mode != "constant" and (low[d] > 0 or high[d] > 0):
            x = _extend(x, d, max(low[d], 0), max(high[d], 0), mode, where_)
        if mode != "circular":
            x = _cut(x, d, low[d], high[d], where_)
    return x


def _cut(x: Tensor, d: int, low: int, high: int, where_) -> Tensor:
    """`x` without -low / -high elements at the ends of dim d where those are negative."""
    cut_low, cut_high = max(-low, 0), max(-high, 0)
    if not cut_low and not cut_high:
        return x
    if cut_low + cut_high > x.shape[d]:
        raise FrontendError(f"pad: padding ({low}, {high}) cuts more than the size {x.shape[d]} of dim {d}", where_)
    return x.narrow(d, cut_low, x.shape[d] - cut_low - cut_high)


def _extend(x: Tensor, d: int, low: int, high: int, mode: str, where_) -> Tensor:
    """`x` grown by `low` / `high` elements along dim d by reflecting, repeating the edge or wrapping around."""
    n = x.shape[d]
    if mode == "reflect" and (low >= n or high >= n):
        raise FrontendError(
            f"Padding size should be less than the corresponding input dimension, but got: padding ({low}, {high}) "
            f"at dimension {d} of input {list(x.shape)}",
            where_,
        )
    if mode == "circular" and (low > n or high > n):
        raise FrontendError("Padding value causes wrapping around more than once.", where_)
    if mode == "replicate" and n == 0:
        raise FrontendError(f"pad: cannot replicate the edge of an empty dim {d} of {list(x.shape)}", where_)
    parts = []
    if low:
        if mode == "reflect":
            parts.append(x.narrow(d, 1, low).flip(d))
        elif mode == "replicate":
            parts.append(x.narrow(d, 0, 1).expand(*x.shape[:d], low, *x.shape[d + 1 :]))
        else:
            parts.append(x.narrow(d, n - low, low))
    parts.append(x)
    if high:
        if mode == "reflect":
            parts.append(x.narrow(d, n - 1 - high, high).flip(d))
        elif mode == "replicate":
            parts.append(x.narrow(d, n - 1, 1).expand(*x.shape[:d], high, *x.shape[d + 1 :]))
        else:
            parts.append(x.narrow(d, 0, high))
    return cat(parts, d)


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
    keeps where true, a float one is added. A query row that the mask leaves nothing to attend to
    gives zeros (and zero gradients), as torch's. `enable_gqa` (grouped-query attention) repeats each
    key/value head `q heads / kv heads` times (torch's `repeat_interleave` over dim -3).

    >>> F.scaled_dot_product_attention(q, k, v, enable_gqa=True)   # q (N, 4, L, E), k and v (N, 2, S, E)
    """
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    if enable_gqa and q.ndim >= 3:
        k, v = _repeat_heads(k, q.shape[-3]), _repeat_heads(v, q.shape[-3])
    L, S = q.shape[-2], k.shape[-2]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if is_causal:
        scores = scores.masked_fill(ones(L, S, dtype="bool", device=q.device).tril().bitwise_not(), -math.inf)
    if attn_mask is not None:
        mask = as_tensor(attn_mask)
        scores = scores.masked_fill(mask.bitwise_not(), -math.inf) if mask._node.dtype == "i1" else scores + mask
    weights = scores.softmax(-1) if attn_mask is None else _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ v


def _repeat_heads(x: Tensor, heads: int) -> Tensor:
    """(..., H, S, E) -> (..., heads, S, E), each of the H heads `heads / H` times in a row (torch's GQA)."""
    h = x.shape[-3]
    if heads % h:
        raise FrontendError(
            "Number of heads in key and value must divide the number of heads in query", user_location()[:2]
        )
    return x if h == heads else x.repeat_interleave(heads // h, -3)


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax over the last dim, 0 for a row that is all -inf (torch's `_safe_softmax`, which its attention
    uses): such a row is softmaxed as zeros and then zeroed, so neither its values nor its gradients are nan."""
    dead = (scores.detach() == -math.inf).all(-1, keepdim=True)
    return where(dead, 0.0, where(dead, 0.0, scores).softmax(-1)).type_as(scores)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """nn.MultiheadAttention's computation on sequence-first `(L, N, E)` (or unbatched `(L, E)`) inputs, as
    torch.nn.functional.multi_head_attention_forward: project, split into heads, `softmax(q k^T / sqrt(d) +
    mask) v`, merge the heads, project out. Returns the output and, with `need_weights`, the attention
    weights (averaged over heads unless `average_attn_weights=False`), else None.

    Bool masks mark the positions *not* attended (the opposite of `scaled_dot_product_attention`'s);
    float masks are added to the scores. `is_causal` is a hint that `attn_mask` is the causal mask: it
    needs the mask, and replaces it by the causal triangle where torch does (no padding mask and no
    weights asked for).
    """
    where_ = user_location()[:2]
    query, key, value = as_tensor(query), as_tensor(key), as_tensor(value)
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads, where_)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = as_tensor(key_padding_mask).unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype, where_)
    if is_causal and attn_mask is None:
        raise FrontendError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask.",
            where_,
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query.dtype, where_)
        is_causal = is_causal and key_padding_mask is None
    if embed_dim != embed_dim_to_check:
        raise FrontendError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}", where_)
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise FrontendError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}", where_)
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise FrontendError(
                f"key's sequence and batch dims {_size(key.shape[:2])} do not match value's {_size(value.shape[:2])}",
                where_,
            )
        weights = (q_proj_weight, k_proj_weight, v_proj_weight)
        for name, w in zip("qkv", weights):
            if w is None:
                raise FrontendError(f"use_separate_proj_weight is True but {name}_proj_weight is None", where_)
    else:
        if key.shape != value.shape:
            raise FrontendError(f"key shape {_size(key)} does not match value shape {_size(value)}", where_)
        if in_proj_weight is None:
            raise FrontendError("use_separate_proj_weight is False but in_proj_weight is None", where_)
        weights = as_tensor(in_proj_weight).chunk(3)
    biases = (None, None, None) if in_proj_bias is None else as_tensor(in_proj_bias).chunk(3)
    if query is key and key is value and not use_separate_proj_weight:  # self-attention: one projection
        q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
    else:
        q, k, v = (linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if attn_mask.shape != (tgt_len, src_len):
                raise FrontendError(
                    f"The shape of the 2D attn_mask is {_size(attn_mask)}, but should be {(tgt_len, src_len)}.",
                    where_,
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.shape != (bsz * num_heads, tgt_len, src_len):
            raise FrontendError(
                f"The shape of the 3D attn_mask is {_size(attn_mask)}, but should be "
                f"{(bsz * num_heads, tgt_len, src_len)}.",
                where_,
            )
    if (bias_k is None) != (bias_v is None):
        raise FrontendError(f"{'bias_k' if bias_v is None else 'bias_v'} is set but the other is None", where_)
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise FrontendError("bias cannot be added to static key or value.", where_)
        k = cat([k, as_tensor(bias_k).expand(1, bsz, embed_dim)])
        v = cat([v, as_tensor(bias_v).expand(1, bsz, embed_dim)])
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, "static_k", bsz * num_heads, head_dim, where_)
    v = _heads(v, static_v, "static_v", bsz * num_heads, head_dim, where_)
    if add_zero_attn:
        zero = zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype, device=k.device)
        k, v = cat([k, zero], 1), cat([v, zero], 1)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    src_len = k.shape[1]
    if key_padding_mask is not None:
        for d, expected in enumerate((bsz, src_len)):
            if key_padding_mask.shape[d] != expected:
                raise FrontendError(
                    f"Expected key_padded_mask.shape[{d}] to be {expected}, but got {key_padding_mask.shape[d]}",
                    where_,
                )
        key_padding_mask = (
            key_padding_mask.reshape(bsz, 1, 1, src_len)
            .expand(bsz, num_heads, 1, src_len)
            .reshape(bsz * num_heads, 1, src_len)
        )
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask

    scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(-2, -1)
    if is_causal and attn_mask is None:
        causal = ones(tgt_len, src_len, dtype="bool", device=q.device).tril()
        scores = scores.masked_fill(causal.bitwise_not(), -math.inf)
    if attn_mask is not None:
        scores = attn_mask + scores
    # without weights torch runs scaled_dot_product_attention, whose fully masked rows are zeros; with
    # them, a plain softmax (nan there)
    attn = _safe_softmax(scores) if attn_mask is not None and not need_weights else scores.softmax(-1)
    if training and dropout_p > 0.0:
        attn = dropout(attn, dropout_p)
    out = (attn @ v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not need_weights:
        return (out if batched else out.squeeze(1)), None
    attn = attn.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        attn = attn.mean(1)
    return (out, attn) if batched else (out.squeeze(1), attn.squeeze(0))


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads: int, where_) -> bool:
    """Whether the inputs are batched (3-D query) or unbatched (2-D), with torch's messages when neither."""
    if query.ndim not in (2, 3):
        raise FrontendError(
            f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query tensor", where_
        )
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise FrontendError(
            f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found {key.ndim}-D and "
            f"{value.ndim}-D tensors respectively",
            where_,
        )
    if key_padding_mask is not None and as_tensor(key_padding_mask).ndim != query.ndim - 1:
        raise FrontendError(
            f"For {kind} `query`, expected `key_padding_mask` to be `None` or {query.ndim - 1}-D but found "
            f"{as_tensor(key_padding_mask).ndim}-D tensor instead",
            where_,
        )
    if attn_mask is not None:
        mask = as_tensor(attn_mask)
        if mask.ndim not in (2, 3):
            raise FrontendError(
                f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found {mask.ndim}-D "
                "tensor instead",
                where_,
            )
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and mask.ndim == 3 and mask.shape != expected:
            raise FrontendError(f"Expected `attn_mask` shape to be {expected} but got {_size(mask)}", where_)
    return batched


def _canonical_mask(mask, name: str, dtype, where_) -> Tensor | None:
    """A float mask as is; a bool mask as 0 where False and -inf where True (masked out)."""
    if mask is None:
        return None
    mask = as_tensor(mask)
    if mask.dtype == np.bool_:
        return zeros(*mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, -math.inf)
    if not mask.is_floating_point():
        raise FrontendError(f"only bool and floating types of {name} are supported", where_)
    return mask


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """One more (unmasked) key for a bias_k/bias_v or zero-attention column."""
    return None if mask is None else pad(mask, (0, 1))


def _heads(x: Tensor, static: Tensor | None, name: str, batch_heads: int, head_dim: int, where_) -> Tensor:
    """(S, N, E) -> (N * heads, S, head_dim), or the given static keys/values after checking their shape."""
    if static is None:
        return x.reshape(x.shape[0], batch_heads, head_dim).transpose(0, 1)
    static = as_tensor(static)
    for d, expected in ((0, batch_heads), (2, head_dim)):
        if static.shape[d] != expected:
            raise FrontendError(f"expecting {name}.size({d}) of {expected}, but got {static.shape[d]}", where_)
    return static


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
    return _affine(centered * (var + eps).rsqrt(), weight, bias, stat_shape)


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


def _affine(x: Tensor, weight: Tensor | None, bias: Tensor | None, shape: list[int]) -> Tensor:
    """x * weight + bias with the per-channel weight and bias (either may be None) reshaped to `shape`."""
    if weight is not None:
        x = x * as_tensor(weight).reshape(shape)
    if bias is not None:
        x = x + as_tensor(bias).reshape(shape)
    return x


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
    """-(t * log(x) + (1 - t) * log(1 - x)) of probabilities x, each log clamped at -100 as in PyTorch.

    An x outside [0, 1] (or nan) is torch's error where x is already computed in eager mode; a lazy x is
    not realized just for that check, and gives a nan loss there, as compiled code does."""
    x, t = as_tensor(input), as_tensor(target)
    if t.shape != x.shape:
        raise FrontendError(
            f"Using a target size ({_size(t)}) that is different to the input size ({_size(x)}) is deprecated. "
            "Please ensure they have the same size.",
            user_location()[:2],
        )
    if Tracing.depth == 0 and is_leaf(x._node):
        probabilities = np.asarray(to_host(x._value()))
        if not ((probabilities >= 0) & (probabilities <= 1)).all():
            raise FrontendError("all elements of input should be between 0 and 1", user_location()[:2])
    # The value: each log clamped at -100. The gradient for x is PyTorch's formula,
    # (x - t) / max(x * (1 - x), 1e-12), attached with a zero term (x - stop_gradient(x)) * G: differentiating
    # the clamped logs instead gives 0 * inf = nan where x is exactly 0 or 1 (sigmoid(20) is 1.0 in float32).
    # t's gradient comes from the value. (Second derivatives for x are 0 here.)
    xd = x.detach()
    value = -(t * xd.log().clamp(min=-100.0) + (1.0 - t) * (1.0 - xd).log().clamp(min=-100.0))
    slope = (xd - t.detach()) / (xd * (1.0 - xd)).clamp(min=1e-12)
    loss = value + (x - xd) * slope
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
        return _mean_over_counted(loss, counted, t, ignore_index, weight)
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
    if t.shape == x.shape and t.is_floating_point():  # class probabilities
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
        return _mean_over_counted(loss, counted, t, ignore_index, weight)
    return _reduce(loss, reduction)


def _mean_over_counted(loss: Tensor, counted: Tensor, target: Tensor, ignore_index: int, weight) -> Tensor:
    """sum(loss) / sum(counted) (the summed weights of the counted targets). When nothing is counted
    (every target ignored) the value is nan and the gradient 0, as torch's: the sum is divided by 1
    there and nan added as a constant (dividing by 0 would make the gradient inf * 0 = nan). A realized
    target with a counted class and no class weights needs neither (the usual training step: 6 ops fewer)."""
    total = counted.sum()
    value = target._node.value
    if weight is None and value is not None and bool((to_host(value) != ignore_index).any()):
        return loss.sum() / total
    empty = total == 0
    return loss.sum() / where(empty, 1.0, total).type_as(total) + where(empty, math.nan, 0.0).type_as(total)


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
    one_hot = classes == t.long().unsqueeze(class_dim)
    if 0 <= ignore_index < logp.shape[class_dim]:  # else (the default -100) no class equals it: already 0
        one_hot = one_hot & (t != ignore_index).unsqueeze(class_dim)
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


def _size(x: Tensor | tuple[int, ...]) -> str:
    """A tensor's shape (or a shape) as torch prints it in messages."""
    return f"torch.Size({list(x if isinstance(x, tuple) else x.shape)})"


def _torch_dtype(x: Tensor) -> str:
    names = {
        "float32": "Float",
        "float64": "Double",
        "float16": "Half",
        "bfloat16": "BFloat16",
        "bool": "Bool",
        "int32": "Int",
    }
    return names.get(str(x.dtype), str(x.dtype))


def _reduce(x: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise FrontendError(f"{reduction} is not a valid value for reduction", user_location()[:2])


# ------------------------------------------------------------------ more layers (issue 12: pytorch/examples)
#
# Compositions of the Tensor ops above: normalizations over instances / groups, channel dropout,
# pixel (un)shuffle, and the remaining elementwise activations and distances of torch.nn.functional.


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each (sample, channel) over its spatial dims, as torch.nn.functional.instance_norm.

    With `use_input_stats` the running statistics (when given) move towards the batch mean of the
    per-instance means and unbiased variances; without, they normalize (as batch_norm in eval).
    """
    x = as_tensor(input)
    if x.ndim < 3:
        raise FrontendError(
            f"instance_norm: expected input of rank >= 3 (N, C, ...), got {list(x.shape)}", user_location()[:2]
        )
    stat_shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
    if use_input_stats:
        count = math.prod(x.shape[2:])
        if count <= 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size {_size(x)}")
        mean, centered, var = _moments(x, list(range(2, x.ndim)))
        if running_mean is not None and running_var is not None:
            with no_grad():
                running_mean._assign(running_mean * (1 - momentum) + mean.flatten(1).mean(0) * momentum)
                unbiased = var.flatten(1).mean(0) * (count / (count - 1))
                running_var._assign(running_var * (1 - momentum) + unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise FrontendError(
                "Expected running_mean and running_var to be defined when use_input_stats is false", user_location()[:2]
            )
        mean, var = running_mean.reshape(stat_shape), running_var.reshape(stat_shape)
        centered = x - mean
    return _affine(centered * (var + eps).rsqrt(), weight, bias, stat_shape)


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalize each sample over groups of num_channels / num_groups channels (and the spatial dims)."""
    x = as_tensor(input)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise FrontendError(
            "Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{list(x.shape)} and num_groups={num_groups}",
            user_location()[:2],
        )
    grouped = x.reshape(x.shape[0], num_groups, -1)
    _, centered, var = _moments(grouped, [2])
    out = (centered * (var + eps).rsqrt()).reshape(x.shape)
    return _affine(out, weight, bias, [1, x.shape[1]] + [1] * (x.ndim - 2))


def _channel_dropout(x: Tensor, p: float, training: bool, batched: bool) -> Tensor:
    """Zero whole channels (dim 1 of a batched input, dim 0 otherwise) with probability p; scale by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    lead = 2 if batched else 1
    shape = tuple(x.shape[:lead]) + (1,) * (x.ndim - lead)
    uniform = Tensor(apply(hl.RandomUniformOp, [rng_key()], zeros(shape, dtype=x.dtype)._node.type), x.device)
    return x * ((uniform >= p).type_as(x) * (1.0 / (1.0 - p)))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability p, scaling the rest by 1/(1-p)."""
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise FrontendError(
            f"dropout1d: Expected 2D or 3D input, but received a {x.ndim}D input. Note that dropout1d exists to provide "
            "channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional batch "
            "dimension (i.e. 2D or 3D inputs).",
            user_location()[:2],
        )
    return _channel_dropout(x, p, training, batched=x.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) input with probability p, scaling the rest by 1/(1-p); a 3-D
    input is taken as (N, C, L) with torch's warning, other ranks warn and drop dim-1 slices as torch."""
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated and will result in an error "
            "in a future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            "that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial dimensions, a channel "
            "dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will change "
            "in a future release to interpret the input as one without a batch dimension, i.e. shape (C, H, W). To "
            "maintain the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _channel_dropout(x, p, training, batched=x.ndim >= 2)


def _pixel_input(input: Tensor, factor: int, name: str) -> tuple[Tensor, int, tuple]:
    """(the input as a tensor of rank >= 3, the factor as an int, the user's location) for pixel_(un)shuffle."""
    x, where_ = as_tensor(input), user_location()[:2]
    if x.ndim < 3:
        raise FrontendError(
            f"{name} expects input to have at least 3 dimensions, but got input with {x.ndim} dimension(s)", where_
        )
    return x, int(factor), where_


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r), as torch.nn.functional.pixel_shuffle."""
    x, r, where_ = _pixel_input(input, upscale_factor, "pixel_shuffle")
    *batch, c, h, w = x.shape
    if c % (r * r):
        raise FrontendError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}",
            where_,
        )
    n = len(batch)
    y = x.reshape(*batch, c // (r * r), r, r, h, w).permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W), the inverse of pixel_shuffle."""
    x, r, where_ = _pixel_input(input, downscale_factor, "pixel_unshuffle")
    *batch, c, h, w = x.shape
    for name, size, dim in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise FrontendError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but input.size({dim})={size} is "
                f"not divisible by {r}",
                where_,
            )
    n = len(batch)
    y = x.reshape(*batch, c, h // r, r, w // r, r).permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(*batch, c * r * r, h // r, w // r)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 0 at the bounds themselves, as torch's."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    x = as_tensor(input)
    return where(x <= min_val, min_val, where(x >= max_val, max_val, x)).type_as(x)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return hardtanh(as_tensor(input) + 3.0, 0.0, 6.0) / 6.0


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6, piecewise as torch's (so the gradient at x = -3 and 3 is torch's too)."""
    x = as_tensor(input)
    return where(x <= -3.0, 0.0, where(x < 3.0, x * (x + 3.0) / 6.0, x)).type_as(x)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    x = as_tensor(input)
    return x * softplus(x).tanh()


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x, with one weight or one per channel (dim 1)."""
    x, w = as_tensor(input), as_tensor(weight)
    if w.numel() != 1:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if w.numel() != channels:
            raise FrontendError(
                "Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                f"{w.numel()} and channel size = {channels}.",
                user_location()[:2],
            )
        w = w.reshape([1, channels] + [1] * (x.ndim - 2)) if x.ndim >= 2 else w
    else:
        w = w.reshape(())
    return where(x > 0, x, x * w)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    x = as_tensor(input)
    return x / (x.abs() + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    x = as_tensor(input)
    return x - x.tanh()


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0 (gradient 0 at +-lambd, as torch's)."""
    if lambd < 0:
        raise FrontendError(
            f"lambda must be in range [0, 3.40282e+38] for input dtype Float, but found {lambd:g}", user_location()[:2]
        )
    x = as_tensor(input)
    return where(x > lambd, x - lambd, where(x < -lambd, x + lambd, 0.0)).type_as(x)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    x = as_tensor(input)
    return where((x > lambd) | (x < -lambd), x, 0.0).type_as(x)


def rrelu(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False
) -> Tensor:
    """x where x > 0, else a * x: in training a ~ U(lower, upper) for each element, drawn like dropout's mask
    (irc's generator: reproducible by irc.manual_seed, not torch's numbers); else a = (lower + upper) / 2."""
    x = as_tensor(input)
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    uniform = Tensor(apply(hl.RandomUniformOp, [rng_key()], x._node.type), x.device)
    return where(x > 0, x, x * (uniform * (upper - lower) + lower))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    x = as_tensor(input)
    return where(x > threshold, x, value).type_as(x)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x, dim) (without `dim` torch's implicit dim, with its warning)."""
    x = as_tensor(input)
    if dim is None:
        dim = _softmax_dim("softmin", x.ndim, _stacklevel)
    return (-x).softmax(dim, dtype=dtype)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x) (no overflow)."""
    return -softplus(-as_tensor(input))


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    x = as_tensor(input)
    return where(x > 0, x, ((x / alpha).clamp(max=0.0).exp() - 1.0) * alpha)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with SELU's fixed alpha and scale."""
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) for the halves a, b of `input` along dim."""
    x = as_tensor(input)
    if x.ndim == 0:
        raise FrontendError("glu does not support scalars because halving size must be even", user_location()[:2])
    d = dim % x.ndim if -x.ndim <= dim < x.ndim else dim
    if x.shape[d] % 2:
        raise FrontendError(
            f"Halving dimension must be even, but dimension {d} is size {x.shape[d]}", user_location()[:2]
        )
    a, b = x.chunk(2, d)
    return a * b.sigmoid()


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps)) along dim (broadcasting x1 against x2)."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    n1 = x1.norm(2, dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The p-norm of x1 - x2 + eps along the last dim."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    diff = x1 - x2 + eps
    return diff.norm(p, -1, keepdim=keepdim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """input / max(|input|_p along dim, eps)."""
    if out is not None:
        raise FrontendError("normalize: out= is not supported (irc tensors are immutable values)", user_location()[:2])
    x = as_tensor(input)
    return x / x.norm(p, dim, keepdim=True).clamp_min(eps)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """SELU's dropout: dropped elements take SELU's negative saturation value, then an affine map keeps the
    mean and variance (torch's a and b); identity when not training."""
    x = as_tensor(input)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    alpha = _SELU_ALPHA * _SELU_SCALE
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    uniform = Tensor(apply(hl.RandomUniformOp, [rng_key()], x._node.type), x.device)
    keep = (uniform >= p).type_as(x)
    return x * keep * a + (keep - 1.0) * (alpha * a) + alpha * a * p
