"""float16 and bfloat16 against PyTorch 2.13 on the CPU (the oracle): dtypes, promotion, elementwise ops,
reductions, matmul, softmax, a Linear + ReLU + MSE step, modules, save/load, jit, and the compiled tiers.

Each op computes in float32 and rounds once, as torch's CPU kernels: +, -, *, /, sqrt and the
conversions give the same bits; exp, erf, ... may differ in the last bit of the 16-bit result where
torch's float32 exp and irc's differ by one float32 ulp at a 16-bit tie (docs/dtypes.md).
"""

from __future__ import annotations

import io
import math
import shutil

import ml_dtypes
import numpy as np
import pytest
import torch

import irc
import irc.nn as nn
import irc.nn.functional as F
from irc.errors import IRCError
from irc.targets.cuda import nvcc_cubin

DTYPES = [(irc.float16, torch.float16), (irc.bfloat16, torch.bfloat16)]
BOTH = pytest.mark.parametrize("dt, tdt", DTYPES, ids=["f16", "bf16"])
TORCH_DTYPES = {
    irc.float16: torch.float16, irc.bfloat16: torch.bfloat16, irc.float32: torch.float32,
    irc.float64: torch.float64, irc.int32: torch.int32, irc.int64: torch.int64, irc.bool: torch.bool,
}  # fmt: skip
#: a gradient step in 16 bits rounds at every op of forward and backward; the orders of torch's and irc's
#: float32 accumulations differ, so their results may differ by a few 16-bit ulps
STEP_TOLERANCE = {irc.float16: dict(rtol=4e-3, atol=1e-3), irc.bfloat16: dict(rtol=3e-2, atol=8e-3)}


def _bits(dtype, values) -> np.ndarray:
    """`values` as the integers of their 16-bit patterns, ordered like the numbers (for ulp distances)."""
    bits = np.asarray(values, dtype).view(np.uint16).astype(np.int32)
    return np.where(bits >= 0x8000, 0x8000 - bits, bits)


def assert_like_torch(got, expected: torch.Tensor, ulps: int = 0, exact_share: float = 1.0) -> None:
    """`got` (an irc tensor) has `expected`'s dtype, and its values are within `ulps` 16-bit ulps of it
    (nan where it has nan); at least `exact_share` of them are the same bits."""
    assert TORCH_DTYPES[got.dtype] == expected.dtype
    g = got.numpy()
    e = expected.float().numpy().astype(got.dtype)
    nan = np.isnan(g.astype(np.float32))
    np.testing.assert_array_equal(nan, np.isnan(e.astype(np.float32)))
    distance = np.abs(_bits(got.dtype, g[~nan]) - _bits(got.dtype, e[~nan]))
    assert distance.max(initial=0) <= ulps, f"{distance.max()} ulps apart"
    assert (distance == 0).mean() >= exact_share if distance.size else True


