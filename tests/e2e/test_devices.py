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
