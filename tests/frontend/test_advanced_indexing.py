"""Several tensor indices per subscript (x[i, j], x[i, :, j], broadcasting, lists, torch's placement of
the indexed dims), index_put (x[i, j] = v, accumulate), take, take_along_dim, masked_select and
masked_scatter, flip/roll, torch's refusal of negative steps, and max_pool2d's indices with max_unpool2d:
against PyTorch, values and gradients, on both eager tiers and under irc.jit."""

from __future__ import annotations

import numpy as np
import pytest

import irc
import irc.nn.functional as F
from irc.errors import FrontendError
from tests.torch_compare import check_jit_value_and_grad, raises_like_torch

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(2)
X = rng.standard_normal((3, 4, 5, 2)).astype(np.float32)
I = [[0, 2], [-1, 1]]  # noqa: E741 (torch's spelling of an index); negative entries count from the end
J = [1, 3]


def _t(m, a):
    return m.tensor(np.asarray(a))


#: name -> f(module, x): the same code for irc and torch
CASES = {
    "two_lists": lambda m, x: x[[0, 2], [1, 3]],
    "two_tensors_broadcast": lambda m, x: x[_t(m, I), _t(m, J)],
    "adjacent_after_slice": lambda m, x: x[:, _t(m, J), _t(m, [[0], [4]])],
    "separated_by_slice_go_first": lambda m, x: x[_t(m, [1, 2]), :, _t(m, [0, -1])],
    "separated_by_none": lambda m, x: (
        x[..., _t(m, J), None, _t(m, [0, 1])] if x.ndim == 5 else x[:, _t(m, [1]), None, _t(m, [0, 4])]
    ),
    "int_between_stays_adjacent": lambda m, x: x[_t(m, I), 1, _t(m, [[4, 0]])],
    "with_slices_and_ellipsis": lambda m, x: x[1:, _t(m, J), ..., _t(m, [1, 0])],
    "three_indices": lambda m, x: x[_t(m, [2, 0]), _t(m, [3, 3]), _t(m, [[4], [0]])],
    "take": lambda m, x: m.take(x, _t(m, [[0, -1], [17, 100]])),
    "take_along_dim": lambda m, x: m.take_along_dim(x, _t(m, [[[[1, 0]]], [[[4, 2]]], [[[0, 0]]]]), 2),
    "take_along_dim_flat": lambda m, x: x.take_along_dim(_t(m, [5, 0, 119])),
    "masked_select": lambda m, x: x.masked_select(_t(m, X[0, 0] > 0)),
    "flip": lambda m, x: m.flip(x, (0, -1)),
    "fliplr_flipud": lambda m, x: m.fliplr(x).flipud(),
    "roll": lambda m, x: x.roll((1, -2), (0, 2)),
    "roll_flat": lambda m, x: m.roll(x, 7),
}

#: name -> f(module, x, v): `x` with an index_put, the same code for irc and torch (x a fresh copy)
SET_CASES = {
    "set_two_tensors": lambda m, x, v: x.__setitem__((_t(m, [0, 2]), _t(m, [1, 3])), v[0, 0]),
    "set_broadcast_scalar": lambda m, x, v: x.__setitem__((_t(m, I), _t(m, J)), 2.5),
    "set_separated": lambda m, x, v: x.__setitem__((_t(m, [1, 0]), slice(None), _t(m, [4, 2])), v[0, 0, :4]),
    "set_list_rows": lambda m, x, v: x.__setitem__([2, 0], v[:2]),
    "set_slice_then_index": lambda m, x, v: x.__setitem__((slice(1, None), _t(m, [3, 0])), v[:2, :2]),
    "set_int_tensor_value_broadcast": lambda m, x, v: x.__setitem__((Ellipsis, _t(m, [1])), v[0, 0, :, :1]),
    "iadd_no_duplicates": lambda m, x, v: x.__setitem__(_t(m, [2, 0]), x[_t(m, [2, 0])] + v[:2]),
    "index_put_accumulate": lambda m, x, v: x.index_put_(
        (_t(m, [0, 0, 2]), _t(m, [1, 1, 3])), v[:3, 0], accumulate=True
    ),
    "masked_scatter": lambda m, x, v: x.masked_scatter_(_t(m, X[..., 0] > 0.5).unsqueeze(-1), v),
    "mask_set_values": lambda m, x, v: x.__setitem__(_t(m, X[:, :, 0, 0] > 0), v[0, 0, 0, 0] * 3),
}


def _compare(yi, yt):
    assert yi.shape == tuple(yt.shape)
    np.testing.assert_allclose(yi.numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)


