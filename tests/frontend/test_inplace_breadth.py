"""In-place forms torch programs use (`clamp_`, `exp_`, `masked_fill_`, `t_`, `unsqueeze_`, `detach_`,
`bernoulli_`, ...) and the splitting and selecting views (`tensor_split`, `hsplit`, `select`, `ravel`, ...),
compared with torch 2.13."""

import numpy as np
import pytest

import irc
from tests.torch_compare import raises_like_torch

torch = pytest.importorskip("torch")


def _x(m):
    return m.tensor([[0.5, -1.0, 2.0, 0.25], [3.0, -0.5, 1.5, 4.0], [-2.0, 0.75, 1.0, -3.0]])


VALUE_OPS = {
    "abs_": lambda m, x: x.abs_(),
    "clamp_": lambda m, x: x.clamp_(-1, 1.5),
    "clip_": lambda m, x: x.clip_(min=0),
    "exp_": lambda m, x: x.exp_(),
    "log_": lambda m, x: x.abs_().log_(),
    "neg_": lambda m, x: x.neg_(),
    "pow_": lambda m, x: x.pow_(2),
    "relu_": lambda m, x: x.relu_(),
    "sigmoid_": lambda m, x: x.sigmoid_(),
    "tanh_": lambda m, x: x.tanh_(),
    "sqrt_": lambda m, x: x.abs_().sqrt_(),
    "rsqrt_": lambda m, x: x.abs_().rsqrt_(),
    "square_": lambda m, x: x.square_(),
    "sin_-cos_": lambda m, x: x.sin_().cos_(),
    "erf_": lambda m, x: x.erf_(),
    "cumsum_": lambda m, x: x.cumsum_(1),
    "cumprod_": lambda m, x: x.cumprod_(0),
    "masked_fill_": lambda m, x: x.masked_fill_(x > 1, -7.0),
    "tril_": lambda m, x: x.tril_(),
    "triu_": lambda m, x: x.triu_(1),
    "floor_divide_": lambda m, x: x.floor_divide_(0.5),
    "gt_": lambda m, x: x.gt_(0.6),
    "eq_": lambda m, x: x.eq_(m.tensor([0.5, -1.0, 1.5, 4.0])),
    "on a view": lambda m, x: (x[1:, ::2].clamp_(max=1.0).exp_(), x)[1],
    "on a column": lambda m, x: (x[:, 2].masked_fill_(x[:, 2] > 1.2, 0.0), x)[1],
}


@pytest.mark.parametrize("name", VALUE_OPS)
def test_in_place_value_ops_match_torch(name):
    want, got = VALUE_OPS[name](torch, _x(torch)), VALUE_OPS[name](irc, _x(irc))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_bitwise_in_place_ops_match_torch():
    def program(m):
        i = m.tensor([5, 3, 12, 7])
        return i.bitwise_and_(6).bitwise_or_(m.tensor([1, 0, 0, 8])).bitwise_xor_(2).bitwise_not_()

    np.testing.assert_array_equal(program(irc).numpy(), program(torch).numpy())


SHAPE_OPS = {
    "t_": lambda m, x: x.t_(),
    "transpose_": lambda m, x: x.unsqueeze(0).transpose_(0, 2),
    "swapaxes_": lambda m, x: x.swapaxes_(0, 1),
    "squeeze_": lambda m, x: x[:1].squeeze_(),
    "squeeze_dim": lambda m, x: x.unsqueeze(1).squeeze_(1),
    "unsqueeze_": lambda m, x: x.unsqueeze_(-1),
    # a view stays a view of its tensor in the new shape
    "view t_ then write": lambda m, x: (lambda v: (v.t_(), v[0].fill_(-1), v.unsqueeze_(0), v[0, 1].add_(100), x)[-1])(
        x[1:]
    ),
}


