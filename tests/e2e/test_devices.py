"""Device-resident execution on `opencl` (PoCL on a CPU) and `cuda` (`-m gpu`, skipped
without a GPU): eager tensors, gradients, nn + optimizer steps and irc.jit keep data on
the device; results equal numpy / the CPU."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
import irc.optim as optim
from irc.frontend.realize import eager_target
from irc.runtime.plan import DeviceArray
from tests.helpers import training_step


@pytest.fixture(params=["opencl", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Each device these tests run on; skipped (with the reason) where it is not available."""
    from irc.errors import IRCError
    from irc.runtime.devices import data_device

    try:
        data_device(request.param)
    except IRCError as e:
        pytest.skip(str(e))
    return request.param


def test_eager_values_stay_on_the_device_and_gradients_match(device, rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    x = irc.tensor(a, device=device)
    w = irc.tensor(b, device=device, requires_grad=True)
    y = (x @ w).relu().sum()
    assert y.device == device and isinstance(y._value(), DeviceArray)
    np.testing.assert_allclose(y.item(), np.maximum(a @ b, 0).sum(), rtol=1e-5)
    y.backward()
    assert w.grad.device == device
    np.testing.assert_allclose(w.grad.numpy(), a.T @ ((a @ b) > 0).astype(np.float32), rtol=1e-5, atol=1e-6)


def test_to_moves_between_devices_and_mixing_devices_is_an_error(device, rng):
    a = rng.standard_normal((2, 3)).astype(np.float32)
    x = irc.tensor(a).to(device)
    assert x.device == device and isinstance(x._value(), DeviceArray)
    back = (x * 2).to("cpu")
    assert back.device == "cpu" and isinstance(back._value(), np.ndarray)
    np.testing.assert_allclose(back.numpy(), 2 * a)
    with pytest.raises(irc.FrontendError, match="same device"):
        x + irc.tensor(a)


def test_training_steps_on_the_device_equal_the_cpu(device, rng):
    x = rng.standard_normal((8, 3)).astype(np.float32)
    t = rng.integers(0, 2, 8)
    params = []
    for where in ("cpu", device):
        irc.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).to(where)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        xs, ts = irc.tensor(x, device=where), irc.tensor(t, device=where)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(xs), ts).backward()
            opt.step()
        assert all(p.device == where for p in model.parameters())
        params.append([p.numpy() for p in model.parameters()])
    for cpu, ocl in zip(*params):
        np.testing.assert_allclose(ocl, cpu, rtol=1e-4, atol=1e-5)


def test_jit_on_the_device_returns_device_tensors(device, rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    f = irc.jit(lambda p, q: (p @ q).sum(1), target=eager_target(device))
    out = f(irc.tensor(a, device=device), b)
    assert out.device == device and isinstance(out._value(), DeviceArray)
    np.testing.assert_allclose(out.numpy(), (a @ b).sum(1), rtol=1e-5, atol=1e-5)


def _models(device, rng, build=lambda m: m.Sequential(m.Linear(4, 6), m.ReLU(), m.Linear(6, 3))):
    """`build(irc.nn)` on `device` and `build(torch.nn)` (on the CPU) with the same parameters."""
    torch = pytest.importorskip("torch")
    irc.manual_seed(0)
    model, oracle = build(nn).to(device), build(torch.nn)
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), oracle.parameters()):
            theirs.copy_(torch.from_numpy(mine.numpy()))
    return model, oracle


def _training_step(model, opt, device):
    """(x, t) -> cross-entropy loss, one optimizer step, as one irc.jit program for `device`."""
    return irc.jit(training_step(model, opt, F.cross_entropy), target=eager_target(device))


