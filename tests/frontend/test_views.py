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
