"""irc.grad / value_and_grad / vjp / jvp: eager, under irc.jit, nested; checked against
closed forms, finite differences and (when installed) torch.autograd."""

import numpy as np
import pytest

import irc
import irc.nn.functional as F
from irc.errors import FrontendError
from irc.frontend.graph import Placeholder

rng = np.random.default_rng(1)


def normal(*shape):
    return rng.standard_normal(shape)


def numerical_grad(f, args, i, eps=1e-6):
    """Central differences of the scalar numpy function f w.r.t. args[i] (float64)."""
    x = args[i]
    g = np.zeros_like(x)
    for j in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus.flat[j] += eps
        minus.flat[j] -= eps
        g.flat[j] = (f(*args[:i], plus, *args[i + 1 :]) - f(*args[:i], minus, *args[i + 1 :])) / (2 * eps)
    return g


def mlp(w1, b1, w2, x):
    return ((x @ w1 + b1).tanh() @ w2).log_softmax(dim=1).sum()


def mlp_inputs():
    return [normal(3, 5), normal(5), normal(5, 2), normal(4, 3)]


def as_value(f):
    """A scalar numpy function from a Tensor function (for finite differences)."""
    return lambda *arrays: f(*(irc.from_numpy(a) for a in arrays)).item()


# ------------------------------------------------------------------ grad


def test_grad_of_sum_of_product():
    x, y = normal(3, 4).astype(np.float32), normal(4).astype(np.float32)
    dx, dy = irc.grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(x, y)
    assert isinstance(dx, irc.Tensor) and dx.dtype == np.float32
    np.testing.assert_allclose(dx.numpy(), np.broadcast_to(y, (3, 4)), rtol=1e-6)
    np.testing.assert_allclose(dy.numpy(), x.sum(0), rtol=1e-5)


def test_value_and_grad_matches_finite_differences():
    args = mlp_inputs()
    value, grads = irc.value_and_grad(mlp, argnums=(0, 1, 2))(*args)
    assert value.item() == pytest.approx(as_value(mlp)(*args), rel=1e-12)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g.numpy(), numerical_grad(as_value(mlp), args, i), rtol=1e-5, atol=1e-7)


def test_grad_accepts_tensors_lists_and_lazy_tensors():
    x = irc.tensor([1.0, 2.0, 3.0])
    lazy = x * 2  # not realized yet
    np.testing.assert_allclose(irc.grad(lambda v: (v * v).sum())(lazy).numpy(), [4.0, 8.0, 12.0])
    np.testing.assert_allclose(irc.grad(lambda v: (v * v).sum())([1.0, 2.0]).numpy(), [2.0, 4.0])


def test_grad_with_captured_tensor_and_negative_argnums():
    w = irc.tensor(normal(3))
    dx = irc.grad(lambda a, x: (x * w).sum() * a.sum(), argnums=-1)(np.ones(2), normal(3))
    np.testing.assert_allclose(dx.numpy(), 2 * w.numpy().astype(np.float64), rtol=1e-6)


def test_grad_under_jit_compiles_the_gradient_graph():
    f = irc.jit(irc.grad(mlp, argnums=(0, 2)), target="ref")
    args = mlp_inputs()
    dw1, dw2 = f(*args)
    np.testing.assert_allclose(dw1.numpy(), numerical_grad(as_value(mlp), args, 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dw2.numpy(), numerical_grad(as_value(mlp), args, 2), rtol=1e-5, atol=1e-7)
    hl_opt = f.lower(*args).stages["hl-opt"]
    assert "hl.tanh" in hl_opt and hl_opt.count("hl.matmul") >= 3


def test_grad_inside_a_traced_function_records_placeholders():
    seen = []

    def step(w, x):
        g = irc.grad(lambda w: (x @ w).sum())(w)
        seen.append(isinstance(w._node, Placeholder))
        return w - 0.1 * g

    w, x = normal(3, 2), normal(4, 3)
    out = irc.jit(step, target="ref")(w, x)
    assert seen == [True]
    np.testing.assert_allclose(out.numpy(), w - 0.1 * np.broadcast_to(x.sum(0)[:, None], (3, 2)), rtol=1e-12)


def test_grad_composes_with_backward():
    # the gradient is recorded graph: backward() differentiates it again, also through captured parameters
    x = irc.tensor([0.5, -1.0, 2.0], requires_grad=True)
    irc.grad(lambda v: (v**3.0).sum())(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -1.0, 2.0]))
    w = irc.tensor(np.ones(3), requires_grad=True)
    d = irc.grad(lambda v: (v * w * w).sum())(np.array([1.0, 2.0, 3.0]))  # d = w * w
    d.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.ones(3))


# ------------------------------------------------------------------ higher order