def _data(rng, shape, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------------------------- dtypes


def test_names_creation_and_finfo():
    assert irc.half is irc.float16 == np.float16 and irc.bfloat16 == np.dtype(ml_dtypes.bfloat16)
    for dt, tdt in DTYPES:
        fi, tfi = irc.finfo(dt), torch.finfo(tdt)
        assert fi.bits == tfi.bits == 16
        for field in ("eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(fi, field) == np.asarray(getattr(tfi, field), dt), field
        x = irc.tensor([1.0, 2.5], dtype=dt)
        assert x.dtype == dt and x.numpy().dtype == dt and x.is_floating_point()
        assert irc.randn(2, 3, dtype=dt).dtype == dt and irc.zeros(2, dtype=dt).dtype == dt
        assert irc.ones(2).to(dt).dtype == dt and irc.tensor(np.zeros(2, dt)).dtype == dt
        assert irc.tensor([1.0], dtype=dt, requires_grad=True).requires_grad
    assert irc.ones(2).half().type() == "torch.HalfTensor" and irc.ones(2).bfloat16().type() == "torch.BFloat16Tensor"
    assert irc.ones(2).type("torch.HalfTensor").dtype == irc.half and irc.ones(2).to("float16").dtype == irc.half
    assert irc.finfo().eps == torch.finfo().eps
    with pytest.raises(TypeError, match="irc.finfo\\(\\) requires a floating point input type, got int64"):
        irc.finfo(irc.long)


def test_torch_dtype_promotion():
    """Two tensors: float16 with bfloat16 is float32, a wider float wins, ints and bools take the 16-bit type;
    a Python scalar does not promote a 16-bit tensor (`half * 2.5` is half)."""
    names = list(TORCH_DTYPES)
    for a in names:
        for b in names:
            if {a, b} & {irc.float16, irc.bfloat16}:
                x, y = irc.ones(2, dtype=a), irc.ones(2, dtype=b)
                expected = (torch.ones(2, dtype=TORCH_DTYPES[a]) + torch.ones(2, dtype=TORCH_DTYPES[b])).dtype
                assert TORCH_DTYPES[(x + y).dtype] == expected, (a, b)
                assert (
                    TORCH_DTYPES[irc.where(x > 0, x, y).dtype]
                    == torch.where(
                        torch.ones(2) > 0, torch.ones(2, dtype=TORCH_DTYPES[a]), torch.ones(2, dtype=TORCH_DTYPES[b])
                    ).dtype
                )
    for dt, tdt in DTYPES:
        x, t = irc.ones(2, dtype=dt), torch.ones(2, dtype=tdt)
        for scalar in (2, 2.5, True):
            assert TORCH_DTYPES[(x * scalar).dtype] == (t * scalar).dtype
            assert TORCH_DTYPES[(scalar / x).dtype] == (scalar / t).dtype
        assert (x > 1).dtype == irc.bool and x.sum().dtype == dt and x.mean().dtype == dt
        assert x.argmax().dtype == irc.long


# ---------------------------------------------------------------------------------- ops


UNARY = ["exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "sin", "cos", "erf", "relu", "abs", "neg"]
EXACT_UNARY = {"sqrt", "relu", "abs", "neg"}


def _elementwise(x, y, lib):
    """Every unary op, the binary ops and the scalar forms torch keeps in float32 (`x * 0.1`, `x / 0.3`)."""
    positive = x.abs() + 0.01
    out = {name: getattr(positive if name in ("log", "sqrt", "rsqrt") else x, name)() for name in UNARY}
    out |= {"add": x + y, "sub": x - y, "mul": x * y, "div": x / y, "pow": positive**y, "max": lib.maximum(x, y)}
    out |= {"mul_scalar": x * 0.1, "div_scalar": x / 0.3, "rdiv": 0.3 / x, "add_scalar": x + 1 / 3}
    out |= {"clamp": x.clamp(-1.0, 2.0), "where": lib.where(x > y, x, y), "floor_div": y // 0.7}
    return out


@BOTH
@pytest.mark.parametrize("mode", ["interpret", "compile"])
def test_elementwise_matches_torch(dt, tdt, mode):
    rng = np.random.default_rng(0)
    a, b = _data(rng, (64,)), _data(rng, (64,))
    a[:4] = [0.0, -0.0, np.inf, 6e4]
    x, y = irc.tensor(a, dtype=dt), irc.tensor(b, dtype=dt)
    expected = _elementwise(torch.tensor(a).to(tdt), torch.tensor(b).to(tdt), torch)
    with irc.set_eager_mode(mode):
        got = _elementwise(x, y, irc)
        stacked = irc.stack(list(got.values())).numpy()  # one graph: one compile
    for i, name in enumerate(got):
        exact = name in EXACT_UNARY or name not in UNARY
        assert_like_torch(irc.tensor(stacked[i]), expected[name], ulps=0 if exact else 1, exact_share=0.95)


def _reductions(x, w, lib):
    return {
        "sum": x.sum(1), "sum_all": x.sum(), "mean": x.mean(0), "amax": x.amax(1), "prod": x[:, :3].prod(1),
        "matmul": x @ w, "softmax": x.softmax(1), "log_softmax": x.log_softmax(0), "amin": x.amin(0),
    }  # fmt: skip


@BOTH
@pytest.mark.parametrize("mode", ["interpret", "compile"])
def test_reductions_matmul_softmax_match_torch(dt, tdt, mode):
    """float32 accumulation, one rounding of the result (mean: sum / n in float32)."""
    rng = np.random.default_rng(1)
    a, b = _data(rng, (6, 40), 1.0), _data(rng, (40, 5), 1.0)
    expected = _reductions(torch.tensor(a).to(tdt), torch.tensor(b).to(tdt), torch)
    # torch's CPU prod of bfloat16 rounds every partial product to bfloat16; irc's accumulates in float32
    expected["prod"] = torch.tensor(a[:, :3]).to(tdt).float().prod(1).to(tdt)
    with irc.set_eager_mode(mode):
        got = _reductions(irc.tensor(a, dtype=dt), irc.tensor(b, dtype=dt), irc)
        values = irc.cat([v.reshape(-1) for v in got.values()]).numpy()
    start = 0
    for name, value in got.items():
        flat = irc.tensor(values[start : start + value.numel()]).reshape(*value.shape)
        start += value.numel()
        assert_like_torch(flat, expected[name], ulps=0 if name in ("amax", "amin") else 1, exact_share=0.9)


# ---------------------------------------------------------------------------------- training


def _torch_linear(model: nn.Linear) -> torch.nn.Linear:
    linear = torch.nn.Linear(model.in_features, model.out_features)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(model.weight.float().numpy()))
        linear.bias.copy_(torch.from_numpy(model.bias.float().numpy()))
    return linear


@BOTH
def test_linear_relu_mse_forward_backward(dt, tdt):
    irc.manual_seed(0)
    model = nn.Linear(16, 8).to(dt)
    reference = _torch_linear(model).to(tdt)
    rng = np.random.default_rng(2)
    a, target = _data(rng, (4, 16), 1.0), _data(rng, (4, 8), 1.0)
    x, t = irc.tensor(a, dtype=dt), irc.tensor(target, dtype=dt)
    loss = F.mse_loss(F.relu(model(x)), t)
    loss.backward()
    tx, tt = torch.tensor(a).to(tdt), torch.tensor(target).to(tdt)
    expected = torch.nn.functional.mse_loss(torch.relu(reference(tx)), tt)
    expected.backward()
    assert loss.dtype == dt and model.weight.grad.dtype == dt and model.bias.grad.dtype == dt
    tol = STEP_TOLERANCE[dt]
    np.testing.assert_allclose(loss.float().numpy(), expected.detach().float().numpy(), **tol)
    np.testing.assert_allclose(model.weight.grad.float().numpy(), reference.weight.grad.float().numpy(), **tol)
    np.testing.assert_allclose(model.bias.grad.float().numpy(), reference.bias.grad.float().numpy(), **tol)


@BOTH
def test_jit_matches_eager_bit_for_bit(dt, tdt):
    """The same hl graph: irc.jit's compiled llvm code gives eager's (interpreted) bits, gradients too."""

    def loss_fn(w, x):
        return ((x @ w).relu() * 0.5 - 1).softmax(1).square().mean()

    rng = np.random.default_rng(3)
    w = irc.tensor(_data(rng, (8, 4), 1.0), dtype=dt)
    x = irc.tensor(_data(rng, (5, 8), 1.0), dtype=dt)
    value_and_grad = irc.jit(irc.value_and_grad(loss_fn))
    loss, grad = value_and_grad(w, x)
    with irc.set_eager_mode("interpret"):
        leaf = w.detach().requires_grad_()
        eager = loss_fn(leaf, x)
        eager.backward()
    assert loss.dtype == grad.dtype == dt
    np.testing.assert_array_equal(loss.numpy(), eager.numpy())
    np.testing.assert_array_equal(grad.numpy(), leaf.grad.numpy())


def test_mixed_precision_by_hand():
    """A float32 master copy steps with the gradients of a half model (loss scaling by hand), as in torch."""
    irc.manual_seed(1)
    master = nn.Linear(8, 4)
    reference = _torch_linear(master)
    half_model, torch_half = nn.Linear(8, 4).half(), torch.nn.Linear(8, 4).half()
    opt, torch_opt = irc.optim.SGD(master.parameters(), lr=0.1), torch.optim.SGD(reference.parameters(), lr=0.1)
    rng = np.random.default_rng(4)
    for _ in range(2):
        a, target = _data(rng, (6, 8), 1.0), _data(rng, (6, 4), 1.0)
        for model, fp32, lib, optimizer in [(half_model, master, irc, opt), (torch_half, reference, torch, torch_opt)]:
            with lib.no_grad():
                for p16, p32 in zip(model.parameters(), fp32.parameters()):
                    p16.copy_(p32)
            x, t = lib.tensor(a).half(), lib.tensor(target).half()
            loss = ((model(x) - t) ** 2).mean() * 128.0  # loss scaling: small half gradients survive
            model.zero_grad()
            loss.backward()
            for p16, p32 in zip(model.parameters(), fp32.parameters()):
                p32.grad = p16.grad.float() / 128.0
            optimizer.step()
    assert master.weight.dtype == irc.float32 and half_model.weight.dtype == irc.float16
    for p, q in zip(master.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-3, atol=1e-4)


def _functionals(lib, functional, x, image, target):
    return {
        "cross_entropy": functional.cross_entropy(x, lib.tensor(target)),
        "layer_norm": functional.layer_norm(x, (6,)),
        "batch_norm": functional.batch_norm(x, None, None, training=True),
        "gelu": functional.gelu(x),
        "conv2d": functional.conv2d(image, image[:2, :, :3, :3]),
        "max_pool2d": functional.max_pool2d(image, 2),
        "avg_pool2d": functional.avg_pool2d(image, 2),
        "pad": functional.pad(x, (1, 1), value=0.3),
    }


@BOTH
def test_nn_functionals_keep_the_16_bit_dtype_and_match_torch(dt, tdt):
    """Composites of several ops round after each of them (torch's fused CPU kernels round once): close."""
    rng = np.random.default_rng(6)
    a, image, target = _data(rng, (4, 6), 1.0), _data(rng, (2, 3, 6, 6), 1.0), rng.integers(0, 6, 4)
    with irc.set_eager_mode("interpret"):
        got = _functionals(irc, F, irc.tensor(a, dtype=dt), irc.tensor(image, dtype=dt), target)
    expected = _functionals(torch, torch.nn.functional, torch.tensor(a).to(tdt), torch.tensor(image).to(tdt), target)
    for name, value in got.items():
        assert TORCH_DTYPES[value.dtype] == expected[name].dtype, name
        np.testing.assert_allclose(value.float().numpy(), expected[name].float().numpy(), **STEP_TOLERANCE[dt])


# ---------------------------------------------------------------------------------- modules, files


def test_module_conversions_and_save_load():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert model.half() is model and {p.dtype for p in model.parameters()} == {irc.float16}
    assert model[1].running_mean.dtype == irc.float16 and model[1].num_batches_tracked.dtype == irc.long
    model.bfloat16()
    assert {t.dtype for t in model.state_dict().values()} == {irc.bfloat16, irc.long}
    model.to("cpu", irc.float32)
    assert model[0].weight.dtype == irc.float32
    model.to(dtype=irc.half).to(irc.ones(1).bfloat16())
    assert model[0].bias.dtype == irc.bfloat16
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point dtypes, but got desired dtype=int64"):
        model.to(irc.long)
    state = {"model": model.state_dict(), "array": np.arange(3, dtype=ml_dtypes.bfloat16), "h": irc.ones(2).half()}
    buffer = io.BytesIO()
    irc.save(state, buffer)
    buffer.seek(0)
    loaded = irc.load(buffer)
    assert loaded["array"].dtype == irc.bfloat16 and loaded["h"].dtype == irc.float16
    np.testing.assert_array_equal(loaded["array"], state["array"])
    for name, value in state["model"].items():
        assert loaded["model"][name].dtype == value.dtype
        np.testing.assert_array_equal(loaded["model"][name].numpy(), value.numpy())


def test_grad_of_a_16_bit_leaf_and_a_model_trained_in_bfloat16():
    model = nn.Linear(4, 1).bfloat16()
    opt = irc.optim.SGD(model.parameters(), lr=0.05)
    x = irc.randn(32, 4, dtype=irc.bfloat16)
    y = x @ irc.tensor([[1.0], [-2.0], [0.5], [3.0]], dtype=irc.bfloat16)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model.weight.dtype == irc.bfloat16 and losses[-1] < losses[0] / 4 and math.isfinite(losses[-1])


# ---------------------------------------------------------------------------------- GPU targets


def _opencl_device():
    pyopencl = pytest.importorskip("pyopencl")
    devices = [d for p in pyopencl.get_platforms() for d in p.get_devices()]
    if not devices:
        pytest.skip("no OpenCL device")
    return devices[0]


def test_opencl_bfloat16_runs_and_float16_needs_cl_khr_fp16():
    device = _opencl_device()
    rng = np.random.default_rng(5)
    a, b = _data(rng, (4, 8), 1.0), _data(rng, (8, 3), 1.0)

    def f(x, w):
        return ((x @ w).relu() * 0.5 + 1).softmax(1)

    for dt in (irc.bfloat16, irc.float16):
        x, w = irc.tensor(a, dtype=dt), irc.tensor(b, dtype=dt)
        with irc.set_eager_mode("interpret"):
            expected = f(x, w).numpy()
        if dt == irc.float16 and "cl_khr_fp16" not in device.extensions:
            with pytest.raises(IRCError, match="uses float16, which needs the cl_khr_fp16 extension; the device"):
                irc.jit(f, target="opencl")(x, w)
            continue
        np.testing.assert_array_equal(irc.jit(f, target="opencl")(x, w).numpy(), expected)


@BOTH
@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc not installed")
def test_cuda_code_compiles_with_nvcc(dt, tdt):
    """No GPU here: the generated CUDA C of a 16-bit matmul + softmax + sum builds for sm_90 (nvcc -cubin)."""
    f = irc.jit(lambda x, w: ((x @ w).relu() * 0.5 + 1).softmax(1).sum(0), target={"kind": "cuda", "arch": "sm_90"})
    source = f.lower(irc.ones(4, 8, dtype=dt), irc.ones(8, 3, dtype=dt)).stages["target"]
    assert ("half* __restrict__" if dt == irc.float16 else "nv_bfloat16* __restrict__") in source
    cubin = nvcc_cubin(source, "sm_90", "nvcc")
    assert cubin[:4] == b"\x7fELF" and cubin[18] == 190  # an ELF for e_machine EM_CUDA