def test_jit_of_a_model_on_the_device(device, rng):
    """A model moved to the device, called inside irc.jit: the trace's inputs are on the device too."""
    torch = pytest.importorskip("torch")

    model, oracle = _models(device, rng)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    f = irc.jit(lambda x: model(x), target=eager_target(device))
    for _ in range(2):
        out = f(irc.tensor(x, device=device))
        assert out.device == device and isinstance(out._value(), DeviceArray)
        np.testing.assert_allclose(out.numpy(), oracle(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert f.cache_size == 1


class _Transfers:
    """The shapes of the arrays the device uploads and downloads."""

    def __init__(self, monkeypatch, device_kind: str):
        from irc.runtime.devices import data_device

        self.uploads, self.downloads = [], []
        cls = type(data_device(device_kind))
        upload, download = cls.upload, cls.download

        def counted_upload(device, buffer, array):
            self.uploads.append(np.shape(array))
            return upload(device, buffer, array)

        def counted_download(device, buffer, array):
            self.downloads.append(np.shape(array))
            return download(device, buffer, array)

        monkeypatch.setattr(cls, "upload", counted_upload)
        monkeypatch.setattr(cls, "download", counted_download)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_jitted_training_steps_keep_the_model_on_the_device(device, rng, optimizer, monkeypatch):
    """A whole training step (forward, backward, optimizer step) in irc.jit on a model moved to the device:
    losses and parameters after each step equal torch's on the CPU, and parameters, gradients and optimizer
    state stay on the device: a step after the first uploads only the rank-0 hyper-parameters and downloads
    nothing."""
    torch = pytest.importorskip("torch")

    model, oracle = _models(device, rng)
    if optimizer == "sgd":
        opt, ref = optim.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(oracle.parameters(), 0.1, 0.9)
    else:
        opt, ref = optim.Adam(model.parameters(), lr=0.01), torch.optim.Adam(oracle.parameters(), lr=0.01)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    t = rng.integers(0, 3, 8)
    xs, ts = irc.tensor(x, device=device), irc.tensor(t, device=device)
    step = _training_step(model, opt, device)
    transfers = _Transfers(monkeypatch, device)
    for i in range(4):
        transfers.uploads.clear(), transfers.downloads.clear()
        loss = step(xs, ts)
        if i > 0:
            assert transfers.downloads == [] and set(transfers.uploads) == {()}, (
                transfers.uploads,
                transfers.downloads,
            )
        ref.zero_grad()
        expected = torch.nn.functional.cross_entropy(oracle(torch.from_numpy(x)), torch.from_numpy(t))
        expected.backward()
        ref.step()
        assert loss.device == device
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5)
        state = [v for s in opt.state.values() for v in s.values() if isinstance(v, irc.Tensor)]
        for tensor in [*model.parameters(), *(p.grad for p in model.parameters()), *state]:
            assert tensor.device == device and isinstance(tensor._value(), DeviceArray)
        for mine, theirs in zip(model.parameters(), oracle.parameters()):
            np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert step.cache_size == 1


def test_jit_on_the_device_of_a_cpu_model(device, rng):
    """A model left on the CPU still trains in a step jitted for the device: its state is copied there
    and back on every call, and stays on the CPU."""
    torch = pytest.importorskip("torch")

    model, oracle = _models("cpu", rng)
    opt, ref = optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(oracle.parameters(), lr=0.1)
    x = rng.standard_normal((8, 4)).astype(np.float32)

    @irc.jit(target=eager_target(device))
    def step(x):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    for _ in range(2):
        step(x)
        ref.zero_grad()
        (oracle(torch.from_numpy(x)) ** 2).mean().backward()
        ref.step()
    for mine, theirs in zip(model.parameters(), oracle.parameters()):
        assert mine.device == "cpu"
        np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # a CNN's ~40 kernels built by PoCL (~1 min cold)
def test_jitted_cnn_adam_steps_on_the_device_equal_torch(device, rng):
    """conv (no bias) -> BatchNorm2d -> ReLU -> MaxPool twice, Linear; 4 jitted Adam steps on the device:
    gradients and parameters after every step equal torch's on the CPU. (With a conv bias before the
    BatchNorm its gradient is exactly 0 in exact arithmetic, rounding noise of ~1e-8 in every
    implementation, and Adam turns noise into steps of ~lr: such biases drift ~1e-2 apart between any
    two implementations, llvm and torch too; docs/gpu.md.)"""
    torch = pytest.importorskip("torch")

    def cnn(m):
        return m.Sequential(
            m.Conv2d(1, 4, 3, padding=1, bias=False), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2),
            m.Conv2d(4, 8, 3, padding=1, bias=False), m.BatchNorm2d(8), m.ReLU(), m.MaxPool2d(2),
            m.Flatten(), m.Linear(8 * 4, 10),
        )  # fmt: skip

    model, oracle = _models(device, rng, cnn)
    opt, ref = optim.Adam(model.parameters(), lr=3e-3), torch.optim.Adam(oracle.parameters(), lr=3e-3)
    x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    t = rng.integers(0, 10, 16)
    step = _training_step(model, opt, device)
    for _ in range(4):
        loss = step(irc.tensor(x, device=device), irc.tensor(t, device=device))
        ref.zero_grad()
        expected = torch.nn.functional.cross_entropy(oracle(torch.from_numpy(x)), torch.from_numpy(t))
        expected.backward()
        ref.step()
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5)
        for mine, theirs in zip(model.parameters(), oracle.parameters()):
            np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
