"""The Tensor API records the right hl graph: results equal numpy on the same data."""

import numpy as np
import pytest

import irc
import irc.nn.functional as F
from irc.frontend.tracing import trace
from irc.ir import parse_module, print_module


def t(a):
    return irc.tensor(a)


def test_arithmetic_broadcasting_and_scalars(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    x, y = t(a), t(b)
    np.testing.assert_allclose((x + y).numpy(), a + b, rtol=1e-6)
    np.testing.assert_allclose((2.0 - x * y / 3).numpy(), 2.0 - a * b / 3, rtol=1e-5)
    np.testing.assert_allclose((x**2).numpy(), a**2, rtol=1e-6)
    np.testing.assert_allclose((-x).abs().numpy(), np.abs(a))
    np.testing.assert_allclose(irc.maximum(x, y).numpy(), np.maximum(a, b))
    np.testing.assert_array_equal((x > y).numpy(), a > b)
    np.testing.assert_allclose(irc.where(x > 0, x, y).numpy(), np.where(a > 0, a, b))


def test_unary_methods(rng):
    a = rng.random((2, 5)).astype(np.float32) + 0.1
    x = t(a)
    for name, ref in [
        ("exp", np.exp),
        ("log", np.log),
        ("sqrt", np.sqrt),
        ("tanh", np.tanh),
        ("sin", np.sin),
        ("cos", np.cos),
    ]:
        np.testing.assert_allclose(getattr(x, name)().numpy(), ref(a), rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(x.sigmoid().numpy(), 1 / (1 + np.exp(-a)), rtol=1e-5)
    np.testing.assert_allclose(x.rsqrt().numpy(), 1 / np.sqrt(a), rtol=1e-5)


def test_reductions(rng):
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    x = t(a)
    np.testing.assert_allclose(x.sum().numpy(), a.sum(), rtol=1e-5)
    np.testing.assert_allclose(x.sum((0, 2), keepdim=True).numpy(), a.sum((0, 2), keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(x.mean(1).numpy(), a.mean(1), rtol=1e-5)
    values, indices = x.max(2)
    np.testing.assert_allclose(values.numpy(), a.max(2))
    np.testing.assert_array_equal(indices.numpy(), a.argmax(2))
    np.testing.assert_array_equal(x.argmin().numpy(), a.argmin())
    assert x.sum(-1).shape == (3, 4)
    ints = irc.tensor([[1, 2], [3, 4]])
    assert ints.sum().dtype == np.int64 and ints.sum().item() == 10


def test_shapes_and_indexing(rng):
    a = rng.standard_normal((4, 6)).astype(np.float32)
    x = t(a)
    np.testing.assert_array_equal(x.reshape(3, -1).numpy(), a.reshape(3, -1))
    np.testing.assert_array_equal(x.T.numpy(), a.T)
    np.testing.assert_array_equal(x[1:3, ::2].numpy(), a[1:3, ::2])
    np.testing.assert_array_equal(x[2].numpy(), a[2])
    np.testing.assert_array_equal(x[:, -1].numpy(), a[:, -1])
    np.testing.assert_array_equal(x[None, ..., 1].numpy(), a[None, ..., 1])
    np.testing.assert_array_equal(irc.cat([x, x * 2], 1).numpy(), np.concatenate([a, a * 2], 1))
    np.testing.assert_array_equal(irc.stack([x, x]).numpy(), np.stack([a, a]))
    np.testing.assert_array_equal(x.unsqueeze(1).expand(4, 3, 6).numpy(), np.broadcast_to(a[:, None], (4, 3, 6)))
    np.testing.assert_array_equal(F.pad(x, (1, 2)).numpy(), np.pad(a, ((0, 0), (1, 2))))
    np.testing.assert_array_equal(x.flip(1).numpy(), a[:, ::-1])
    np.testing.assert_array_equal(irc.flip(x, (0, -1)).numpy(), a[::-1, ::-1])
    assert x.flip() is not x and (x.flip().numpy() == a).all()  # no dims: a copy, as torch's `x.flip([])`


def test_flip_errors_name_the_dims():
    x = irc.ones(2, 3)
    with pytest.raises(irc.FrontendError, match=r"hl.flip.*dim 2 out of range for rank 2"):
        x.flip(2)
    with pytest.raises(irc.FrontendError, match=r"hl.flip.*repeat"):
        x.flip(0, -2)


def test_matmul_variants(rng):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    v = rng.standard_normal(4).astype(np.float32)
    np.testing.assert_allclose((t(a) @ t(b)).numpy(), a @ b, rtol=1e-5)
    np.testing.assert_allclose((t(a) @ t(v)).numpy(), a @ v, rtol=1e-5)
    np.testing.assert_allclose((t(v) @ t(b)).numpy(), v @ b, rtol=1e-5)


def test_creation():
    np.testing.assert_array_equal(irc.arange(2, 11, 3).numpy(), np.arange(2, 11, 3))
    np.testing.assert_allclose(irc.arange(0, 1, 0.25).numpy(), np.arange(0, 1, 0.25))
    assert irc.zeros(2, 3).numpy().sum() == 0 and irc.ones((2, 3)).shape == (2, 3)
    assert irc.full((2,), 7).dtype == np.int64
    irc.manual_seed(3)
    a = irc.randn(3, 4).numpy()
    irc.manual_seed(3)
    assert (irc.randn(3, 4).numpy() == a).all() and a.dtype == np.float32


@pytest.mark.parametrize(
    "data",
    [
        np.ones(3),  # float64 array: kept (a float64 gradcheck stays float64)
        np.ones(3, np.float32),
        np.arange(3, dtype=np.int32),
        np.float64(2.5),
        np.array([True, False]),
        [1.0, 2.0],  # Python floats: float32
        [1, 2],  # Python ints: int64
        2.5,
    ],
    ids=["f64", "f32", "i32", "f64-scalar", "bool", "floats", "ints", "float"],
)
def test_tensor_dtype_follows_torch(data):
    """(8- and 16-bit numpy dtypes are refused: tests/frontend/test_dtypes.py.)"""
    torch = pytest.importorskip("torch")
    assert str(irc.tensor(data).dtype) == str(torch.tensor(data).dtype).removeprefix("torch.")


def test_functional_losses(rng):
    logits = rng.standard_normal((5, 3)).astype(np.float32)
    target = np.array([0, 2, 1, 1, 0])
    ls = logits - logits.max(1, keepdims=True)
    ls = ls - np.log(np.exp(ls).sum(1, keepdims=True))
    expected = -ls[np.arange(5), target].mean()
    np.testing.assert_allclose(F.cross_entropy(t(logits), irc.tensor(target)).item(), expected, rtol=1e-5)
    np.testing.assert_allclose(F.mse_loss(t(logits), t(logits * 0)).item(), (logits**2).mean(), rtol=1e-5)


def test_shape_error_points_at_user_line():
    x = irc.ones(2, 3)
    with pytest.raises(irc.FrontendError) as e:
        x @ irc.ones(2, 3)  # the error must name this file and line
    assert f"{__file__}:" in str(e.value) and "hl.matmul" in str(e.value) and "2x3xf32" in str(e.value)


def test_trace_records_locations_and_round_trips():
    def f(x, w):
        return (x @ w + 1.0).relu().sum(0)

    module = trace(f, [irc.Spec((2, 3)), irc.Spec((3, 4))])
    text = print_module(module, locations=True)
    assert "test_tensor.py" in text and "@f(%x: tensor<2x3xf32>" in text
    assert print_module(parse_module(text), locations=True) == text
