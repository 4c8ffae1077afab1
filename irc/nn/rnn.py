"""Recurrent layers with PyTorch's spelling: `RNN`, `LSTM`, `GRU` and their cells.

The sequence length is static, so a layer is unrolled into ordinary Tensor
operations: one matmul projects the whole input sequence, then each time step
adds `h @ W_hh^T` and applies the gates (sigmoid, tanh, slices).  No hl op of
its own: gradients, every target and fusion come from the ops it is made of.

    >>> lstm = nn.LSTM(10, 20, num_layers=2)
    >>> output, (h_n, c_n) = lstm(irc.randn(5, 3, 10))
    >>> output.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from irc.errors import FrontendError
from irc.frontend.graph import user_location
from irc.frontend.tensor import Tensor, cat, stack, zeros
from irc.nn import functional as F
from irc.nn import init
from irc.nn.modules import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _fail(message: str) -> FrontendError:
    return FrontendError(message, user_location()[:2])


def _expect_tensor(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise _fail(
            f"{name}: expected the input to be a Tensor, got {type(input).__name__} (PackedSequence is not supported)"
        )


def _sigmoid(x: Tensor) -> Tensor:
    """sigmoid(x) as (1 + tanh(x / 2)) / 2: the same function, but its gradient is tanh's `1 - t^2` rather than
    that of the overflow-safe form `Tensor.sigmoid` decomposes into (selects and divisions: 2x the ops)."""
    return (x * 0.5).tanh() * 0.5 + 0.5


def _step(mode: str, gi: Tensor, state, w_hh: Tensor, b_hh: Tensor | None, w_hr: Tensor | None = None):
    """One time step: `gi` is the input's projection `x_t @ W_ih^T + b_ih`; returns the new state
    (`h`, or `(h, c)` for an LSTM)."""
    if mode == "LSTM":
        h, c = state
        gates = gi + F.linear(h, w_hh, b_hh)
        i, f, _, o = _sigmoid(gates).chunk(4, -1)  # one sigmoid for three gates: fewer ops (and kernels)
        size = c.shape[-1]
        c = f * c + i * gates[..., 2 * size : 3 * size].tanh()
        h = o * c.tanh()
        return (h if w_hr is None else F.linear(h, w_hr)), c
    gh = F.linear(state, w_hh, b_hh)
    if mode == "GRU":
        size = state.shape[-1]
        r, z = _sigmoid(gi[..., : 2 * size] + gh[..., : 2 * size]).chunk(2, -1)
        n = (gi[..., 2 * size :] + r * gh[..., 2 * size :]).tanh()
        return n + z * (state - n)  # (1 - z) * n + z * h
    return (gi + gh).tanh() if mode == "RNN_TANH" else (gi + gh).relu()


def _direction(mode: str, x: Tensor, state, weights: list[Tensor | None], reverse: bool):
    """Run one direction of one layer over x (L, N, H_in): the outputs (L, N, H_out) and the final state."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    projected = F.linear(x, w_ih, b_ih).unbind(0)  # one matmul for all time steps
    outputs: list[Tensor] = [None] * len(projected)  # type: ignore[list-item]
    for t in reversed(range(len(projected))) if reverse else range(len(projected)):
        state = _step(mode, projected[t], state, w_hh, b_hh, w_hr)
        outputs[t] = state[0] if mode == "LSTM" else state
    return stack(outputs), state


