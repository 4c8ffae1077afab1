"""Views: basic indexing, reshape/view, permute/transpose, narrow and what is built on them share their
tensor's elements, as in PyTorch (irc/frontend/tensor.py, `_View`). In-place ops on a view reach the
tensor, and a view sees the tensor's in-place updates; compared with torch program by program."""

import numpy as np
import pytest

import irc

torch = pytest.importorskip("torch")


def _base(m):
    return m.arange(12, dtype=m.float32).reshape(3, 4)


# each program mutates through views (or mutates the base under a live view) and returns what it read
PROGRAMS = {
    "index-add": lambda m, x: (x[0].add_(1), x)[1:],
    "setitem-augmented": lambda m, x: (x.__setitem__(0, x[0] + 1), x)[1:],
    "column-fill": lambda m, x: (x[:, 1].fill_(-5), x)[1:],
    "view-mul-add": lambda m, x: (x.view(12).mul_(0).add_(2), x)[1:],
    "t-add": lambda m, x: (x.t().add_(1), x)[1:],
    "transpose-setitem": lambda m, x: (x.transpose(0, 1).__setitem__(2, -1.0), x)[1:],
    "permute-view-chain": lambda m, x: (x.view(3, 2, 2).permute(2, 0, 1)[1].zero_(), x)[1:],
    "narrow-copy": lambda m, x: (x.narrow(1, 1, 2).copy_(m.ones(3, 2) * 7), x)[1:],
    "chunk-fill": lambda m, x: (x.chunk(2, dim=1)[1].fill_(3), x)[1:],
    "unbind-setitem": lambda m, x: (x.unbind(0)[2].__setitem__(slice(1, 3), 9.0), x)[1:],
    "squeeze-unsqueeze-flatten": lambda m, x: (x[1:2].squeeze(0).unsqueeze(1).flatten().sub_(100), x)[1:],
    "step-slice": lambda m, x: (x[:, ::2].mul_(-1), x)[1:],
    "view-of-view-setitem": lambda m, x: (x[1][1:].__setitem__(0, 42.0), x)[1:],
    "base-update-seen": lambda m, x: (lambda v: (x.add_(10), v.clone()))(x[2]),
    "base-setitem-seen": lambda m, x: (lambda v: (x.__setitem__((slice(None), 0), 0.5), x, v.clone())[1:])(x.t()),
    "full-slice": lambda m, x: (x[:].zero_(), x)[1:],
    "advanced-index-copies": lambda m, x: (x[[0, 2]].fill_(-1), x)[1:],
    "expand-without-repeats": lambda m, x: (x[0].expand(1, 4).add_(5), x)[1:],
    "expand-fill": lambda m, x: (x[:, 1:2].expand(3, 5).fill_(-2), x)[1:],
    "diagonal-fill": lambda m, x: (x.diagonal().fill_(0), x)[1:],
    "diagonal-offsets": lambda m, x: (x.diagonal(1).add_(100), x.diagonal(-1).mul_(-1), x.diagonal(3)[0].fill_(7), x)[
        3:
    ],
    "diagonal-3d-dims": lambda m, x: (lambda y: (y.diagonal(1, 2, 0).sub_(50), y.diagonal(0, 1, 2).zero_(), y)[2:])(
        x.reshape(2, 3, 2)
    ),
    "expand-zero": lambda m, x: (x[2].expand(2, 4).zero_(), x)[1:],
    "expand-read-after-update": lambda m, x: (lambda e: (x.mul_(2), e.clone()))(x[1:2].expand(3, 4)),
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_in_place_through_views_matches_torch(name):
    want = PROGRAMS[name](torch, _base(torch))
    got = PROGRAMS[name](irc, _base(irc))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


# a view made before its tensor changes shape in place (`t_`, `transpose_`, `unsqueeze_`, ...) keeps the same
# elements, as torch's views of the storage do; each program returns what it read
RESHAPED_BASE = {
    "flat-view-after-t_": lambda m, x: (lambda b: (x.t_(), b.clone(), b.add_(1), x)[1:])(x.view(12)),
    "column-write-after-t_": lambda m, x: (lambda c: (x.t_(), c.add_(100), x)[1:])(x[:, 0]),
    "row-after-unsqueeze_": lambda m, x: (lambda r: (x.unsqueeze_(0), r.mul_(-1), x)[1:])(x[1]),
    "base-write-seen-after-t_": lambda m, x: (lambda c: (x.t_(), x[0].fill_(9), c.clone(), x)[2:])(x[:, 1]),
    "squeeze_-and-unsqueeze_": lambda m, x: (
        lambda v: (x.unsqueeze_(0), x.unsqueeze_(3), x.squeeze_(0), v.sub_(50), x)[3:]
    )(x[:, 1:3]),
    "transpose_-swapaxes_-3d": lambda m, x: (
        lambda y: (lambda v: (y.transpose_(0, 2), y.swapaxes_(1, 2), v.zero_(), y)[2:])(y[1, :, ::2])
    )(x.reshape(2, 3, 2)),
    "view-of-a-view-that-t_": lambda m, x: (
        lambda v: (lambda w: (v.t_(), w.fill_(-1), v[0].add_(100), x, v, w)[3:])(v[:, 2])
    )(x[1:]),
    "expand-after-t_": lambda m, x: (lambda y: (lambda e: (y.t_(), y.mul_(2), e.clone(), y)[2:])(y.expand(2, 4)))(
        x[:1]
    ),
    "detach-and-data-after-t_": lambda m, x: (lambda d, e: (x.t_(), d[0].add_(1), e[1].mul_(-1), d, e, x)[3:])(
        x.data, x.detach()
    ),
}

# a view of all of a tensor (torch's is a new tensor: an in-place shape op on it leaves the tensor's shape alone)
WHOLE_VIEWS = {
    "x[:]": lambda x: x[:],
    "x[...]": lambda x: x[...],
    "view": lambda x: x.view(3, 4),
    "reshape": lambda x: x.reshape(3, -1),
    "reshape-of-a-transpose": lambda x: x.t().reshape(4, 3),
    "squeeze": lambda x: x.squeeze(),
    "permute": lambda x: x.permute(0, 1),
    "transpose-same-dim": lambda x: x.transpose(1, 1),
    "movedim": lambda x: x.movedim(0, 0),
    "narrow": lambda x: x.narrow(0, 0, 3),
    "view_as": lambda x: x.view_as(x),
    "reshape_as": lambda x: x.reshape_as(x),
    "expand_as": lambda x: x.expand_as(x),
    "broadcast_to": lambda x: x.broadcast_to(3, 4),
}


def _whole_view_program(m, x, name):
    v = WHOLE_VIEWS[name](x)
    assert v is not x
    v.add_(1)  # reaches x
    x.mul_(2)  # seen by v
    v.unsqueeze_(0)
    v[0].sub_(3)
    v.t_() if v.ndim == 2 else v.transpose_(0, 2)
    x[0].fill_(-7)
    return x, v


def _assert_matches_torch(program, *args):
    got, want = program(irc, _base(irc), *args), program(torch, _base(torch), *args)
    for g, w in zip(got, want, strict=True):
        assert tuple(g.shape) == tuple(w.shape)
        np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parametrize("name", RESHAPED_BASE)
def test_views_keep_their_elements_when_their_tensor_changes_shape_in_place(name):
    _assert_matches_torch(RESHAPED_BASE[name])


@pytest.mark.parametrize("name", WHOLE_VIEWS)
def test_a_view_of_all_of_a_tensor_is_a_new_tensor(name):
    _assert_matches_torch(_whole_view_program, name)


def test_only_flatten_of_one_dim_returns_the_tensor_itself_as_torch_s():
    for m in (irc, torch):
        x = _base(m)
        row = x[0]
        assert x.flatten(1, 1) is x and row.t() is not row
        x.flip([]).add_(1)
        np.testing.assert_array_equal(x.numpy(), np.arange(12).reshape(3, 4))


def test_views_across_in_place_shape_ops_in_the_compiled_tier():
    with irc.set_eager_mode("compile"):
        for program in RESHAPED_BASE.values():
            _assert_matches_torch(program)
        for name in ("x[:]", "view", "permute", "expand_as"):
            _assert_matches_torch(_whole_view_program, name)


def test_views_across_in_place_shape_ops_inside_irc_jit():
    def step(x):
        column, flat, whole = x[:, 0], x.view(12), x[:]
        x.t_()
        column.add_(100)
        flat[11].fill_(-1)
        whole.unsqueeze_(0)
        whole[0, 1].mul_(2)
        return flat * 1

    eager_x = _base(irc)
    eager = step(eager_x)
    torch_x = _base(torch)
    np.testing.assert_array_equal(eager.numpy(), step(torch_x).numpy())
    np.testing.assert_array_equal(eager_x.numpy(), torch_x.numpy())
    jitted = irc.jit(step, target="llvm")
    for _ in range(2):
        x = _base(irc)
        np.testing.assert_array_equal(jitted(x).numpy(), eager.numpy())
        assert x.shape == eager_x.shape == (4, 3)
        np.testing.assert_array_equal(x.numpy(), eager_x.numpy())


def test_gradients_flow_through_views_across_in_place_shape_ops():
    def program(m):
        x = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        y = x * 2
        column, flat, whole = y[:, 1], y.view(6), y[:]
        y.t_()
        column.mul_(m.tensor([3.0, -1.0]))
        flat[:2].add_(x[0, :2] ** 2)
        whole.t_()
        whole[0].mul_(x[1, 1:])
        (y * m.arange(6.0).reshape(3, 2)).sum().backward()
        return y.detach(), whole.detach(), x.grad

    for got, want in zip(program(irc), program(torch), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_requires_grad_on_a_view_of_all_of_a_tensor_leaves_the_tensor_alone():
    for m in (irc, torch):
        x = m.tensor([1.0, 2.0])
        v = x[:].requires_grad_()
        (v * 2).sum().backward()
        assert not x.requires_grad and v.is_leaf
        np.testing.assert_array_equal(v.grad.numpy(), [2, 2])


def test_gradients_flow_through_an_in_place_op_on_a_view():
    def program(m):
        x = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        y = x * 2
        y[0, 1:].mul_(m.tensor([3.0, -1.0]))  # in place on a view
        y.t()[2].add_(x[:, 0] * y[1, 0].clone())  # on a view of a view, with a part of the result
        y.diagonal().mul_(m.tensor([2.0, -1.0]))
        (y * m.tensor([[1.0, -2.0, 3.0], [0.5, 1.5, -1.0]])).sum().backward()
        return y.detach(), x.grad

    for got, want in zip(program(irc), program(torch), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_a_view_of_a_leaf_that_requires_grad_refuses_in_place_ops_but_not_under_no_grad():
    w = irc.ones(3, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad is being used in an in-place operation"):
        w[1].zero_()
    with irc.no_grad():  # the padding row of an embedding, an LSTM's forget-gate bias
        w[1].zero_()
        w.view(-1)[:2].fill_(4.0)
    assert w.requires_grad and w.is_leaf
    np.testing.assert_array_equal(w.numpy(), [[4, 4], [0, 0], [1, 1]])
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((3, 2), 3.0))
    w.data[2].fill_(-1.0)  # through .data too
    np.testing.assert_array_equal(w.numpy()[2], [-1, -1])


def test_views_inside_irc_jit_update_the_state_they_view():
    """A captured tensor updated through a view inside the traced function, and a view made outside the
    function updated inside it: written back after every call, as the eager run of the same code."""
    w, w2 = irc.zeros(2, 3), irc.zeros(2, 3)
    v = w2[1]

    def step():
        w[0].add_(1)
        v.add_(2)
        return w.sum() + v.sum()

    jitted = irc.jit(step)
    assert [jitted().item() for _ in range(3)] == [9.0, 18.0, 27.0]
    np.testing.assert_array_equal(w.numpy(), [[3, 3, 3], [0, 0, 0]])
    np.testing.assert_array_equal(w2.numpy(), [[0, 0, 0], [6, 6, 6]])
    e, e2 = irc.zeros(2, 3), irc.zeros(2, 3)
    w, w2, v = e, e2, e2[1]
    assert [step().item() for _ in range(3)] == [9.0, 18.0, 27.0]
    np.testing.assert_array_equal(e.numpy(), [[3, 3, 3], [0, 0, 0]])


def test_views_show_optimizer_steps_and_data_updates():
    """A view of a parameter held across optimizer steps (the replayed update path too) and a view of
    `.data` show the parameter's new values, as torch's do."""

    def program(m):
        m.manual_seed(0)
        layer = m.nn.Linear(3, 2)
        with m.no_grad():
            layer.weight.copy_(m.tensor([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]]))
            layer.bias.zero_()
        row, column, data_row = layer.weight[1], layer.weight.t()[0], layer.weight.data[0]
        opt = m.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
        seen = []
        for step in range(4):
            opt.zero_grad()
            layer(m.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]) * (step + 1)).pow(2).sum().backward()
            opt.step()
            seen += [row.detach().clone(), column.detach().clone(), data_row.clone()]
        return seen

    for got, want in zip(program(irc), program(torch), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)