@pytest.mark.parametrize(
    "f, second",
    [
        (lambda x: x.exp().exp().sum(), lambda x: np.exp(x + np.exp(x)) * (1 + np.exp(x))),
        (lambda x: x.tanh().sum(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
        (lambda x: (x * x * x).sum(), lambda x: 6 * x),
        (lambda x: (x.sin() * x).sum(), lambda x: 2 * np.cos(x) - x * np.sin(x)),
    ],
)
def test_second_derivative_by_grad_of_grad(f, second):
    x = normal(5)
    d2 = irc.grad(lambda x: irc.grad(f)(x).sum())(x)
    np.testing.assert_allclose(d2.numpy(), second(x), rtol=1e-10)


def test_grad_of_grad_is_a_function_of_tensors():
    x = np.array([0.5, -1.0])
    d3 = irc.grad(lambda x: irc.grad(lambda x: irc.grad(lambda x: (x**4.0).sum())(x).sum())(x).sum())(x)
    np.testing.assert_allclose(d3.numpy(), 24 * x, rtol=1e-10)


def test_second_derivative_of_matmul():
    # d/dx sum(d/dw sum(tanh(x @ w))) against finite differences of the inner gradient
    def inner(x, w):
        return irc.grad(lambda x, w: (x @ w).tanh().sum(), argnums=1)(x, w).sum()

    args = [normal(2, 3), normal(3, 4)]
    dx = irc.grad(inner)(*args)
    np.testing.assert_allclose(dx.numpy(), numerical_grad(as_value(inner), args, 0), rtol=1e-5, atol=1e-8)


def hvp_by_finite_differences(f, args, i, v, eps=1e-5):
    def grad_at(x):
        return irc.grad(f, argnums=i)(*args[:i], x, *args[i + 1 :]).numpy()

    return (grad_at(args[i] + eps * v) - grad_at(args[i] - eps * v)) / (2 * eps)


def test_hessian_vector_product_of_mlp():
    args = mlp_inputs()
    v = normal(*args[0].shape)
    _, hvp = irc.jvp(lambda w1: irc.grad(mlp)(w1, *args[1:]), (args[0],), (v,))
    np.testing.assert_allclose(hvp.numpy(), hvp_by_finite_differences(mlp, args, 0, v), rtol=1e-5, atol=1e-8)


def test_hessian_vector_product_by_reverse_over_reverse():
    args = mlp_inputs()
    v = normal(*args[2].shape)
    hvp = irc.grad(lambda w2: (irc.grad(mlp, argnums=2)(*args[:2], w2, args[3]) * irc.from_numpy(v)).sum())(args[2])
    np.testing.assert_allclose(hvp.numpy(), hvp_by_finite_differences(mlp, args, 2, v), rtol=1e-5, atol=1e-8)


# ------------------------------------------------------------------ vjp / jvp


def test_vjp_with_two_outputs():
    x, w = normal(2, 3), normal(3)
    (y, s), vjp_fn = irc.vjp(lambda x, w: (x * w, (x @ w.reshape(3, 1)).sum()), x, w)
    np.testing.assert_allclose(y.numpy(), x * w)
    ct = normal(2, 3)
    dx, dw = vjp_fn((ct, np.array(2.0)))
    np.testing.assert_allclose(dx.numpy(), ct * w + 2.0 * w, rtol=1e-12)
    np.testing.assert_allclose(dw.numpy(), (ct * x).sum(0) + 2.0 * x.sum(0), rtol=1e-12)


def test_jvp_columns_equal_vjp_rows():
    def f(x, w):
        return F.conv2d(x, w, stride=2, padding=1).relu().amax(dim=1)

    x, w = normal(1, 2, 5, 5), normal(3, 2, 3, 3)
    y, vjp_fn = irc.vjp(f, x, w)
    n_out = y.numel()
    jac_rows = []
    for j in range(n_out):
        ct = np.zeros(y.shape)
        ct.flat[j] = 1.0
        jac_rows.append(np.concatenate([g.numpy().ravel() for g in vjp_fn(ct)]))
    jac = np.stack(jac_rows)
    for col, (tx, tw) in _units(x, w):
        out, ty = irc.jvp(f, (x, w), (tx, tw))
        np.testing.assert_allclose(out.numpy(), y.numpy())
        np.testing.assert_allclose(ty.numpy().ravel(), jac[:, col], rtol=1e-10, atol=1e-12)


def _units(*arrays):
    """(k, tangents): the k-th unit vector over all input elements, every 7th k to keep it fast."""
    sizes = [a.size for a in arrays]
    for k in range(0, sum(sizes), 7):
        flat = np.zeros(sum(sizes))
        flat[k] = 1.0
        parts = np.split(flat, np.cumsum(sizes)[:-1])
        yield k, tuple(p.reshape(a.shape) for p, a in zip(parts, arrays))


def test_jvp_of_tuple_outputs():
    (a, b), (ta, tb) = irc.jvp(lambda x: (x.sin(), x.sum()), (np.array([0.0, 1.0]),), (np.array([1.0, 2.0]),))
    np.testing.assert_allclose(ta.numpy(), np.cos([0.0, 1.0]) * [1.0, 2.0])
    assert tb.item() == pytest.approx(3.0)


def test_jvp_matches_finite_differences_for_mlp():
    args, tangents = mlp_inputs(), [normal(*a.shape) for a in mlp_inputs()]
    _, ty = irc.jvp(mlp, args, tangents)
    eps = 1e-6
    plus = as_value(mlp)(*(a + eps * t for a, t in zip(args, tangents)))
    minus = as_value(mlp)(*(a - eps * t for a, t in zip(args, tangents)))
    assert ty.item() == pytest.approx((plus - minus) / (2 * eps), rel=1e-6)


# ------------------------------------------------------------------ errors


def test_argnums_out_of_range():
    with pytest.raises(
        FrontendError, match=r"test_transforms.py:\d+: grad of <lambda>: argnums \(0, 2\) is out of range"
    ):
        irc.grad(lambda x, y: (x * y).sum(), argnums=(0, 2))(normal(2), normal(2))


def test_integer_input_is_named():
    with pytest.raises(FrontendError, match="argument 1 has dtype int64"):
        irc.grad(lambda x, n: (x * n).sum(), argnums=1)(normal(3), np.arange(3))


def test_non_scalar_output_is_named():
    def per_row(x):
        return x.sum(dim=1)

    with pytest.raises(FrontendError, match=r"grad of per_row: .* one scalar float tensor, got tensor<3xf64>"):
        irc.grad(per_row)(normal(3, 2))
    with pytest.raises(FrontendError, match="got 2 tensors"):
        irc.grad(lambda x: (x.sum(), x.sum()))(normal(3))


def test_cotangent_and_tangent_shapes_are_checked():
    _, vjp_fn = irc.vjp(lambda x: x.exp(), normal(3))
    with pytest.raises(FrontendError, match=r"cotangents 0 has shape \[2\], expected \[3\]"):
        vjp_fn(normal(2))
    with pytest.raises(FrontendError, match="expected 1 tangents, got 2"):
        irc.jvp(lambda x: x.exp(), (normal(3),), (normal(3), normal(3)))


# ------------------------------------------------------------------ torch oracle


def test_gradients_match_torch():
    torch = pytest.importorskip("torch")
    args = [normal(2, 3, 6, 6), normal(4, 3, 3, 3), normal(4 * 2 * 2, 5)]

    def f(x, w, v):
        h = F.max_pool2d(F.conv2d(x, w, stride=1, padding=1).relu(), 3, stride=3)
        return (h.reshape(2, -1) @ v).log_softmax(dim=1).sum()

    def f_torch(x, w, v):
        tf = torch.nn.functional
        h = tf.max_pool2d(tf.conv2d(x, w, stride=1, padding=1).relu(), 3, stride=3)
        return (h.reshape(2, -1) @ v).log_softmax(dim=1).sum()

    grads = irc.grad(f, argnums=(0, 1, 2))(*args)
    targs = [torch.tensor(a, requires_grad=True) for a in args]
    f_torch(*targs).backward()
    for g, t in zip(grads, targs):
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_detach_stops_the_gradient_of_grad_vjp_and_jvp():
    """`x * x.detach()`: d/dx is x (torch), not 2x. The transforms differentiate the trace, where detach
    records hl.stop_gradient; eagerly, compiled and under jit alike."""
    torch = pytest.importorskip("torch")
    x = np.array([1.0, -2.0, 3.0], np.float32)
    t = torch.tensor(x, requires_grad=True)
    (t * t.detach()).exp().sum().backward()
    want = t.grad.numpy()

    def f(x):
        return (x * x.detach()).exp().sum()

    np.testing.assert_allclose(irc.grad(f)(irc.tensor(x)).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(irc.jit(irc.grad(f))(irc.tensor(x)).numpy(), want, rtol=1e-6)
    (dx,) = irc.vjp(lambda x: (x * x.detach()).exp(), irc.tensor(x))[1](irc.ones(3))
    np.testing.assert_allclose(dx.numpy(), want, rtol=1e-6)
    _, tangent = irc.jvp(lambda x: x * x.detach(), (irc.tensor(x),), (irc.ones(3),))
    np.testing.assert_allclose(tangent.numpy(), x)
    # a detached value that is already known (a leaf) stays a constant as before
    w = irc.tensor(x)
    np.testing.assert_allclose(irc.grad(lambda y: (y * w.detach()).sum())(irc.tensor(x)).numpy(), x)
