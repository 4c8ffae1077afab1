"""nn.RNN / LSTM / GRU and their cells against PyTorch on the same weights: outputs, final states, gradients of
inputs, initial states and every parameter; keywords, unbatched inputs, state_dict keys, reprs, init, errors; an
LSTM training step under irc.jit."""

import time

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.errors import FrontendError
from irc.frontend import realize

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
SEQ, BATCH, IN, HIDDEN = 4, 2, 3, 5


def paired(name: str, *args, **kwargs):
    """The irc module and the torch module of the same class and arguments, holding torch's weights."""
    torch.manual_seed(0)
    reference = getattr(torch.nn, name)(*args, **kwargs)
    module = getattr(nn, name)(*args, **kwargs)
    assert list(module.state_dict()) == list(reference.state_dict())
    module.load_state_dict(reference.state_dict())  # torch tensors, as a torch checkpoint would hold them
    return module, reference


def as_pair(array):
    return irc.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


def flat(result):
    """The tensors of an (output, h_n) / (output, (h_n, c_n)) / h / (h, c) result, in order."""
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in flat(item)]
    return [result]


def check_against_torch(module, reference, x, hx=None, rtol=1e-5, atol=1e-6):
    """Forward results equal, and the gradients of a random weighting of all of them: w.r.t. the input, the given
    initial states and every parameter (by name)."""
    xs, ts = as_pair(x)
    states = [as_pair(h) for h in (hx if isinstance(hx, tuple) else (hx,))] if hx is not None else []
    ours_hx = tuple(s[0] for s in states) if isinstance(hx, tuple) else (states[0][0] if states else None)
    theirs_hx = tuple(s[1] for s in states) if isinstance(hx, tuple) else (states[0][1] if states else None)
    got, expected = flat(module(xs, ours_hx)), flat(reference(ts, theirs_hx))
    realize.realize_all([g._node for g in got])  # one program (each .numpy() alone would build its own)
    assert [g.shape for g in got] == [tuple(e.shape) for e in expected]
    for i, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g.numpy(), e.detach().numpy(), rtol=rtol, atol=atol, err_msg=f"result {i}")
    seeds = [np.random.default_rng(i).standard_normal(e.shape).astype(np.float32) for i, e in enumerate(expected)]
    sum((g * irc.tensor(s)).sum() for g, s in zip(got, seeds)).backward()
    sum((e * torch.from_numpy(s)).sum() for e, s in zip(expected, seeds)).backward()
    pairs = [("input", xs, ts)] + [(f"hx[{i}]", o, t) for i, (o, t) in enumerate(states)]
    theirs = dict(reference.named_parameters())
    pairs += [(name, p, theirs[name]) for name, p in module.named_parameters()]
    assert len(pairs) == 1 + len(states) + len(theirs)
    realize.realize_all([ours.grad._node for _, ours, _ in pairs])
    for name, ours, t in pairs:
        np.testing.assert_allclose(ours.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


def hidden(name, layers, batch=BATCH, size=HIDDEN, cell=HIDDEN):
    shape = (layers, batch) if batch else (layers,)
    h = RNG.standard_normal((*shape, size)).astype(np.float32)
    return (h, RNG.standard_normal((*shape, cell)).astype(np.float32)) if name == "LSTM" else h


LAYER_CASES = [
    ("RNN", {}, False),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bias": False}, True),
    ("RNN", {"batch_first": True, "bidirectional": True}, True),
    ("LSTM", {}, False),
    ("LSTM", {}, True),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}, False),
    ("LSTM", {"num_layers": 2, "proj_size": 2}, True),
    ("LSTM", {"bidirectional": True, "proj_size": 3, "bias": False}, False),
    ("GRU", {}, True),
    ("GRU", {"num_layers": 2, "bidirectional": True}, True),
    ("GRU", {"batch_first": True, "bias": False}, False),
]