def test_an_in_place_write_to_a_repeating_expand_is_torch_s_error():
    from tests.torch_compare import raises_like_torch

    raises_like_torch(torch, lambda m: m.zeros(4).expand(3, 4).add_(1))
    raises_like_torch(torch, lambda m: m.zeros(2, 1).broadcast_to(2, 3).mul_(2))
    raises_like_torch(torch, lambda m: m.zeros(2, 1).expand(2, 3).copy_(m.ones(2, 3)))


def test_irc_jit_updates_its_arguments_in_place_as_the_eager_call_does():
    """In-place updates of explicit arguments (directly, through a view, inside nested arguments) are written
    back to the call's own tensors, or numpy arrays, after every call: eager and jitted runs agree."""

    def step(x, pair):
        y, z = pair["y"], pair["z"]
        x.mul_(2)
        y[:, 0] = x[:, 1]
        zt = z.T  # z is a numpy array when called eagerly, an irc tensor inside the trace: views in both
        zt[1] += 1
        return (x + y).sum() + z.sum()

    def run(fn):
        x, y = irc.tensor([[1.0, 2.0], [3.0, 4.0]]), irc.zeros(2, 2)
        z = np.zeros((2, 2), np.float32)
        sums = [fn(x, {"y": y, "z": z}).item() for _ in range(3)]
        return sums, x.numpy(), y.numpy(), z

    eager, jitted = run(step), run(irc.jit(step))
    assert eager[0] == jitted[0] == [34.0, 68.0, 134.0]
    for e, j in zip(eager[1:], jitted[1:], strict=True):
        np.testing.assert_array_equal(e, j)
    np.testing.assert_array_equal(jitted[3], [[0, 3], [0, 3]])


