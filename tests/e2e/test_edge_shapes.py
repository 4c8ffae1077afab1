"""Edge shapes against PyTorch: 0-d tensors, zero-size tensors and every dims spelling of the
reductions, values and gradients (docs/architecture.md, "Zero-size tensors"), in three modes:
`irc.jit`, eager compiled and eager interpreted (the numpy reference tier).

Each test puts many cases into one program, so it compiles once: `compare` runs `fn(irc, *xs)`
and `fn(torch, *xs)` and checks every output, and the gradient of sum(output * weights) for
every float input.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import irc
import irc.nn.functional as IF
from irc.errors import FrontendError
from irc.frontend.realize import realize_all

pytestmark = pytest.mark.slow  # about 45 s of CPU: many small programs


def functional(m):
    return IF if m is irc else TF


def random(shape, dtype=np.float32, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def torch_results(fn, arrays, weights):
    inputs = [torch.tensor(a, requires_grad=_float(a.dtype)) for a in arrays]
    outputs = fn(torch, *inputs)
    loss = sum((y.double() * torch.tensor(w)).sum() for y, w in zip(outputs, weights) if y.dtype.is_floating_point)
    wrt = [t for t in inputs if t.requires_grad]
    differentiable = wrt and torch.is_tensor(loss) and loss.requires_grad
    grads = torch.autograd.grad(loss, wrt, allow_unused=True) if differentiable else [None] * len(wrt)
    grads = [np.zeros(t.shape, t.detach().numpy().dtype) if g is None else g.numpy() for t, g in zip(wrt, grads)]
    return [y.detach().numpy() for y in outputs], grads


def _loss(outputs, weights):
    loss = irc.tensor(0.0, dtype="float64")
    for y, w in zip(outputs, weights):
        if _float(y.dtype):
            loss = loss + (y.double() * irc.tensor(w)).sum()
    return loss


def irc_jit_results(fn, arrays, weights):
    wrt = tuple(i for i, a in enumerate(arrays) if _float(a.dtype))

    def program(*xs):
        outputs = fn(irc, *xs)
        grads = irc.grad(lambda *ys: _loss(fn(irc, *ys), weights), argnums=wrt)(*xs) if wrt else ()
        return (*outputs, *(grads if isinstance(grads, tuple) else (grads,)))

    results = [r.numpy() for r in irc.jit(program)(*arrays)]
    n = len(results) - len(wrt)
    return results[:n], results[n:]


def irc_eager_results(fn, arrays, weights, tier: str):
    with irc.set_eager_mode(tier):
        return _eager_results(fn, arrays, weights)


def _eager_results(fn, arrays, weights):
    inputs = [irc.tensor(a, requires_grad=_float(a.dtype)) for a in arrays]
    outputs = fn(irc, *inputs)
    realize_all([y._node for y in outputs])
    wrt = [t for t in inputs if t.requires_grad]
    loss = _loss(outputs, weights)
    if wrt and loss.requires_grad:
        loss.backward()
    grads = [t.grad if t.grad is not None else irc.zeros(t.shape, dtype=t.dtype) for t in wrt]
    realize_all([g._node for g in grads])
    return [y.numpy() for y in outputs], [g.numpy() for g in grads]


RUNNERS = {
    "jit": irc_jit_results,
    "eager": lambda *args: irc_eager_results(*args, tier="compile"),
    "interpreted": lambda *args: irc_eager_results(*args, tier="interpret"),
}


def assert_close(got, want, what: str, dtype) -> None:
    assert len(got) == len(want), what
    tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-9
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{what} {k}: shape {g.shape}, torch {w.shape}"
        assert g.dtype == w.dtype, f"{what} {k}: dtype {g.dtype}, torch {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True, err_msg=f"{what} {k}")


def compare(mode: str, fn, shapes, dtype=np.float32) -> None:
    """`fn(m, *xs)` returns a tuple of tensors; irc (in `mode`) and torch must agree on them and on the gradients."""
    arrays = [random(s, dtype, seed) for seed, s in enumerate(shapes)]
    with torch.no_grad():
        weights = [
            random(tuple(y.shape), np.float64, 100 + k) for k, y in enumerate(fn(torch, *map(torch.tensor, arrays)))
        ]
    want, want_grads = torch_results(fn, arrays, weights)
    got, got_grads = RUNNERS[mode](fn, arrays, weights)
    assert_close(got, want, "output", dtype)
    assert_close(got_grads, want_grads, "gradient of input", dtype)


modes = pytest.mark.parametrize("mode", list(RUNNERS))

# -------------------------------------------------------------------------------- elementwise

EDGE_SHAPES = [(), (0,), (0, 3), (3, 0), (2, 0, 4)]


def elementwise_and_shape_ops(m, x, y):
    return (
        -x, x.abs(), x.exp(), x.tanh(), x.sigmoid(), x.relu(), x.sin(), x.erf(), x.square(),
        x + y, x * y.sum(), x / (y * y + 1), m.maximum(x, y), m.where(x > 0, x, y), x.clamp(-0.5, 0.5),
        x.softmax(-1), x.log_softmax(0), x.reshape(-1), x.flatten(), x.unsqueeze(0), x.unsqueeze(-1).squeeze(-1),
        x.flip(0) if x.ndim else x, x.permute(*reversed(range(x.ndim))) if x.ndim else x, x.transpose(0, -1),
        x.expand(2, *x.shape), m.cat([x, y], 0) if x.ndim else m.stack([x, y]), (x > y).float() * x,
    )  # fmt: skip


@modes
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
def test_elementwise_and_shape_ops(mode, shape):
    compare(mode, elementwise_and_shape_ops, [shape, shape])


# -------------------------------------------------------------------------------- reductions

REDUCTION_SHAPES = [(), (1,), (3,), (0,), (0, 3), (3, 0), (2, 0, 4), (2, 3, 4)]


def reduction_cases(shape):
    """(name, call) for every dims spelling of every reduction on `shape`, as torch spells them."""
    rank = len(shape)
    dims = [None, (), *range(-max(rank, 1), max(rank, 1))]
    if rank >= 2:
        dims += [(0, 1), (-1, 0), tuple(range(rank))]
    cases = []
    for i, dim in enumerate(dims):  # keepdim alternates: each spelling and op meets both
        for j, op in enumerate(("sum", "mean", "amax", "amin")):
            keepdim = (i + j) % 2 == 1
            cases.append((f"{op}({dim}, {keepdim})", lambda x, op=op, d=dim, k=keepdim: getattr(x, op)(d, keepdim=k)))
        if isinstance(dim, int):
            for j, op in enumerate(("prod", "argmax", "argmin", "max")):
                keepdim = (i + j) % 2 == 0
                cases.append(
                    (f"{op}({dim}, {keepdim})", lambda x, op=op, d=dim, k=keepdim: getattr(x, op)(d, keepdim=k))
                )
    cases += [(f"{op}()", lambda x, op=op: getattr(x, op)()) for op in ("sum", "mean", "prod", "amax", "max", "argmax")]
    return cases


def _split(shape):
    """The cases torch computes, and those it rejects (max of nothing)."""
    x = torch.tensor(random(shape))
    valid, invalid = [], []
    for name, call in reduction_cases(shape):
        try:
            call(x)
            valid.append((name, call))
        except (RuntimeError, IndexError):
            invalid.append((name, call))
    return valid, invalid


def _flat(results):
    return tuple(r for result in results for r in (result if isinstance(result, tuple) else (result,)))


#: outputs per program: TVM's scheduling time grows faster than the number of nests
CHUNK = 16


# the compiled eager path of a plain (2, 3, 4) adds nothing to jit's (same compiler, same rules) but time
REDUCTION_RUNS = [
    (mode, shape) for shape in REDUCTION_SHAPES for mode in RUNNERS if (mode, shape) != ("eager", (2, 3, 4))
]


@pytest.mark.parametrize("mode,shape", REDUCTION_RUNS, ids=str)
def test_reductions(mode, shape):
    valid, _ = _split(shape)
    for start in range(0, len(valid), CHUNK):
        chunk = valid[start : start + CHUNK]
        compare(mode, lambda m, x, chunk=chunk: _flat(call(x) for _, call in chunk), [shape])


@pytest.mark.parametrize("shape", REDUCTION_SHAPES, ids=str)
def test_max_of_nothing_is_an_error_like_in_torch(shape):
    _, invalid = _split(shape)
    assert bool(invalid) == (0 in shape)
    x = irc.tensor(random(shape))
    for _name, call in invalid:
        with pytest.raises(FrontendError, match=r"of size 0|of an empty tensor"):
            call(x)


def test_reduction_messages_name_op_and_shape():
    with pytest.raises(FrontendError, match=r"hl\.max: cannot reduce over dim 0 of size 0 .*operands: 0x3xf32"):
        irc.zeros((0, 3)).amax(0)
    with pytest.raises(FrontendError, match=r"argmax: the argmax of an empty tensor of shape \[0, 3\] is undefined"):
        irc.zeros((0, 3)).argmax()


def test_reductions_float64():
    compare(
        "jit",
        lambda m, x: (x.mean((0, 2)), x.mean((-1, -3), keepdim=True), x.argmax(1, keepdim=True), x.argmin(-1)),
        [(2, 3, 4)],
        np.float64,
    )


def test_integer_reductions_of_nothing():
    def fn(m, x):
        b = x > 0
        return b.sum(), b.long().sum(0), b.long().prod(0), b.int().sum((0, 1), keepdim=True)

    compare("jit", fn, [(0, 3)])


# -------------------------------------------------------------------------------- contractions, nn


def matmuls(m, *xs):
    return tuple(a @ b for a, b in zip(xs[::2], xs[1::2]))


MATMUL_SHAPES = [
    (2, 0), (0, 3), (0, 3), (3, 4), (2, 3), (3, 0), (0,), (0,), (2, 0), (0,), (0,), (0, 3),
    (4, 2, 0), (4, 0, 3), (0, 2, 3), (0, 3, 4), (3,), (3,), (2, 3), (3,),
]  # fmt: skip


@modes
def test_matmul_zero_size(mode):
    compare(mode, matmuls, MATMUL_SHAPES)


def nn_batch_zero(m, x, w, b, img, kernel, kb, logits, target_like):
    F = functional(m)
    targets = m.tensor(np.zeros((0,), np.int64))
    return (
        F.linear(x, w, b),
        F.conv2d(img, kernel, padding=1),
        F.conv2d(img, kernel, kb, stride=2),
        F.max_pool2d(img, 2),
        F.avg_pool2d(img, 2),
        F.batch_norm(img, None, None, training=True),
        F.batch_norm(x, w[0], w[1] * w[1] + 1, training=False),
        F.softmax(logits, 1),
        F.log_softmax(logits, 1),
        F.cross_entropy(logits, targets),
        F.cross_entropy(logits, targets, reduction="sum"),
        F.cross_entropy(logits, targets, reduction="none"),
        F.mse_loss(logits, target_like),
        F.mse_loss(logits, target_like, reduction="sum"),
        F.dropout(logits, 0.5, training=False),
        F.pad(x, (1, 2)),
    )


@modes
def test_nn_batch_of_zero(mode):
    shapes = [(0, 4), (3, 4), (3,), (0, 3, 4, 4), (2, 3, 3, 3), (2,), (0, 5), (0, 5)]
    compare(mode, nn_batch_zero, shapes)


def test_batch_norm_of_an_empty_batch_keeps_the_running_statistics():
    for m in (irc, torch):
        mean, var = m.zeros(3), m.ones(3)
        out = functional(m).batch_norm(m.zeros((0, 3, 2)), mean, var, training=True)
        assert tuple(out.shape) == (0, 3, 2)
        np.testing.assert_array_equal(np.asarray(mean.numpy()), np.zeros(3))
        np.testing.assert_array_equal(np.asarray(var.numpy()), np.ones(3))


def test_conv2d_without_input_channels_is_zeros():
    # a sum over no channels, like matmul with k = 0; torch returns a (2, 0, 3, 3) tensor instead,
    # against its own output shape rule (docs/architecture.md, "Zero-size tensors")
    out = IF.conv2d(irc.zeros((2, 0, 5, 5)), irc.zeros((4, 0, 3, 3)), irc.ones(4))
    np.testing.assert_array_equal(out.numpy(), np.ones((2, 4, 3, 3), np.float32))


def test_jit_training_step_with_an_empty_batch():
    """A whole compiled step (forward, backward, SGD update) on a batch of 0, as torch does it."""
    w1, w2 = random((4, 3), seed=1), random((2, 4), seed=2)
    x, y = np.zeros((0, 3), np.float32), np.zeros((0,), np.int64)

    tw1, tw2 = torch.tensor(w1, requires_grad=True), torch.tensor(w2, requires_grad=True)
    t_loss = TF.cross_entropy(TF.linear(TF.linear(torch.tensor(x), tw1).relu(), tw2), torch.tensor(y))
    t_loss.backward()

    iw1, iw2 = irc.tensor(w1, requires_grad=True), irc.tensor(w2, requires_grad=True)
    opt = irc.optim.SGD([iw1, iw2], lr=0.1)

    @irc.jit
    def step(x, y):
        opt.zero_grad()
        loss = IF.cross_entropy(IF.linear(IF.linear(x, iw1).relu(), iw2), y)
        loss.backward()
        opt.step()
        return loss

    loss = step(x, y)
    assert np.isnan(loss.numpy()) and np.isnan(t_loss.item())
    for got, tw, w in ((iw1, tw1, w1), (iw2, tw2, w2)):
        np.testing.assert_array_equal(got.grad.numpy(), tw.grad.numpy())
        np.testing.assert_array_equal(got.numpy(), w - 0.1 * tw.grad.numpy())


# -------------------------------------------------------------------------------- 0-d, indexing, views


def test_item_of_an_indexed_tensor():
    assert irc.tensor([5.0])[0].item() == 5.0
    assert irc.tensor([[1, 2], [3, 4]])[1, 0].item() == 3


def indexing_and_0d(m, x, s, one):
    return (
        x[1, 2], x[-1][-1], x[2:2], x[:, 1:1], x[::2], x[:0].relu(), x[None], s[None], s * 2,
        one.reshape(()), one.reshape(1, 1).reshape(()), s.reshape(1, 1), s.unsqueeze(0).squeeze(), s, x[0][0] + x[1, 1],
    )  # fmt: skip


@modes
def test_indexing_and_0d_tensors(mode):
    compare(mode, indexing_and_0d, [(3, 4), (), (1,)])


def reshapes_of_views(m, x, y, z):
    return (
        x.T.reshape(-1), x.transpose(0, 1).reshape(2, 10), x[1:4, ::2].reshape(-1), x[:1].expand(3, 4).reshape(12),
        x.unsqueeze(1).expand(5, 2, 4).reshape(10, 4), y.reshape(25, 10).T.reshape(250) * 2,
        y.reshape(5, 5, 10).permute(2, 0, 1).reshape(10, 25).sum(0), z.reshape(4, 6).reshape(3, 8),
        (z.reshape(4, 6) + 1).reshape(3, 8).reshape(2, 12),
    )  # fmt: skip


@modes
def test_reshapes_of_views(mode):
    compare(mode, reshapes_of_views, [(5, 4), (250,), (24,)], np.float64)


def test_zero_size_inputs_with_any_strides():
    """numpy gives zero-size arrays odd strides; compiled code checks for row-major ones."""
    f = irc.jit(lambda a, b: (a.relu(), a.sum(0) + b, a.T))
    base = np.zeros((4, 6), np.float32)
    for a in (np.zeros((0, 3), np.float32), base[:0, ::2], base[2:2, :3], torch.zeros(3, 0).T.numpy()):
        relu, summed, transposed = f(a, np.ones(3, np.float32))
        assert relu.shape == (0, 3) and transposed.shape == (3, 0)
        np.testing.assert_array_equal(summed.numpy(), np.ones(3, np.float32))