@pytest.mark.parametrize("name, kwargs, with_hx", LAYER_CASES, ids=[f"{n}-{k}-hx{h}" for n, k, h in LAYER_CASES])
def test_layers_match_torch(name, kwargs, with_hx):
    module, reference = paired(name, IN, HIDDEN, **kwargs)
    shape = (BATCH, SEQ, IN) if kwargs.get("batch_first") else (SEQ, BATCH, IN)
    x = RNG.standard_normal(shape).astype(np.float32)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    hx = hidden(name, layers, size=kwargs.get("proj_size") or HIDDEN) if with_hx else None
    check_against_torch(module, reference, x, hx)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_layers_match_torch(name, batch_first):
    module, reference = paired(name, IN, HIDDEN, num_layers=2, batch_first=batch_first)
    x = RNG.standard_normal((SEQ, IN)).astype(np.float32)
    check_against_torch(module, reference, x)
    module.zero_grad(), reference.zero_grad()
    check_against_torch(module, reference, x, hidden(name, 2, batch=None))


def test_dropout_between_layers_like_torch():
    """Masks are random, so compare what is deterministic: eval mode (no dropout) and p=1 (layer 1 sees zeros)."""
    x = RNG.standard_normal((SEQ, BATCH, IN)).astype(np.float32)
    module, reference = paired("LSTM", IN, HIDDEN, num_layers=2, dropout=0.4)
    check_against_torch(module.eval(), reference.eval(), x)
    module, reference = paired("GRU", IN, HIDDEN, num_layers=3, dropout=1.0)
    check_against_torch(module, reference, x)
    # a real mask: some of layer 0's outputs dropped, so the training result differs from the eval one
    module, _ = paired("RNN", IN, HIDDEN, num_layers=2, dropout=0.5)
    irc.manual_seed(0)
    trained, evaluated = module(irc.tensor(x))[0].numpy(), module.eval()(irc.tensor(x))[0].numpy()
    assert not np.allclose(trained, evaluated)


CELL_CASES = [
    ("RNNCell", {}),
    ("RNNCell", {"nonlinearity": "relu", "bias": False}),
    ("LSTMCell", {}),
    ("LSTMCell", {"bias": False}),
    ("GRUCell", {}),
    ("GRUCell", {"bias": False}),
]


@pytest.mark.parametrize("name, kwargs", CELL_CASES, ids=[f"{n}-{k}" for n, k in CELL_CASES])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(name, kwargs, batched):
    module, reference = paired(name, IN, HIDDEN, **kwargs)
    kind = "LSTM" if name == "LSTMCell" else "RNN"
    x = RNG.standard_normal((BATCH, IN) if batched else (IN,)).astype(np.float32)
    state = hidden(kind, BATCH) if batched else hidden(kind, 1, batch=None)
    state = tuple(s[0] for s in state) if kind == "LSTM" else state[0]
    check_against_torch(module, reference, x)
    module.zero_grad(), reference.zero_grad()
    check_against_torch(module, reference, x, state)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_saturated_gates_stay_finite_and_match_torch(name):
    """Gates far in sigmoid's tails (inputs of size ~100): no overflow, torch's values and gradients."""
    module, reference = paired(name, IN, HIDDEN)
    x = (RNG.standard_normal((3, BATCH, IN)) * 100).astype(np.float32)
    check_against_torch(module, reference, x, atol=1e-4)  # weight gradients are ~x (~100) times the gates


def test_cell_unrolled_by_hand_equals_the_layer():
    """The word-language-model way: a cell stepped in a Python loop gives the layer's output."""
    layer, cell = nn.GRU(IN, HIDDEN), nn.GRUCell(IN, HIDDEN)
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in layer.state_dict().items()})
    x = irc.tensor(RNG.standard_normal((SEQ, BATCH, IN)).astype(np.float32))
    h, outputs = None, []
    for t in range(SEQ):
        h = cell(x[t], h)
        outputs.append(h)
    output, h_n = layer(x)
    np.testing.assert_allclose(irc.stack(outputs).numpy(), output.numpy(), rtol=1e-6)
    np.testing.assert_allclose(h.numpy(), h_n[0].numpy(), rtol=1e-6)


