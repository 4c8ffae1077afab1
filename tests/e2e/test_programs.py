"""Real PyTorch programs (tests/e2e/programs/: nanoGPT's model, pytorch/examples' mnist, vae,
regression and super_resolution model and time_sequence_prediction (LBFGS), the quickstart tutorial, micrograd's tests) run with `import irc as torch`, each
compared with the same file run by PyTorch (its irc imports turned back into torch's).

The programs are upstream code with two kinds of changes only (each file's header lists them): the
imports, and synthetic data where they download a dataset. What the test changes, on both sides
alike, is randomness: layers are initialized, `randn`/`randn_like` drawn and dropout masks taken
from one shared numpy stream (or the weights are copied), so that both runs see the same numbers
and the numbers the programs print (losses, accuracies) must agree. Eager graphs are interpreted
(the eager tier that runs first in a program; the compiled tier is tests/e2e's other tests).
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import irc
import irc.utils.data
from irc.frontend import realize

torch = pytest.importorskip("torch")

PROGRAMS = Path(__file__).parent / "programs"
FRAMEWORKS = {"irc": irc, "torch": torch}


@pytest.fixture(autouse=True)
def interpreted_eager_graphs():
    with realize.set_eager_mode("interpret"):
        yield


def as_torch(source: str) -> str:
    """The program's source with its irc imports spelled as torch's (`import irc as torch` -> `import torch`)."""
    lines = []
    for line in source.splitlines():
        if re.match(r"(import|from) irc\b", line):
            line = re.sub(r"\birc\b", "torch", line).replace("import torch as torch", "import torch")
        lines.append(line)
    return "\n".join(lines) + "\n"


def load(name: str, framework: str, main: bool = False) -> types.ModuleType:
    """tests/e2e/programs/<name>.py run on `framework` as a module (as `__main__` with `main`)."""
    path = PROGRAMS / f"{name}.py"
    source = path.read_text()
    module = types.ModuleType("__main__" if main else f"program_{name}_{framework}")
    module.__dict__.update(__file__=str(path), __package__="tests.e2e.programs")
    if not main:
        sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source if framework == "irc" else as_torch(source), str(path), "exec"), module.__dict__)
    return module


def numbers(text: str) -> list[float]:
    return [float(s) for s in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def shared_randomness(monkeypatch, m, seed: int = 0) -> None:
    """Linear and Conv2d layers initialized, `randn`/`randn_like` drawn and DataLoader's shuffling
    permutations taken from a numpy stream of `seed` (in call order), dropout off (its masks are random
    numbers too): the same on irc and torch."""
    rng = np.random.default_rng(seed)

    def fill(p, array):
        with m.no_grad():
            p.copy_(m.tensor(array.astype(np.float32)))

    def reset_parameters(self):
        bound = 1 / np.sqrt(np.prod(self.weight.shape[1:]))
        fill(self.weight, rng.uniform(-bound, bound, tuple(self.weight.shape)))
        if self.bias is not None:
            fill(self.bias, rng.uniform(-bound, bound, tuple(self.bias.shape)))

    def randn(*shape, **kwargs):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return m.tensor(rng.standard_normal(shape).astype(np.float32))

    monkeypatch.setattr(m.nn.Linear, "reset_parameters", reset_parameters)
    monkeypatch.setattr(m.nn.Conv2d, "reset_parameters", reset_parameters)
    monkeypatch.setattr(m, "randn", randn)
    monkeypatch.setattr(m, "randn_like", lambda x, **kwargs: randn(*x.shape))
    monkeypatch.setattr(m.nn.Dropout, "forward", lambda self, x: x)
    monkeypatch.setattr(
        m.utils.data.RandomSampler, "__iter__", lambda self: iter(rng.permutation(len(self.data_source)).tolist())
    )


def run_both(name, monkeypatch, capsys, tmp_path) -> tuple[str, str]:
    """The program run as `__main__` on irc, then on torch, with shared randomness; what each printed."""
    monkeypatch.chdir(tmp_path)
    printed = {}
    for framework, m in FRAMEWORKS.items():
        with monkeypatch.context() as patch:
            shared_randomness(patch, m)
            load(name, framework, main=True)
        printed[framework] = capsys.readouterr().out
    return printed["irc"], printed["torch"]


def assert_same_numbers(ours: str, theirs: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    assert len(numbers(ours)) == len(numbers(theirs)), (ours, theirs)
    np.testing.assert_allclose(numbers(ours), numbers(theirs), rtol=rtol, atol=atol, err_msg=f"\n{ours}\n{theirs}")


@pytest.mark.slow  # its fc1 (9216 x 128) as written: about 10 s on the interpreter
def test_mnist(monkeypatch, capsys, tmp_path):
    """pytorch/examples mnist: Conv2d/max_pool2d/log_softmax Net, nll_loss, Adadelta and StepLR,
    `argmax(dim=1, keepdim=True)`, `eq(target.view_as(pred))`, 2 epochs."""
    ours, theirs = run_both("mnist", monkeypatch, capsys, tmp_path)
    assert ours.count("Train Epoch") == 4 and ours.count("Test set") == 2
    assert_same_numbers(ours, theirs)


def test_vae(monkeypatch, capsys, tmp_path):
    """pytorch/examples vae: binary_cross_entropy(reduction='sum'), exp, randn_like, Adam; one epoch."""
    ours, theirs = run_both("vae", monkeypatch, capsys, tmp_path)
    assert ours.count("Train Epoch") == 4 and "Test set loss" in ours
    assert_same_numbers(ours, theirs)


def test_quickstart(monkeypatch, capsys, tmp_path):
    """The PyTorch quickstart: Flatten + Linear/ReLU stack, CrossEntropyLoss, SGD, cuda/mps device
    checks, `torch.save(model.state_dict(), "model.pth")` and `load`, eval under no_grad, accuracy
    by `(pred.argmax(1) == y).type(torch.float).sum().item()`, `classes[pred[0].argmax(0)]`."""
    ours, theirs = run_both("quickstart", monkeypatch, capsys, tmp_path)
    assert "Using cpu device" in ours and ours.count("Test Error") == 2 and "Predicted" in ours
    # the lines that differ on purpose: shapes print as tuples (`torch.Size([...])` in torch), dtypes as numpy's
    assert_same_numbers(ours, theirs)
    assert ours.splitlines()[-1] == theirs.splitlines()[-1]  # the predicted class
    assert (tmp_path / "model.pth").exists()


@pytest.mark.slow  # about 1000 steps on each framework: about 10 s
def test_regression(monkeypatch, capsys, tmp_path):
    """pytorch/examples regression: fits a degree-4 polynomial until smooth_l1_loss < 1e-3 (about
    1000 batches), `param.data.add_(-0.1 * param.grad)`, `'{:+.2f}'.format(tensor)`.

    Its step (lr 0.1 on features up to x^4) amplifies float32 rounding, so the two runs agree for
    the first 200 batches and then drift apart on the same data; both must still converge."""
    losses = {}
    for framework, m in FRAMEWORKS.items():
        losses[framework] = recorded = []
        smooth_l1_loss = m.nn.functional.smooth_l1_loss

        def recording(*args, _loss=smooth_l1_loss, _recorded=recorded, **kwargs):
            out = _loss(*args, **kwargs)
            _recorded.append(out.item())
            return out

        monkeypatch.setattr(m.nn.functional, "smooth_l1_loss", recording)
    ours, theirs = run_both("regression", monkeypatch, capsys, tmp_path)
    np.testing.assert_allclose(losses["irc"][:200], losses["torch"][:200], rtol=1e-3)
    for printed, recorded in ((ours, losses["irc"]), (theirs, losses["torch"])):
        loss, batches = numbers(printed.splitlines()[0])
        assert loss == pytest.approx(recorded[-1], abs=1e-6) and batches == len(recorded) and loss < 1e-3
        learned, actual = (numbers(line.split("y =")[1]) for line in printed.splitlines()[1:3])
        # the coefficients and the constant (the numbers between are the powers)
        np.testing.assert_allclose(learned[::2], actual[::2], atol=0.1)
    assert ours.splitlines()[2] == theirs.splitlines()[2]  # the same target function


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_micrograd(framework):
    """micrograd's own tests: a legacy `torch.Tensor([-4.0]).double()` graph against micrograd's values and gradients."""
    module = load("micrograd_test_engine", framework)
    module.test_sanity_check()
    module.test_more_ops()


@pytest.mark.parametrize("bias, flash", [(True, True), (False, False)])
def test_nanogpt(bias, flash, capsys, monkeypatch):
    """nanoGPT's model.py: GPT from torch's weights, forward with targets (cross_entropy with
    ignore_index), backward, configure_optimizers (AdamW with weight-decay groups; the `fused`
    check by `inspect.signature`), 3 steps; generate() at a temperature that makes sampling greedy
    must give torch's tokens, and at temperature 1 (past block_size, so cropping) tokens in range;
    crop_block_size and estimate_mfu.
    Without `F.scaled_dot_product_attention` (removed on both sides) the model takes its other
    path: a causal `bias` buffer, `masked_fill(self.bias[:,:,:T,:T] == 0, float('-inf'))`."""
    models, optimizers, losses = {}, {}, {}
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 32, (4, 16)), rng.integers(0, 32, (4, 16))
    for framework in ("torch", "irc"):
        m = FRAMEWORKS[framework]
        if not flash:
            monkeypatch.delattr(m.nn.functional, "scaled_dot_product_attention")
        program = load("nanogpt_model", framework)
        config = program.GPTConfig(block_size=16, vocab_size=32, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=bias)
        torch.manual_seed(0)
        models[framework] = model = program.GPT(config)
        if framework == "torch":
            initial = {key: value.detach().numpy().copy() for key, value in model.state_dict().items()}
        else:
            model.load_state_dict(initial)
        assert model.transformer.h[0].attn.flash == flash
        optimizers[framework] = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
        losses[framework] = []
        for _ in range(3):
            _, loss = model(m.tensor(x), m.tensor(y))
            optimizers[framework].zero_grad()
            loss.backward()
            optimizers[framework].step()
            losses[framework].append(loss.item())
    printed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("WARNING: using slow")]
    assert printed[:4] == printed[4:] and printed[3] == "using fused AdamW: False"  # the parameter counts, groups
    np.testing.assert_allclose(losses["irc"], losses["torch"], rtol=1e-5)
    for ours, theirs in zip(optimizers["irc"].param_groups, optimizers["torch"].param_groups, strict=True):
        assert (len(ours["params"]), ours["weight_decay"]) == (len(theirs["params"]), theirs["weight_decay"])
    theirs = models["torch"].state_dict()
    for key, value in models["irc"].state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs[key].detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=key)

    prompt = x[:2, :4]
    greedy = {f: models[f].generate(m.tensor(prompt), 6, temperature=1e-3) for f, m in FRAMEWORKS.items()}
    assert greedy["irc"].tolist() == greedy["torch"].tolist()
    top = {f: models[f].generate(m.tensor(prompt), 6, temperature=1e-3, top_k=5) for f, m in FRAMEWORKS.items()}
    assert top["irc"].tolist() == top["torch"].tolist()  # torch.topk, then logits[logits < v[:, [-1]]] = -inf
    irc.manual_seed(0)
    sampled = models["irc"].generate(irc.tensor(prompt), 20)
    assert sampled.shape == (2, 24) and sampled.dtype == np.int64
    assert sampled[:, :4].tolist() == prompt.tolist() and 0 <= sampled.min().item() and sampled.max().item() < 32

    cropped = {}
    for framework, m in FRAMEWORKS.items():
        models[framework].crop_block_size(8)
        models[framework].train()
        cropped[framework] = models[framework](m.tensor(x[:, :8]), m.tensor(y[:, :8]))[1].item()
    assert models["irc"].transformer.wpe.weight.shape == (8, 16)
    assert cropped["irc"] == pytest.approx(cropped["torch"], rel=1e-5)
    assert models["irc"].estimate_mfu(4, 0.5) == pytest.approx(models["torch"].estimate_mfu(4, 0.5))


def test_super_resolution():
    """pytorch/examples' super_resolution model (PixelShuffle; init.orthogonal_ with calculate_gain): irc's
    own init gives orthogonal weights of the relu gain; from torch's weights, the forward pass, the MSE
    loss against a 3x larger target, every gradient and an SGD step equal torch's."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    target = rng.standard_normal((2, 1, 24, 24)).astype(np.float32)
    nets, outputs, losses = {}, {}, {}
    for framework in ("torch", "irc"):
        m = FRAMEWORKS[framework]
        program = load("super_resolution_model", framework)
        torch.manual_seed(0)
        irc.manual_seed(0)
        nets[framework] = net = program.Net(upscale_factor=3)
        if framework == "torch":
            initial = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
        else:
            w = net.conv2.weight.numpy().reshape(64, -1).astype(np.float64)  # 64 rows of 576: orthogonal rows
            np.testing.assert_allclose(w @ w.T, 2.0 * np.eye(64), atol=1e-4)  # relu gain sqrt(2), squared
            net.load_state_dict(initial)
        opt = m.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        outputs[framework] = out = net(m.tensor(x))
        losses[framework] = loss = m.nn.MSELoss()(out, m.tensor(target))
        loss.backward()
        opt.step()
    assert tuple(outputs["irc"].shape) == tuple(outputs["torch"].shape) == (2, 1, 24, 24)
    np.testing.assert_allclose(outputs["irc"].detach().numpy(), outputs["torch"].detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses["irc"].item(), losses["torch"].item(), rtol=1e-5)
    theirs = dict(nets["torch"].named_parameters())
    for name, p in nets["irc"].named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(p.numpy(), theirs[name].detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def _sequence_trained_by_lbfgs(framework: str, data: np.ndarray, initial: dict | None):
    """time_sequence_prediction's `Sequence` from `initial` (else its own init, returned), one step of its
    script's LBFGS closure: the losses its closure saw, the parameters and a 10-step forecast."""
    m = FRAMEWORKS[framework]
    program = load("time_sequence_prediction", framework)
    torch.manual_seed(0)
    seq = program.Sequence()
    seq.double()
    if initial is None:
        initial = {k: v.detach().numpy().copy() for k, v in seq.state_dict().items()}
    else:
        seq.load_state_dict(initial)
    inputs, target = m.tensor(data[3:, :-1]), m.tensor(data[3:, 1:])
    criterion = program.nn.MSELoss()
    optimizer = program.optim.LBFGS(seq.parameters(), lr=0.8)
    losses = []

    def closure():  # the script's, its print made a record
        optimizer.zero_grad()
        out = seq(inputs)
        loss = criterion(out, target)
        losses.append(loss.item())
        loss.backward()
        return loss

    optimizer.step(closure)
    with m.no_grad():
        forecast = seq(m.tensor(data[:3, :-1]), future=10).numpy()
    return losses, [p.detach().numpy().copy() for p in seq.parameters()], forecast, initial


def test_time_sequence_prediction_with_lbfgs():
    """pytorch/examples' time_sequence_prediction: its two-LSTMCell `Sequence` (float64) trained by its
    script's LBFGS(lr=0.8) closure on sine waves as generate_sine_wave.py makes them (fewer and shorter:
    8 series of 24 steps), from torch's weights: the same closure calls and losses, parameters after the
    step and a 10-step forecast as torch's."""
    T, L, N = 20, 24, 8
    rng = np.random.RandomState(2)
    x = np.empty((N, L), "int64")
    x[:] = np.array(range(L)) + rng.randint(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(x / 1.0 / T).astype("float64")
    theirs, their_params, their_forecast, initial = _sequence_trained_by_lbfgs("torch", data, None)
    ours, our_params, our_forecast, _ = _sequence_trained_by_lbfgs("irc", data, initial)
    assert len(ours) == len(theirs) > 5 and ours[-1] < ours[0] / 2
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    for mine, want in zip(our_params, their_params):
        np.testing.assert_allclose(mine, want, rtol=1e-8, atol=1e-10)
    assert our_forecast.shape == (3, L - 1 + 10)
    np.testing.assert_allclose(our_forecast, their_forecast, rtol=1e-8, atol=1e-10)
