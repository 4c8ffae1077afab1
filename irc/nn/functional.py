"""`irc.nn.functional`, as torch.nn.functional (implemented in `irc.frontend.functional`)."""

from irc.frontend.functional import (
    avg_pool2d,
    batch_norm,
    conv2d,
    cross_entropy,
    dropout,
    linear,
    log_softmax,
    max_pool2d,
    mse_loss,
    pad,
    relu,
    sigmoid,
    softmax,
    tanh,
)

__all__ = [
    "avg_pool2d", "batch_norm", "conv2d", "cross_entropy", "dropout", "linear", "log_softmax", "max_pool2d",
    "mse_loss", "pad", "relu", "sigmoid", "softmax", "tanh",
]  # fmt: skip