def test_parameters_state_dict_repr_and_init():
    module, reference = paired("LSTM", 10, 20, num_layers=2, bidirectional=True, proj_size=5, bias=False)
    assert [(k, v.shape) for k, v in module.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in reference.state_dict().items()
    ]
    assert "weight_hr_l1_reverse" in module.state_dict() and "bias_ih_l0" not in module.state_dict()
    assert module._flat_weights_names == reference._flat_weights_names
    assert [[p.shape for p in ws] for ws in module.all_weights] == [
        [tuple(p.shape) for p in ws] for ws in reference.all_weights
    ]
    module.flatten_parameters()  # a no-op, as on CPU torch
    for make in [
        lambda m: m.LSTM(10, 20, num_layers=2),
        lambda m: m.RNN(3, 4, 2, "relu", False, True, 0.5, True),
        lambda m: m.LSTM(3, 4, proj_size=2, bias=False, batch_first=True, dropout=0.5, num_layers=2),
        lambda m: m.GRU(3, 4, bidirectional=True),
        lambda m: m.RNNCell(3, 4, bias=False, nonlinearity="relu"),
        lambda m: m.LSTMCell(3, 4),
        lambda m: m.GRUCell(3, 4, bias=False),
    ]:
        assert repr(make(nn)) == repr(make(torch.nn))
    assert repr(nn.LSTM(10, 20, num_layers=2)) == "LSTM(10, 20, num_layers=2)"
    irc.manual_seed(0)
    bound = 1 / np.sqrt(16)
    for module in (nn.GRU(8, 16, num_layers=2), nn.LSTMCell(8, 16)):
        values = np.concatenate([p.numpy().ravel() for p in module.parameters()])
        assert values.dtype == np.float32 and np.abs(values).max() <= bound
        assert abs(values.std() - bound / np.sqrt(3)) < 0.01  # U(-b, b), as torch
        assert all(p.requires_grad and p.is_leaf for p in module.parameters())
    assert nn.RNN(2, 3, dtype=irc.float64).weight_ih_l0.dtype == np.float64


def test_constructor_errors_and_warning():
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'."):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        nn.GRU(2, 3, proj_size=1)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(2, 3, proj_size=3)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(2, 3, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(2, 0)
    with pytest.raises(TypeError, match="batch_first should be of type bool, got: int"):
        nn.LSTM(2, 3, batch_first=1)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(2, 3, dropout=0.2)