class _Recurrent(Module):
    """Parameters of recurrent layers and cells: all U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""

    hidden_size: int

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _initialize(self, device) -> None:
        self.reset_parameters()
        if device is not None:
            self.to(device)


class RNNBase(_Recurrent):
    """Shared by RNN, LSTM and GRU: PyTorch's parameters (`weight_ih_l0`, `bias_hh_l1_reverse`, ...), their
    init U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), the argument checks and the layer/direction loop."""

    def __init__(
        self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
        device=None, dtype=None,
    ):  # fmt: skip
        super().__init__()
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool)):
            if not isinstance(value, kind):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size, real_hidden = _GATES[mode] * hidden_size, proj_size or hidden_size
        dtype = np.dtype(dtype or np.float32)
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(2 if bidirectional else 1):
                shapes = {
                    "weight_ih": (gate_size, input_size if layer == 0 else real_hidden * (2 if bidirectional else 1)),
                    "weight_hh": (gate_size, real_hidden),
                }
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    names.append(f"{kind}_l{layer}{'_reverse' if direction else ''}")
                    setattr(self, names[-1], Parameter(np.zeros(shape, dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self._initialize(device)

    def flatten_parameters(self) -> None:
        """A no-op: irc keeps no packed weight buffer (PyTorch's is for cuDNN)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _weights(self, layer: int, direction: int) -> list[Tensor | None]:
        suffix = f"_l{layer}{'_reverse' if direction else ''}"
        return [
            self._parameters.get(kind + suffix)
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        ]

    def forward(self, input: Tensor, hx=None):
        """(output, h_n), or (output, (h_n, c_n)) for an LSTM; input (L, N, H_in), (N, L, H_in) with
        batch_first, or unbatched (L, H_in)."""
        name, lstm = type(self).__name__, self.mode == "LSTM"
        _expect_tensor(name, input)
        if input.ndim not in (2, 3):
            instead = "tensor instead" if name == "RNN" else "instead"
            raise _fail(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D {instead}")
        batched, batch_dim = input.ndim == 3, 0 if self.batch_first else 1
        x = input if batched else input.unsqueeze(batch_dim)
        states = None if hx is None else self._check_hidden(hx, batched)
        if x.dtype != self.weight_ih_l0.dtype:
            raise _fail(
                f"RNN input dtype ({x.dtype}) does not match weight dtype ({self.weight_ih_l0.dtype}). "
                f"Convert input: input.to({self.weight_ih_l0.dtype}), or convert model: model.to({x.dtype})"
            )
        if x.shape[-1] != self.input_size:
            raise _fail(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.shape[-1]}")
        if self.batch_first:
            x = x.transpose(0, 1)
        directions, batch = 2 if self.bidirectional else 1, x.shape[1]
        h_size = self.proj_size or self.hidden_size
        if states is None:
            states = []
            for _ in range(self.num_layers * directions):
                h = zeros(batch, h_size, dtype=x.dtype, device=x.device)
                states.append((h, zeros(batch, self.hidden_size, dtype=x.dtype, device=x.device)) if lstm else h)
        else:
            self._check_hidden_sizes(states, batch)
            states = list(zip(states[0].unbind(0), states[1].unbind(0))) if lstm else list(states.unbind(0))
        finals = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            outputs = []
            for direction in range(directions):
                out, state = _direction(
                    self.mode, x, states[layer * directions + direction], self._weights(layer, direction), direction
                )
                outputs.append(out)
                finals.append(state)
            x = cat(outputs, -1) if directions == 2 else outputs[0]
        output = x.transpose(0, 1) if self.batch_first else x
        if lstm:
            h_n, c_n = stack([h for h, _ in finals]), stack([c for _, c in finals])
            return (output, (h_n, c_n)) if batched else (output.squeeze(batch_dim), (h_n.squeeze(1), c_n.squeeze(1)))
        h_n = stack(finals)
        return (output, h_n) if batched else (output.squeeze(batch_dim), h_n.squeeze(1))

    def _check_hidden(self, hx, batched: bool):
        """hx in the batched layout (an LSTM's as a pair), after PyTorch's rank checks."""
        rank = 3 if batched else 2
        kind = "batched 3-D" if batched else "unbatched 2-D"
        if self.mode != "LSTM":
            if hx.ndim != rank:
                raise _fail(f"For {kind} input, hx should also be {rank}-D but got {hx.ndim}-D tensor")
            return hx if batched else hx.unsqueeze(1)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise _fail(f"LSTM: hx should be a tuple (h_0, c_0), got {type(hx).__name__}")
        if hx[0].ndim != rank or hx[1].ndim != rank:
            raise _fail(
                f"For {kind} input, hx and cx should also be {rank}-D but got ({hx[0].ndim}-D, {hx[1].ndim}-D) tensors"
            )
        return tuple(hx) if batched else (hx[0].unsqueeze(1), hx[1].unsqueeze(1))

    def _check_hidden_sizes(self, hx, batch: int) -> None:
        layers = self.num_layers * (2 if self.bidirectional else 1)
        expected = (layers, batch, self.proj_size or self.hidden_size)
        if self.mode != "LSTM":
            if hx.shape != expected:
                raise _fail(f"Expected hidden size {expected}, got {list(hx.shape)}")
            return
        for i, (t, size) in enumerate(zip(hx, (expected, (layers, batch, self.hidden_size)))):
            if t.shape != size:
                raise _fail(f"Expected hidden[{i}] size {size}, got {list(t.shape)}")

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), as torch.nn.RNN.

    >>> output, h_n = nn.RNN(4, 8, nonlinearity="relu")(irc.randn(5, 2, 4))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.__dict__["nonlinearity"] = args[3]
            args = args[:3] + args[4:]
        else:
            self.__dict__["nonlinearity"] = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) in PyTorch's order; `proj_size` projects h by `weight_hr`.

    >>> output, (h_n, c_n) = nn.LSTM(4, 8, batch_first=True)(irc.randn(2, 5, 4))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n) in PyTorch's order: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    >>> output, h_n = nn.GRU(4, 8, bidirectional=True)(irc.randn(5, 2, 4))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# ------------------------------------------------------------------ cells


