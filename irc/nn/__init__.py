"""`irc.nn`: neural-network building blocks (PyTorch spelling).

>>> import irc.nn as nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
"""

from irc.nn import functional, init
from irc.nn.modules import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    MaxPool2d,
    Module,
    ModuleList,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)

__all__ = [
    "functional", "init", "Module", "Parameter", "Sequential", "ModuleList", "Linear", "Conv2d", "MaxPool2d",
    "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Dropout", "Flatten", "ReLU", "Sigmoid", "Softplus", "Tanh", "Identity",
    "Softmax", "LogSoftmax", "CrossEntropyLoss", "MSELoss",
]  # fmt: skip
