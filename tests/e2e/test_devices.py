"""Device-resident execution on `opencl` (PoCL on the CPU): eager tensors, gradients,
nn + optimizer steps and irc.jit keep data on the device; results equal numpy / the CPU."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
import irc.optim as optim
from irc.runtime.plan import DeviceArray

pytest.importorskip("pyopencl")


@pytest.fixture(autouse=True)
def opencl_available():
    from irc.errors import IRCError
    from irc.runtime.devices import data_device

    try:
        data_device("opencl")
    except IRCError as e:
        pytest.skip(str(e))


def test_eager_values_stay_on_the_device_and_gradients_match(rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    x = irc.tensor(a, device="opencl")
    w = irc.tensor(b, device="opencl", requires_grad=True)
    y = (x @ w).relu().sum()
    assert y.device == "opencl" and isinstance(y._value(), DeviceArray)
    np.testing.assert_allclose(y.item(), np.maximum(a @ b, 0).sum(), rtol=1e-5)
    y.backward()
    assert w.grad.device == "opencl"
    np.testing.assert_allclose(w.grad.numpy(), a.T @ ((a @ b) > 0).astype(np.float32), rtol=1e-5, atol=1e-6)


def test_to_moves_between_devices_and_mixing_devices_is_an_error(rng):
    a = rng.standard_normal((2, 3)).astype(np.float32)
    x = irc.tensor(a).to("opencl")
    assert x.device == "opencl" and isinstance(x._value(), DeviceArray)
    back = (x * 2).to("cpu")
    assert back.device == "cpu" and isinstance(back._value(), np.ndarray)
    np.testing.assert_allclose(back.numpy(), 2 * a)
    with pytest.raises(irc.FrontendError, match="same device"):
        x + irc.tensor(a)


def test_training_steps_on_opencl_equal_the_cpu(rng):
    x = rng.standard_normal((8, 3)).astype(np.float32)
    t = rng.integers(0, 2, 8)
    params = []
    for device in ("cpu", "opencl"):
        irc.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).to(device)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        xs, ts = irc.tensor(x, device=device), irc.tensor(t, device=device)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(xs), ts).backward()
            opt.step()
        assert all(p.device == device for p in model.parameters())
        params.append([p.numpy() for p in model.parameters()])
    for cpu, ocl in zip(*params):
        np.testing.assert_allclose(ocl, cpu, rtol=1e-4, atol=1e-5)


def test_jit_on_opencl_returns_device_tensors(rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    f = irc.jit(lambda p, q: (p @ q).sum(1), target="opencl")
    out = f(irc.tensor(a, device="opencl"), b)
    assert out.device == "opencl" and isinstance(out._value(), DeviceArray)
    np.testing.assert_allclose(out.numpy(), (a @ b).sum(1), rtol=1e-5, atol=1e-5)
