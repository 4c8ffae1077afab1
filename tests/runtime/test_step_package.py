"""Jitted training steps as packages (`JitFunction.save`, `Package.step_runner`).

A jitted MLP SGD-momentum / Adam step is saved with its parameters and optimizer
state; a fresh process where xDSL (and, for GPU packages, TVM) cannot be imported
runs it N times. Oracles: N steps of the same `irc.jit` step in process (equal
losses and parameters), and N steps of torch (CPU) from the same initial weights.
"""

import dataclasses
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
import irc.optim as optim
from irc.errors import IRCError
from irc.runtime import package
from irc.runtime.kinds import RUNTIME_KINDS
from irc.runtime.plan import DeviceArray
from irc.targets.cuda import nvrtc_available
from tests.helpers import BLOCK_IMPORTS, rewrite_zip, training_step
from tests.runtime.test_package import _has_opencl

ROOT = Path(__file__).resolve().parents[2]
STEPS = 3
PARAMS = ["0.weight", "0.bias", "2.weight", "2.bias"]
TARGETS = ["llvm", pytest.param("opencl", marks=pytest.mark.skipif(not _has_opencl(), reason="no OpenCL platform"))]


def make_step(optimizer: str, target):
    """A fresh seeded MLP, its optimizer and the jitted training step."""
    irc.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    if optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = optim.Adam(model.parameters(), lr=1e-2)
    return model, opt, irc.jit(training_step(model, opt, F.cross_entropy), target=target)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 6)).astype(np.float32), rng.integers(0, 3, 5)


def torch_steps(optimizer: str, weights: dict, x, t):
    """Losses and final parameters of STEPS torch steps from `weights`."""
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.tensor(x)), torch.tensor(t))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.detach().numpy() for k, v in model.state_dict().items()}


RUN_STEPS = (
    BLOCK_IMPORTS
    + """
import numpy as np
import irc.runtime
step = irc.runtime.load(sys.argv[1]).step_runner()
batch = np.load(sys.argv[2])
losses = []
for _ in range(int(sys.argv[4])):
    (loss,) = step(batch["x"], batch["t"])
    losses.append(float(loss.to_numpy() if hasattr(loss, "to_numpy") else loss))
np.savez(sys.argv[3], losses=np.array(losses), **step.state)
"""
)