def test_forward_errors_name_the_module_and_shapes():
    lstm, gru = nn.LSTM(3, 4, num_layers=2), nn.GRU(3, 4, batch_first=True)
    x = irc.zeros(5, 2, 3)
    cases = [
        (lambda: lstm(irc.zeros(1, 5, 2, 3)), "LSTM: Expected input to be 2D or 3D, got 4D instead"),
        (lambda: nn.RNN(3, 4)(irc.zeros(3)), "RNN: Expected input to be 2D or 3D, got 1D tensor instead"),
        (lambda: lstm(irc.zeros(5, 2, 6)), r"input.size\(-1\) must be equal to input_size. Expected 3, got 6"),
        (lambda: lstm(x, (irc.zeros(1, 2, 4), irc.zeros(2, 2, 4))), r"Expected hidden\[0\] size \(2, 2, 4\), got \[1, 2, 4\]"),
        (lambda: lstm(x, (irc.zeros(2, 2, 4), irc.zeros(2, 3, 4))), r"Expected hidden\[1\] size \(2, 2, 4\), got \[2, 3, 4\]"),
        (lambda: lstm(x, irc.zeros(2, 2, 4)), r"LSTM: hx should be a tuple \(h_0, c_0\)"),
        (lambda: lstm(x, (irc.zeros(2, 4), irc.zeros(2, 4))), r"batched 3-D input, hx and cx should also be 3-D but got \(2-D, 2-D\)"),
        (lambda: gru(x, irc.zeros(1, 2, 4)), r"Expected hidden size \(1, 5, 4\), got \[1, 2, 4\]"),  # batch_first
        (lambda: gru(irc.zeros(5, 3), irc.zeros(1, 1, 4)), "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"),
        (lambda: gru(irc.zeros(5, 2, 3, dtype=irc.float64)), r"RNN input dtype \(float64\) does not match weight dtype \(float32\)"),
        (lambda: gru([[0.0] * 3]), "GRU: expected the input to be a Tensor, got list \\(PackedSequence is not supported\\)"),
        (lambda: nn.LSTMCell(3, 4)(np.zeros(3)), "LSTMCell: expected the input to be a Tensor, got ndarray"),
        (lambda: nn.LSTMCell(3, 4)(irc.zeros(2, 2, 3)), "LSTMCell: Expected input to be 1D or 2D, got 3D instead"),
        (lambda: nn.GRUCell(3, 4)(irc.zeros(2, 3), irc.zeros(1, 2, 4)), "GRUCell: Expected hidden to be 1D or 2D, got 3D instead"),
        (lambda: nn.RNNCell(3, 4)(irc.zeros(2, 5)), "input has inconsistent input_size: got 5 expected 3"),
        (lambda: nn.RNNCell(3, 4)(irc.zeros(2, 3), irc.zeros(3, 4)), "Input batch size 2 doesn't match hidden0 batch size 3"),
        (lambda: nn.LSTMCell(3, 4)(irc.zeros(2, 3), (irc.zeros(2, 4), irc.zeros(2, 2))), "hidden1 has inconsistent hidden_size: got 2, expected 4"),
    ]  # fmt: skip
    for call, message in cases:
        with pytest.raises(FrontendError, match=message) as info:
            call()
        assert info.value.location[0] == __file__  # the error points at the caller's line


class Model(nn.Module):
    """LSTM -> Linear on the last step's output (the shape of a sequence classifier)."""

    def __init__(self, m, layers):
        m.Module.__init__(self)
        self.lstm = m.LSTM(IN, HIDDEN, num_layers=layers, batch_first=True)
        self.head = m.Linear(HIDDEN, 3)

    def forward(self, x):
        output, (h_n, c_n) = self.lstm(x)
        return self.head(output[:, -1]) + c_n.sum(0)[:, :3]


class TorchModel(torch.nn.Module):
    __init__, forward = Model.__init__, Model.forward


JIT_CASES = [
    pytest.param("reference", 2, SEQ, id="hl-reference"),
    # ~1 s of tracing and hl passes, then TVM's schedule, build and LLVM codegen: 12-20 s on a busy 2-core machine
    pytest.param("llvm", 1, 3, id="llvm", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("target, layers, seq", JIT_CASES)
def test_lstm_training_step_under_jit(target, layers, seq, request):
    """Forward, backward and an Adam update in one jitted program; 2 steps against torch."""
    if target == "reference":
        request.getfixturevalue("reference_jit")
    torch.manual_seed(0)
    reference, model = TorchModel(torch.nn, layers), Model(nn, layers)
    model.load_state_dict(reference.state_dict())
    opt, ref_opt = optim.Adam(model.parameters(), lr=0.05), torch.optim.Adam(reference.parameters(), lr=0.05)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    jitted = irc.jit(step, target="llvm")
    rng = np.random.default_rng(3)
    for i in range(2):
        x = rng.standard_normal((BATCH, seq, IN)).astype(np.float32)
        y = rng.integers(0, 3, BATCH)
        start = time.perf_counter()
        loss = jitted(irc.tensor(x), irc.tensor(y))
        if i == 0:
            print(f"first jitted LSTM step on {target} (trace + compile): {time.perf_counter() - start:.1f} s")
        ref_opt.zero_grad()
        expected = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y))
        expected.backward()
        ref_opt.step()
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5)
        for (name, p), q in zip(model.named_parameters(), reference.parameters()):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    assert jitted.cache_size == 1