def test_a_jitted_update_of_an_argument_that_cannot_change_is_named():
    def bump(x):
        x.add_(1)
        return x * 2

    frozen = np.zeros(3, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(irc.FrontendError, match="updates an argument that is not an irc tensor or a writable numpy"):
        irc.jit(bump)(frozen)


def test_a_read_only_array_is_a_jit_input():
    """TVM's calls take arrays through DLPack, which refuses read-only ones: such an input is copied."""
    frozen = np.arange(3, dtype=np.float32)
    frozen.flags.writeable = False
    np.testing.assert_array_equal(irc.jit(lambda x: x * 2)(frozen).numpy(), [0, 2, 4])
    np.testing.assert_array_equal(irc.jit(lambda x: x + 1)(np.broadcast_to(np.float32(3), (3,))).numpy(), [4, 4, 4])


def test_backward_on_a_jitted_function_s_own_arguments_says_why_it_fails():
    def loss_of(w):
        loss = (w * w).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="inside irc.jit the function's arguments are values without requires_grad"):
        irc.jit(loss_of)(irc.ones(3, requires_grad=True))
    w = irc.ones(3, requires_grad=True)
    assert loss_of(w).item() == 3.0 and w.grad.numpy().tolist() == [2.0, 2.0, 2.0]  # eagerly it works