@pytest.mark.parametrize(
    "target, optimizer",
    [("llvm", "sgd"), ("llvm", "adam"), pytest.param("opencl", "sgd", marks=TARGETS[1].marks)],
)
def test_saved_step_runs_without_the_compiler_like_the_jit_and_torch(target, optimizer, batch, tmp_path):
    x, t = batch
    model, _, step = make_step(optimizer, target)
    initial = {k: v.numpy() for k, v in model.state_dict().items()}
    path = step.save(tmp_path / "step.ircpkg", x, t)
    np.savez(tmp_path / "batch.npz", x=x, t=t)
    blocked = "xdsl" if target == "llvm" else "xdsl,tvm"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN_STEPS,
            blocked,
            str(path),
            str(tmp_path / "batch.npz"),
            str(tmp_path / "out.npz"),
            str(STEPS),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    out = dict(np.load(tmp_path / "out.npz"))
    # the same step in process: saving ran nothing, so the model is still at its initial weights
    assert all(np.array_equal(model.state_dict()[k].numpy(), v) for k, v in initial.items())
    losses = [step(x, t).item() for _ in range(STEPS)]
    np.testing.assert_allclose(out["losses"], losses, rtol=1e-6)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(out[name], value.numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
    want_losses, want = torch_steps(optimizer, initial, x, t)
    np.testing.assert_allclose(out["losses"], want_losses, rtol=1e-5)
    for name in PARAMS:
        np.testing.assert_allclose(out[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert out["losses"][-1] < out["losses"][0]


@pytest.fixture(scope="module")
def adam_package(batch, tmp_path_factory):
    model, opt, step = make_step("adam", "llvm")
    return model, step.save(tmp_path_factory.mktemp("adam") / "step.ircpkg", *batch)


def test_manifest_names_state_and_updates(adam_package):
    model, path = adam_package
    loaded = package.load(path)
    entry = loaded.manifest["entries"][0]
    names = [s.name for s in loaded.inputs]
    assert names[:2] == ["x", "t"]
    assert set(PARAMS) <= set(names)
    assert {"lr", "beta1", "beta2", "eps", "0.weight.exp_avg", "0.weight.exp_avg_sq", "2.bias.step"} <= set(names)
    step = entry["step"]
    assert step["inputs"] == 2 and step["outputs"] == 1 and step["keys"] == []
    outputs = [s.name for s in loaded.outputs]
    assert outputs[0] == "out0"
    # every parameter and every Adam state tensor is written back to its input; the grads are outputs only
    updated = {names[i] for _, i in step["updates"]}
    assert updated == {n for n in names[2:] if n not in ("lr", "beta1", "beta2", "eps")}
    assert all(outputs[o] == names[i] for o, i in step["updates"])
    assert {"0.weight.grad", "2.bias.grad"} <= set(outputs) - {names[i] for _, i in step["updates"]}
    # self-contained: the initial state is in the package, hashed like every member
    assert set(step["state"]) == set(names[2:])
    weight = np.load(io.BytesIO(loaded.members[step["state"]["0.weight"]]))
    np.testing.assert_array_equal(weight, model[0].weight.numpy())
    assert float(np.load(io.BytesIO(loaded.members[step["state"]["lr"]]))) == pytest.approx(1e-2)


def test_a_changed_state_member_is_refused(adam_package, tmp_path):
    _, path = adam_package
    damaged = tmp_path / "damaged.ircpkg"
    rewrite_zip(
        path, damaged, lambda name, data: data[:-4] + b"\0\0\0\0" if name == "state/train_step/0.weight.npy" else data
    )
    with pytest.raises(IRCError, match=r"state/train_step/0.weight.npy does not match its SHA-256"):
        package.load(damaged)


def test_runner_state_load_state_and_errors(adam_package, batch):
    _, path = adam_package
    loaded = package.load(path)
    step = loaded.step_runner()
    x, t = batch
    before = step.state
    assert set(before) >= set(PARAMS) and "0.weight.grad" not in before
    (loss,) = step(x=x, t=t)
    assert loss.shape == ()
    after = step.state
    assert not np.array_equal(after["0.weight"], before["0.weight"])
    assert after["0.weight.step"] == 1 and "0.weight.grad" in after
    step.load_state({"lr": 0.0})  # a learning rate of 0 leaves the parameters where they are
    step(x, t)
    np.testing.assert_array_equal(step.state["0.weight"], after["0.weight"])
    with pytest.raises(IRCError, match="no state named 'lr2'"):
        step.load_state({"lr2": 0.1})
    with pytest.raises(IRCError, match=r"missing input t"):
        step(x)
    with pytest.raises(IRCError, match=r"x is float32\[2, 6\], the package expects float32\[5, 6\]"):
        step(x[:2], t)
    # a package of a plain function is no step
    plain = irc.jit(lambda a: a * 2)
    plain_path = plain.save(Path(path).parent / "plain.ircpkg", x)
    (doubled,) = package.load(plain_path).step_runner()(x)
    np.testing.assert_array_equal(doubled, 2 * x)


def test_a_package_that_is_no_step_is_refused(tmp_path, batch):
    from irc.compiler.pipeline import Pipeline
    from irc.frontend.tracing import trace

    module = trace(lambda a: a + 1, [irc.Spec((5, 6))], name="inc")
    path = package.save(Pipeline("llvm").run(module), tmp_path / "inc.ircpkg")
    with pytest.raises(IRCError, match="inc is not a step"):
        package.load(path).step_runner()


@pytest.mark.skipif(not _has_opencl(), reason="no OpenCL platform")
def test_opencl_runner_keeps_the_state_on_the_device(batch, tmp_path):
    _, _, step = make_step("sgd", "opencl")
    runner = package.load(step.save(tmp_path / "sgd.ircpkg", *batch)).step_runner()
    x, t = (runner.entry.to_device(a) for a in batch)
    (loss,) = runner(x, t)
    assert isinstance(loss, DeviceArray)
    assert all(isinstance(v, DeviceArray) for v in runner.device_state.values())


@pytest.mark.slow  # nvcc builds every kernel of the step: about 10 s
def test_cuda_step_package_written_without_a_gpu(batch, tmp_path, monkeypatch):
    # the cubin is built here, by nvcc where it is on PATH, else by NVRTC; running it waits for a GPU
    if shutil.which("nvcc") is None and not nvrtc_available():
        pytest.skip("neither nvcc nor NVRTC (the cuda extra) installed")
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "cache"))
    _, _, step = make_step("sgd", {"kind": "cuda", "arch": "sm_90"})
    path = step.save(tmp_path / "step.ircpkg", *batch)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        cubin = archive.read("kernels.cubin")
        assert "kernels.cu" in archive.namelist()
    assert manifest["target"] == {"kind": "cuda", "arch": "sm_90"}
    assert cubin[:4] == b"\x7fELF"
    entry = manifest["entries"][0]
    assert entry["step"]["updates"] and entry["plan"]["launches"]
    assert [s["name"] for s in entry["inputs"]][:2] == ["x", "t"]
    assert package.load(path).inputs[2].name in entry["step"]["state"]

    # The step's graphs on a device that only hands out pool addresses (its kernels do nothing). This
    # tiny model's buffers share a few pool size classes, so its addresses come back in no short cycle:
    # no set repeats soon enough for a graph, and every call launches kernel by kernel.
    device = AddressOnlyDevice()
    monkeypatch.setitem(
        RUNTIME_KINDS, "cuda", dataclasses.replace(RUNTIME_KINDS["cuda"], open_device=lambda *a: device)
    )
    runner = package.load(path).step_runner()
    for _ in range(40):
        runner(*batch)
    launches = len(entry["plan"]["launches"])
    assert (device.graphs_built, device.graph_launches, device.kernel_launches) == (0, 0, 40 * launches)


@pytest.mark.slow  # nvcc builds every kernel of the step: about 10 s
def test_a_cuda_mlp_step_settles_on_the_graphs_of_its_address_cycle(tmp_path, monkeypatch):
    """The MLP SGD-momentum step of benchmarks/gpu_packages.py (784-256-10), its graphs on a device that
    only hands out pool addresses: its buffers cycle through 6 address sets and the runner settles on
    their 6 graphs. With 4 graphs kept it built one every call or two on an H200 (54 in 205 steps),
    0.64 ms a step against 0.39 launching kernel by kernel."""
    if shutil.which("nvcc") is None and not nvrtc_available():
        pytest.skip("neither nvcc nor NVRTC (the cuda extra) installed")
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "cache"))
    irc.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = irc.jit(training_step(model, opt, F.cross_entropy), target={"kind": "cuda", "arch": "sm_90"})
    x, t = np.zeros((64, 784), np.float32), np.zeros(64, np.int64)
    path = step.save(tmp_path / "mlp.ircpkg", x, t)
    device = AddressOnlyDevice()
    monkeypatch.setitem(
        RUNTIME_KINDS, "cuda", dataclasses.replace(RUNTIME_KINDS["cuda"], open_device=lambda *a: device)
    )
    runner = package.load(path).step_runner()
    dx, dt = runner.entry.to_device(x), runner.entry.to_device(t)
    for _ in range(40):
        runner(dx, dt)
    launches = len(package.load(path).manifest["entries"][0]["plan"]["launches"])
    # the first call on addresses no later call has, then each of the 6 sets once kernel by kernel
    assert (device.graphs_built, device.graph_launches, device.kernel_launches) == (6, 33, 7 * launches)