class RNNCellBase(_Recurrent):
    """One time step: weight_ih (chunks * hidden, input), weight_hh (chunks * hidden, hidden), bias_ih and
    bias_hh, all U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as PyTorch."""

    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = np.dtype(dtype or np.float32)
        self.weight_ih = Parameter(np.zeros((num_chunks * hidden_size, input_size), dtype))
        self.weight_hh = Parameter(np.zeros((num_chunks * hidden_size, hidden_size), dtype))
        for name in ("bias_ih", "bias_hh"):
            self.register_parameter(name, Parameter(np.zeros(num_chunks * hidden_size, dtype)) if bias else None)
        self._initialize(device)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def forward(self, input: Tensor, hx=None):
        name, lstm = type(self).__name__, self._mode == "LSTM"
        _expect_tensor(name, input)
        if input.ndim not in (1, 2):
            raise _fail(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if lstm and hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise _fail(f"LSTMCell: hx should be a tuple (h_0, c_0), got {type(hx).__name__}")
        states = (hx if lstm else (hx,)) if hx is not None else ()
        for i, state in enumerate(states):
            if state.ndim not in (1, 2):
                which = f"hx[{i}]" if lstm else "hidden"
                raise _fail(f"{name}: Expected {which} to be 1D or 2D, got {state.ndim}D instead")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        states = [s if batched else s.unsqueeze(0) for s in states]
        if x.shape[1] != self.input_size:
            raise _fail(f"input has inconsistent input_size: got {x.shape[1]} expected {self.input_size}")
        for i, state in enumerate(states):
            if state.shape[0] != x.shape[0]:
                raise _fail(f"Input batch size {x.shape[0]} doesn't match hidden{i} batch size {state.shape[0]}")
            if state.shape[1] != self.hidden_size:
                raise _fail(
                    f"hidden{i} has inconsistent hidden_size: got {state.shape[1]}, expected {self.hidden_size}"
                )
        if not states:
            zero = zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            states = [zero, zero]
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        out = _step(self._mode, gi, tuple(states) if lstm else states[0], self.weight_hh, self.bias_hh)
        if batched:
            return out
        return (out[0].squeeze(0), out[1].squeeze(0)) if lstm else out.squeeze(0)


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), as torch.nn.RNNCell.

    >>> nn.RNNCell(4, 8)(irc.randn(2, 4)).shape
    (2, 8)
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None,
        dtype=None,
    ):  # fmt: skip
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c').

    >>> h, c = nn.LSTMCell(4, 8)(irc.randn(2, 4))
    """

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)


class GRUCell(RNNCellBase):
    """One GRU step: returns h'.

    >>> nn.GRUCell(4, 8)(irc.randn(2, 4)).shape
    (2, 8)
    """

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
