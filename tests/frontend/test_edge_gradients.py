"""Gradients at the edges of their domains against PyTorch: bounds, ties, zeros, saturated probabilities,
non-finite values; PyTorch's grad-mode switches and `.grad` semantics. Each of these was a silent wrong
result (half a gradient, a nan, a stale `.grad`) found by running the same programs under torch."""

from __future__ import annotations

import numpy as np
import pytest

import irc

torch = pytest.importorskip("torch")


def _grads(T, program, *values, dtype="float32"):
    xs = [T.tensor(np.asarray(v, dtype=dtype), requires_grad=True) for v in values]
    out = program(T, *xs)
    out.sum().backward()
    return [np.array(x.grad.numpy()) for x in xs]


def _check(program, *values, dtype="float32", modes=("interpret",)):
    expected = _grads(torch, program, *values, dtype=dtype)
    for mode in modes:
        with irc.set_eager_mode(mode):
            got = _grads(irc, program, *values, dtype=dtype)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=f"mode {mode}")


EDGE = [0.0, 1.0, -1.0, 0.5, 2.0]


@pytest.mark.parametrize(
    "program",
    [
        lambda T, x: x.clamp(min=0),
        lambda T, x: x.clamp(0, 1),
        lambda T, x: x.clamp(max=-1),
        lambda T, x: x.clip(-1, 0.5),
        lambda T, x: T.clamp(x, min=0.5, max=2.0),
        lambda T, x: x.clamp_min(1.0) * x.clamp_max(0.0),
        lambda T, x: T.nn.functional.elu(x),
        lambda T, x: T.nn.functional.elu(x, alpha=2.0),
        lambda T, x: T.nn.functional.selu(x),
        lambda T, x: T.nn.functional.celu(x, alpha=0.5),
        lambda T, x: T.stack([x**i for i in range(3)]),
        lambda T, x: x.pow(0.0) + x.pow(T.zeros(5)),
        lambda T, x: T.pow(T.tensor(0.0), x.abs() + 0.5),
    ],
    ids=[
        "clamp-min",
        "clamp",
        "clamp-max",
        "clip",
        "torch.clamp",
        "clamp_min-max",
        "elu",
        "elu-alpha",
        "selu",
        "celu",
        "x**0",
        "pow-0",
        "0**x",
    ],  # fmt: skip
)
def test_gradients_at_bounds_and_zero(program):
    _check(program, EDGE)


def test_clamp_with_tensor_bounds_and_values():
    _check(lambda T, x, lo: x.clamp(min=lo, max=T.tensor(0.6)), EDGE, [0.0, 2.0, -1.0, 0.7, 1.0])
    for T in (irc, torch):
        ints = T.tensor([1, 5, -3]).clamp(0, 2)
        crossed = T.tensor([1.0, 5.0]).clamp(3, 2)  # min > max: max
        nan = T.tensor([float("nan"), 1.0]).clamp(0, 0.5)
        results = [r.numpy() for r in (ints, crossed, nan)]
        if T is irc:
            got = results
        else:
            expected = results
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    with pytest.raises(irc.FrontendError, match="At least one of 'min' or 'max'"):
        irc.tensor([1.0]).clamp()


def test_std_of_constant_data_has_a_zero_gradient():
    _check(lambda T, x: x.std() + x.std(0, keepdim=True).sum(), [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]])
    _check(lambda T, x: T.std_mean(x, dim=1)[0], [[1.0, 1.0], [1.0, 3.0]])


def test_binary_cross_entropy_of_saturated_probabilities():
    """sigmoid(20) is 1.0 in float32: torch's gradient formula, not 0 * inf = nan."""

    def program(T, z):
        p = z.sigmoid()
        return T.nn.functional.binary_cross_entropy(p, T.tensor([1.0, 0.0, 1.0, 0.0, 1.0]))

    _check(program, [20.0, -20.0, 0.3, 200.0, -5.0])
    _check(lambda T, p: T.nn.functional.binary_cross_entropy(p, T.tensor([0.0, 1.0, 1.0])), [0.0, 1.0, 0.25])


def test_max_and_min_along_a_dim_send_the_gradient_to_the_returned_index():
    ties = [[1.0, 1.0, 0.0], [2.0, 3.0, 3.0]]
    _check(lambda T, x: x.max(1)[0] + x.min(1).values * 2, ties)
    _check(lambda T, x: x.max(0, keepdim=True)[0], ties)
    _check(lambda T, x: x.amax(1) + x.max(), ties)  # these two split among ties, in torch too
    for T in (irc, torch):
        values, index = T.tensor(ties, requires_grad=True).max(1)
        assert list(index.numpy()) == [0, 1] and list(values.detach().numpy()) == [1.0, 3.0]


def test_compiled_index_gradients_keep_an_inf_to_its_row():
    """The embedding's (index_select's) gradient, a scatter sum, compiled: one inf gradient stays in its row
    (a one-hot matmul made 0 * inf = nan of every other row's entry in that column)."""

    def program(T, w):
        return T.nn.functional.embedding(T.tensor([0, 2]), w).sqrt()

    _check(program, [[0.0, 1.0], [5.0, 4.0], [2.0, 3.0]], modes=("interpret", "compile"))
    _check(lambda T, w: w[T.tensor([2, 0, 2])].sqrt(), [[0.0, 1.0], [5.0, 4.0], [2.0, 3.0]], modes=("compile",))


# ------------------------------------------------------------------ grad modes, .grad
def _modes(T):
    x = T.tensor([1.0], requires_grad=True)
    T.set_grad_enabled(False)  # a plain call switches at once
    called = (x * 2).requires_grad
    T.set_grad_enabled(True)

    @T.no_grad
    def bare(x):
        return (x * 2).requires_grad

    @T.inference_mode
    def inference(x):
        return (x * 2).requires_grad

    @T.no_grad()
    def generator(x):
        yield (x * 2).requires_grad
        yield (x * 3).requires_grad

    @T.set_grad_enabled(False)
    def decorated(x):
        return (x * 2).requires_grad

    after_decorating = (x * 2).requires_grad
    with T.set_grad_enabled(False):
        inside = (x * 2).requires_grad

    @T.enable_grad
    def enabled(x):
        return (x * 2).requires_grad

    with T.no_grad():
        reenabled = enabled(x)
        steps = list(generator(x))
    return [called, bare(x), inference(x), steps, decorated(x), after_decorating, inside, reenabled,
            T.is_grad_enabled()]  # fmt: skip


def test_grad_mode_switches_as_torch():
    assert _modes(irc) == _modes(torch)


def test_dot_grad_accumulates_in_place_and_checks_assignments():
    def program(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        g = x.grad
        (x * 3).sum().backward()
        first = np.array(g.numpy())
        x.grad.zero_()
        (x * 3).sum().backward()
        return first, np.array(g.numpy()), g is x.grad

    got, expected = program(irc), program(torch)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[2] and expected[2]
    x = irc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="different size"):
        x.grad = irc.zeros(3)
    with pytest.raises(RuntimeError, match="different type"):
        x.grad = irc.zeros(2, dtype=irc.float64)
    with pytest.raises(TypeError, match="Tensor or None"):
        x.grad = 5