class AddressOnlyDevice:
    """A device whose memory is pool blocks of a fake driver and whose kernels and graphs do nothing: what
    a runner does with graphs, for a real plan, without a GPU."""

    supports_graphs = True

    def __init__(self):
        from irc.runtime.pool import MemoryPool
        from tests.runtime.test_pool import FakeDriver

        driver = FakeDriver()
        self.pool = MemoryPool(driver.allocate, driver.release)
        self.graphs_built = self.graph_launches = self.kernel_launches = 0

    def alloc(self, nbytes):
        return self.pool.alloc(nbytes)

    def view(self, base, byte_offset, nbytes):
        return (self.address(base) + byte_offset, base)

    @staticmethod
    def address(buffer) -> int:
        return buffer[0] if isinstance(buffer, tuple) else buffer.handle

    def upload(self, buffer, array):
        pass

    def launch(self, launch, args):
        self.kernel_launches += 1

    def make_graph(self, launches, args_list, dependencies):
        self.graphs_built += 1
        return object()

    def launch_graph(self, graph):
        self.graph_launches += 1

    def free_graph(self, graph):
        pass


@pytest.mark.gpu
def test_cuda_step_package_runs_like_torch(batch, tmp_path):
    from irc.runtime.devices import data_device

    try:
        data_device("cuda")
    except IRCError as e:
        pytest.skip(str(e))
    x, t = batch
    model, _, step = make_step("adam", "cuda")
    initial = {k: v.numpy() for k, v in model.state_dict().items()}
    runner = package.load(step.save(tmp_path / "step.ircpkg", x, t)).step_runner()
    xs, ts = runner.entry.to_device(x), runner.entry.to_device(t)
    losses = [float(runner(xs, ts)[0].to_numpy()) for _ in range(STEPS)]
    want_losses, want = torch_steps("adam", initial, x, t)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    state = runner.state
    for name in PARAMS:
        np.testing.assert_allclose(state[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_bound_method_names_and_fresh_random_keys(tmp_path):
    # a module's forward with Dropout: the parameters are named from `self`, the key is drawn per call
    irc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5))
    x = np.ones((8, 4), np.float32)
    loaded = package.load(irc.jit(model.forward).save(tmp_path / "forward.ircpkg", x))
    assert [s.name for s in loaded.inputs] == ["x", "0.weight", "0.bias", "rng_key"]
    assert loaded.manifest["entries"][0]["step"]["keys"] == ["rng_key"]
    first, second = (loaded.step_runner(seed=1)(x)[0] for _ in range(2))  # two runners, the same seed
    np.testing.assert_array_equal(first, second)
    step = loaded.step_runner(seed=1)
    a, b = step(x)[0], step(x)[0]
    assert not np.array_equal(a == 0, b == 0)  # other dropout masks
    np.testing.assert_allclose(
        a[a != 0], (2 * (x @ model[0].weight.numpy().T + model[0].bias.numpy()))[a != 0], rtol=1e-5
    )