def _check(f):
    xi, xt = irc.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    yi, yt = f(irc, xi), f(torch, xt)
    _compare(yi, yt)
    seed = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (yi * irc.tensor(seed)).sum().backward()
    (yt * torch.tensor(seed)).sum().backward()
    np.testing.assert_allclose(xi.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def _check_set(f):
    v = rng.standard_normal(X.shape).astype(np.float32)
    xi, xt = irc.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    vi, vt = irc.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    yi, yt = xi * 1, xt * 1  # not leaves: they may be assigned into
    f(irc, yi, vi), f(torch, yt, vt)
    _compare(yi, yt)
    seed = rng.standard_normal(X.shape).astype(np.float32)
    (yi.tanh() * irc.tensor(seed)).sum().backward()
    (yt.tanh() * torch.tensor(seed)).sum().backward()
    np.testing.assert_allclose(xi.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    if vt.grad is None:
        assert vi.grad is None
    else:
        np.testing.assert_allclose(vi.grad.numpy(), vt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_eager_matches_torch(name):
    _check(CASES[name])


@pytest.mark.parametrize("name", SET_CASES)
def test_index_put_eager_matches_torch(name):
    _check_set(SET_CASES[name])


@pytest.mark.parametrize("name", ["two_tensors_broadcast", "separated_by_slice_go_first", "roll"])
def test_compiled_eager_matches_torch(name):
    with irc.set_eager_mode("compile"):
        _check(CASES[name])


def test_compiled_eager_index_put():
    with irc.set_eager_mode("compile"):
        _check_set(SET_CASES["index_put_accumulate"])


def test_jit_reads_writes_and_grads_in_one_compile():
    def f(m, x, v):
        y = x * 1
        y[_t(m, [2, 0]), :, _t(m, [1, 4])] = v[:2, :, 0, :]
        y.index_put_((_t(m, [0, 0]), _t(m, [3, 3])), v[:2, 0], accumulate=True)
        z = y[_t(m, I), _t(m, J)].sin().sum() + y[:, _t(m, [0, 3]), _t(m, [[1], [4]])].square().sum()
        return z + x.roll(2, 1).flip(3)[0].cos().sum()

    check_jit_value_and_grad(torch, f, [X, rng.standard_normal(X.shape).astype(np.float32)])


@pytest.mark.parametrize(
    "dtype, source", [("long", "float"), ("double", "float"), ("float", "double"), ("int", "long")]
)
@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_needs_the_destination_dtype_as_torch(dtype, source, accumulate):
    """No silent conversion (a float source into an int64 tensor would truncate); `x[i] = v` converts."""

    def put(m, name, values):
        x = m.zeros(3, dtype=getattr(m, dtype))
        return getattr(x, name)((m.tensor([0, 1]),), m.tensor(values).to(getattr(m, source)), accumulate)

    raises_like_torch(torch, lambda m: put(m, "index_put", [1.5, 2.7]))
    raises_like_torch(torch, lambda m: put(m, "index_put_", 1.5))


def test_duplicates_accumulate_sums_and_assignment_keeps_one():
    """index_put with accumulate adds every duplicate (as torch); without it torch keeps an unspecified one,
    irc the largest."""
    x = irc.zeros(2, 3)
    assert x.index_put((irc.tensor([1, 1]), irc.tensor([2, 2])), irc.tensor([1.0, 4.0]), True).tolist()[1] == [0, 0, 5]
    x[irc.tensor([0, 0]), irc.tensor([1, 1])] = irc.tensor([7.0, -3.0])
    assert x.tolist() == [[0, 7, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1)),
        dict(kernel_size=3, stride=2, ceil_mode=True),
    ],
)
def test_max_pool2d_indices_and_unpool(kwargs):
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    x[0, 0, :2, :2] = 5.0  # ties: the first in the window wins, as in torch
    xi, xt = irc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yi, ii = F.max_pool2d(xi, return_indices=True, **kwargs)
    yt, it = TF.max_pool2d(xt, return_indices=True, **kwargs)
    _compare(yi, yt)
    assert ii.dtype == irc.int64 and ii.tolist() == it.tolist()
    k, s, p = kwargs["kernel_size"], kwargs.get("stride"), kwargs.get("padding", 0)
    if "dilation" not in kwargs and not kwargs.get("ceil_mode"):
        ui, ut = (
            F.max_unpool2d(yi, ii, k, s, p, output_size=(7, 6)),
            TF.max_unpool2d(yt, it, k, s, p, output_size=(7, 6)),
        )
        _compare(ui, ut)


def test_max_unpool2d_gradient():
    """Through max_pool2d and back (no ties, no overlapping windows: there irc shares the gradient of equal
    values, torch gives it all to the first)."""
    x = rng.permutation(2 * 3 * 4 * 6).reshape(2, 3, 4, 6).astype(np.float32)
    xi, xt = irc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ui = F.max_unpool2d(*F.max_pool2d(xi, 2, return_indices=True), 2)
    ut = TF.max_unpool2d(*TF.max_pool2d(xt, 2, return_indices=True), 2)
    _compare(ui, ut)
    (ui * irc.tensor(x)).sum().backward()
    (ut * torch.tensor(x)).sum().backward()
    np.testing.assert_allclose(xi.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_max_pool_modules_compiled():
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)  # CHW
    with irc.set_eager_mode("compile"):
        yi, ii = irc.nn.MaxPool2d(2, return_indices=True)(irc.tensor(x))
        ui = irc.nn.MaxUnpool2d(2)(yi, ii)
    yt, it = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    assert ii.tolist() == it.tolist()
    _compare(ui, torch.nn.MaxUnpool2d(2)(yt, it))


def test_negative_steps_are_refused_as_in_torch():
    with pytest.raises(ValueError, match="step must be greater than zero"):
        torch.ones(3)[::-1]
    for index in (slice(None, None, -1), slice(5, 1, -2)):
        with pytest.raises(FrontendError, match="step must be greater than zero"):
            irc.ones(6)[index]
        with pytest.raises(FrontendError, match="step must be greater than zero"):
            irc.ones(6)[index] = 1.0


@pytest.mark.parametrize(
    "f, message",
    [
        (lambda x: x[[0, 1], [1, 0, 1]], r"could not be broadcast together with shapes \[2\], \[3\]"),
        (lambda x: x[[0, 5], [0, 1]], "index 5 is out of bounds for dimension 0 with size 3"),
        (lambda x: x[irc.tensor([True, False, True]), [0, 1]], "a bool mask index is supported alone only"),
        (lambda x: x.__setitem__(([0, 1], [0, 1]), irc.ones(3)), r"value tensor of shape \[3\] cannot be broadcast to"),
        (lambda x: x.index_put((None, irc.tensor([0])), irc.ones(1)), "expected Tensor as element 0 in argument 0"),
        (lambda x: x.roll((1, 2), (0,)), "shifts and dimensions must align. shifts: 2, dims:1"),
        (lambda x: irc.fliplr(irc.ones(3)), r"Input must be >= 2-d."),
        (lambda x: irc.flipud(irc.ones(())), r"Input must be >= 1-d."),
        (lambda x: x.take_along_dim(irc.tensor([0]), 1), "should have the same number of dimensions"),
        (lambda x: x.masked_scatter(x > 0, irc.ones(2)), "at least as many elements as ones in mask"),
        (
            lambda x: F.max_unpool2d(irc.ones(1, 1, 2, 2), irc.zeros(1, 1, 2, 1, dtype=irc.int64), 2),
            "Expected shape of indices",
        ),
    ],
)
def test_errors(f, message):
    with pytest.raises(FrontendError, match=message):
        f(irc.ones(3, 4))


def test_data_dependent_forms_are_refused_inside_jit():
    with pytest.raises(FrontendError, match="not supported inside irc.jit"):
        irc.jit(lambda x: x.masked_scatter(x > 0, x))(irc.ones(2, 2))
    with pytest.raises(FrontendError, match="data-dependent shape"):
        irc.jit(lambda x: x.masked_select(x > 0))(irc.ones(2, 2))


def test_zero_d_indices_and_a_numpy_mask():
    x, t = irc.zeros(3, 4), torch.zeros(3, 4)
    for m in (x, t):
        m[m.new_tensor(1).long()] = 2.0
        m[m.new_tensor(1).long(), m.new_tensor(2).long()] = 5.0
        m[np.array([True, False, True])] = 7.0
    assert x.tolist() == t.tolist()
    assert x[irc.tensor(1), irc.tensor(2)].shape == ()
    with irc.set_eager_mode("compile"):
        z = irc.zeros(2, 3, dtype=irc.bool)
        z[irc.tensor([0, 1]), irc.tensor([2, 0])] = True
    assert z.tolist() == [[False, False, True], [True, False, False]]


def test_take_along_dim_wraps_negative_indices_and_masked_scatter_broadcasts():
    """Two forms the OpInfo sweep found: along a dim torch wraps a negative index; out of place,
    masked_scatter broadcasts the tensor with the mask."""
    x = np.arange(10.0).reshape(2, 5)
    idx = np.array([[-1], [0]])
    want = torch.take_along_dim(torch.tensor(x), torch.tensor(idx), 1).numpy()
    np.testing.assert_array_equal(irc.tensor(x).take_along_dim(irc.tensor(idx), 1).numpy(), want)
    mask = np.eye(3, dtype=bool)
    want = torch.zeros(3).masked_scatter(torch.tensor(mask), torch.arange(9.0)).numpy()
    got = irc.zeros(3).masked_scatter(irc.tensor(mask), irc.arange(9.0)).numpy()
    np.testing.assert_array_equal(got, want)