@pytest.mark.parametrize("name", SHAPE_OPS)
def test_in_place_shape_ops_match_torch(name):
    want, got = SHAPE_OPS[name](torch, _x(torch)), SHAPE_OPS[name](irc, _x(irc))
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_gradients_flow_through_in_place_shape_ops_and_detach_cuts_them():
    def program(m):
        x = m.ones(2, 3, requires_grad=True)
        h = x * m.tensor([1.0, 2.0, 3.0])
        h.t_()
        h.unsqueeze_(0)
        h.clamp_(max=2.5)
        cut = (x * 3).detach_()
        (h * m.arange(6.0).reshape(1, 3, 2)).sum().backward()
        return x.grad, cut.requires_grad, cut.is_leaf

    (got, *got_flags), (want, *want_flags) = program(irc), program(torch)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got_flags == want_flags == [False, True]


def test_a_leaf_that_requires_grad_refuses_in_place_shape_ops_and_detach_refuses_views():
    w = irc.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad is being used in an in-place"):
        w.t_()
    with irc.no_grad():
        w.t_()
    assert w.shape == (3, 2) and w.requires_grad and w.is_leaf
    for m in (torch, irc):
        with pytest.raises(Exception, match=r"Can't detach views in-place. Use detach\(\) instead"):
            m.ones(2, 3)[0].detach_()


def test_bernoulli_fills_with_the_probability():
    irc.manual_seed(0)
    draws = irc.zeros(20000).bernoulli_(0.3)
    assert set(np.unique(draws.numpy())) == {0.0, 1.0}
    assert abs(draws.numpy().mean() - 0.3) < 0.015
    rows = irc.zeros(2, 20000, dtype=irc.float64).bernoulli_(irc.tensor([[0.1], [0.9]]))
    assert rows.dtype == np.float64
    np.testing.assert_allclose(rows.numpy().mean(1), [0.1, 0.9], atol=0.015)


SPLITS = {
    "tensor_split-sections": lambda m, x: x.tensor_split(3, dim=1),
    "tensor_split-indices": lambda m, x: x.tensor_split([1, 3], dim=1),
    "tensor_split-unordered": lambda m, x: m.arange(10.0).tensor_split((7, 3)),
    "tensor_split-tensor": lambda m, x: x.tensor_split(m.tensor([1, 2])),
    "tensor_split-function": lambda m, x: m.tensor_split(x, 2),
    "hsplit": lambda m, x: x.hsplit(2),
    "hsplit-1d": lambda m, x: x[0].hsplit([1]),
    "vsplit": lambda m, x: m.vsplit(x, [1]),
    "dsplit": lambda m, x: x.reshape(1, 3, 4).dsplit(2),
    "select": lambda m, x: (x.select(1, -1),),
    "ravel": lambda m, x: (x.ravel(), m.ravel(x.t())),
    "narrow_copy": lambda m, x: (x.narrow_copy(1, 1, 2),),
}


@pytest.mark.parametrize("name", SPLITS)
def test_splits_and_selects_match_torch(name):
    want, got = SPLITS[name](torch, _x(torch)), SPLITS[name](irc, _x(irc))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert tuple(g.shape) == tuple(w.shape)
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_splits_are_views_and_narrow_copy_is_not():
    def program(m):
        x = _x(m)
        x.tensor_split(2, dim=1)[1].fill_(9)
        x.select(0, 2).zero_()
        x.narrow_copy(0, 0, 1).fill_(-5)
        return x

    np.testing.assert_array_equal(program(irc).numpy(), program(torch).numpy())


SPLIT_ERRORS = {
    "hsplit-not-divisible": lambda m: m.zeros(2, 5).hsplit(2),
    "vsplit-rank": lambda m: m.zeros(5).vsplit(1),
    "dsplit-rank": lambda m: m.zeros(2, 2).dsplit(1),
}


@pytest.mark.parametrize("name", SPLIT_ERRORS)
def test_split_errors_carry_torch_messages(name):
    raises_like_torch(torch, SPLIT_ERRORS[name])
