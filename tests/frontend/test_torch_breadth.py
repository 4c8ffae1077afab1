"""PyTorch's Tensor, factory and utility API (docs/torch-api.md), compared with torch 2.13.

Every case is one function `fn(m, *inputs)` written once for both modules (`m` is `irc` or
`torch`), so it checks the spelling too. Values, dtypes and the gradients of a weighted sum of
the float outputs must agree with torch on every path: eager on the interpreter tier
(`backward()` and `irc.grad`), eager on the compiled tier and `irc.jit(target="llvm")`
(the last two build one program for all cases, to stay fast).
"""

import io
import subprocess
import sys

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.frontend import realize
from tests.torch_compare import raises_like_torch

torch = pytest.importorskip("torch")


def normal(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(dtype)


def ints(*shape, high=5):
    return np.random.default_rng(len(shape)).integers(-high, high, shape)


def attention_mask(m, scores):
    causal = ~m.ones(scores.shape[-2], scores.shape[-1], dtype=m.bool).tril()
    return scores.masked_fill(causal, float("-inf")).softmax(-1)


def set_strided(y, v):
    y[:, 0::2] = v
    y[1:, 1::3] = 0.5
    return y


def set_basic(y, v):
    y[1] = v
    y[0, 1:4] = -1
    y[..., -1] = 2
    y[None, 2, ::4] = y[0, :2] * 3  # the value reads y before this assignment
    return y


def set_masked(y, v):
    y[y > 1] = 0
    y[y < -1] = v
    y[y.sum(1) > 0] = 3 * v
    return y


def positional_encoding(m, a):
    """The sinusoidal positional encoding of "Attention is all you need", as PyTorch tutorials write it."""
    pe = m.zeros(6, 4)
    position = m.arange(0, 6).unsqueeze(1).float()
    div_term = m.exp(m.arange(0, 4, 2).float() * (-0.5))
    pe[:, 0::2] = m.sin(position * div_term)
    pe[:, 1::2] = m.cos(position * div_term)
    return pe * a


# name -> (fn(m, *inputs), inputs)
CASES = {
    "mm": (lambda m, a, b: m.mm(a, b), [normal(3, 4), normal(4, 2)]),
    "mm-method-f64": (lambda m, a, b: a.mm(b), [normal(2, 3, dtype=np.float64), normal(3, 2, dtype=np.float64)]),
    "mm-int": (lambda m, a, b: a.mm(b), [ints(2, 3), ints(3, 2)]),
    "dot": (lambda m, a, b: m.dot(a, b), [normal(5), normal(5)]),
    "dot-method-int": (lambda m, a, b: a.dot(b), [ints(4), ints(4)]),
    "vdot": (lambda m, a, b: m.vdot(a, b) * a.vdot(b), [normal(3, dtype=np.float64), normal(3, dtype=np.float64)]),
    "split-int": (lambda m, a: a.split(2, dim=1), [normal(3, 5)]),
    "split-list": (lambda m, a: m.split(a, [1, 3, 1], 1), [normal(3, 5)]),
    "split-dim0-negative": (lambda m, a: a.split(2, -2), [normal(3, 5)]),
    "split-exact": (lambda m, a: a.split(4), [normal(4, 2)]),
    "chunk": (lambda m, a: a.chunk(2, 1), [normal(3, 5)]),
    "chunk-fewer": (lambda m, a: m.chunk(a, 4), [normal(6)]),
    "narrow-unbind": (lambda m, a: (a.narrow(1, -3, 2), *a.unbind(1)), [normal(2, 4)]),
    "contiguous": (lambda m, a: a.contiguous() * 2, [normal(2, 3)]),
    "masked_fill": (lambda m, a: a.masked_fill(a > 0, -1.5), [normal(3, 4)]),
    "masked_fill-0d-tensor": (lambda m, a, v: a.masked_fill(a < 0, v), [normal(3, 4), normal()]),
    "masked_fill-broadcast-mask": (lambda m, a, b: a.masked_fill(b > 0, 2), [normal(3, 4), normal(4)]),
    "masked_fill-f64-value-into-f32": (
        lambda m, a, v: m.masked_fill(a, a > 0.5, v),
        [normal(2, 3), np.array(0.25)],
    ),
    "masked_fill-int": (lambda m, a: a.masked_fill(a > 1, 2.7), [ints(3, 4)]),
    "masked_fill-bool": (lambda m, a: (a > 0).masked_fill(a < -1, 0.5), [normal(3, 4)]),
    "masked_fill-inf-softmax": (attention_mask, [normal(2, 4, 4)]),
    "div-rounding": (
        lambda m, a, b: (
            a.div(b, rounding_mode="floor"),
            a.div(b, rounding_mode="trunc"),
            m.div(a, 0.3, rounding_mode="trunc"),
        ),
        [normal(3, 4) * 4, normal(3, 4)],
    ),
    "div-rounding-int": (
        lambda m, a, b: (
            a.div(b, rounding_mode="floor"),
            m.div(a, b, rounding_mode="trunc"),
            a.div(-3, rounding_mode="trunc"),
        ),
        [np.array([[7, -7, 6, -6, 0]]), np.array([[2, 2, -4, -4, 3]])],
    ),
    "flip-dims-keyword": (lambda m, a: a.flip(dims=[0, 1]), [normal(2, 3)]),
    "softmax-dtype": (lambda m, a: (a.softmax(-1, dtype=m.float64), a.log_softmax(0, dtype=m.float64)), [normal(2, 3)]),
    "gather-int32-index-0d-input": (
        lambda m, a, i: (a.gather(1, i.int()), a.sum().gather(0, i[0, :1]), a.sum().index_select(0, i[0, :1])),
        [normal(3, 4), np.array([[0, 3], [1, 1], [2, 0]])],
    ),
    "cat-skips-1d-empty": (lambda m, a: m.cat([m.zeros(0), a, m.zeros(0)], 1), [normal(2, 3)]),
    "to-memory-format": (
        lambda m, a: (
            a.to(m.float64, False, True, memory_format=m.preserve_format),
            a.float(memory_format=m.contiguous_format),
        ),
        [normal(2, 2)],
    ),
    "tril": (lambda m, a: a.tril(), [normal(3, 4)]),
    "triu-diagonal": (lambda m, a: a.triu(1), [normal(4, 3)]),
    "tril-batched-negative": (lambda m, a: m.tril(a, diagonal=-1), [normal(2, 3, 3)]),
    "triu-int": (lambda m, a: m.triu(a, -1), [ints(3, 4)]),
    "new-factories": (
        lambda m, a: (
            a.new_zeros(2, 3),
            a.new_ones((2,)),
            a.new_full((2, 2), 3.5),
            a.new_tensor([1, 2]),
            a.new_zeros(2, dtype=m.int64),
            a.new_full((2,), 3.5) * a.sum(),
        ),
        [normal(2, 2, dtype=np.float64)],
    ),
    "new-factories-int": (lambda m, a: (a.new_full((2,), 3.5), a.new_ones(3)), [ints(2)]),
    "type-conversions": (
        lambda m, a, y: (
            (a.argmax(1) == y).type(m.float).sum(),
            a.type(m.float64) * 2,
            a.double(),
            a.long(),
            a.int(),
            a.bool(),
            a.double().float(),
            a.type("torch.DoubleTensor"),
            a.to(m.float64),
        ),
        [normal(4, 3), np.array([0, 1, 2, 0])],
    ),
    "dtype-aliases": (
        lambda m, a: (m.zeros(2, dtype=m.long), m.ones(2, dtype=m.int), m.tensor([1.5], dtype=m.double), a > 0),
        [normal(2)],
    ),
    "like-factories": (
        lambda m, a: (
            m.zeros_like(a, dtype=m.int64),
            m.ones_like(a),
            m.full_like(a, 2.5, dtype=m.float64),
            m.full_like(a, 2),
            m.zeros_like(a) + a,
        ),
        [normal(2, 3)],
    ),
    "legacy-constructor": (
        lambda m, a: (m.Tensor([-4.0]), m.Tensor([[1, 2]]) * a, m.Tensor(2, 3).shape[1] * a),
        [normal(2, 2)],
    ),
    "iteration": (lambda m, a: m.stack([row * i for i, row in enumerate(a)]), [normal(3, 2)]),
    "to-device-object": (lambda m, a: a.to(m.device("cpu")) * 3, [normal(2)]),
    "setitem-strided": (lambda m, a, v: set_strided(a.clone(), v), [normal(3, 5), normal(3, 3)]),
    "setitem-int-slice-ellipsis": (lambda m, a, v: set_basic(a.clone(), v), [normal(3, 5), normal(5)]),
    "setitem-mask": (lambda m, a, v: set_masked(a.clone(), v), [normal(3, 4), normal()]),
    "setitem-int-dtype": (lambda m, a: set_strided(a.clone(), 7), [ints(3, 5)]),
    "setitem-positional-encoding": (positional_encoding, [normal(6, 4)]),
}


def call(m, fn, arrays, grad=True):
    """fn's outputs (a list) and the float inputs' gradients of `weighted_loss` (backward())."""
    xs = [m.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    outs = fn(m, *xs)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    loss = weighted_loss(m, outs)
    if loss is not None and loss.requires_grad:
        loss.backward()
    return outs, [x.grad if x.grad is not None else m.zeros_like(x) for x in xs if x.requires_grad]


def weighted_loss(m, outs):
    """sum(out * w) over the float outputs, with fixed weights (a permuted gradient would not pass)."""
    terms = []
    for i, out in enumerate(outs):
        if isinstance(out, (m.Tensor,)) and out.is_floating_point():
            w = np.cos(np.arange(out.numel()) * 1.3 + i).reshape(tuple(out.shape)).astype(str(out.dtype).split(".")[-1])
            terms.append((out * m.tensor(w)).sum().double())
    return sum(terms) if terms else None


def assert_same(got, want):
    if isinstance(want, tuple | int):  # a shape or a size
        assert tuple(got) == tuple(want) if isinstance(want, tuple) else got == want
        return
    want_np = want.detach().numpy()
    got_np = got.numpy() if isinstance(got, irc.Tensor) else np.asarray(got)
    assert got_np.dtype == want_np.dtype and got_np.shape == want_np.shape, (got_np.dtype, want_np.dtype)
    tol = 1e-10 if want_np.dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got_np, want_np, rtol=tol, atol=tol)


def torch_results(fn, arrays):
    outs, grads = call(torch, fn, arrays)
    return outs, grads


@pytest.mark.parametrize("name", list(CASES))
def test_eager_interpreted_matches_torch(name):
    """The interpreter tier (tests/frontend's conftest): values, backward() and irc.grad."""
    fn, arrays = CASES[name]
    want_outs, want_grads = torch_results(fn, arrays)
    outs, grads = call(irc, fn, arrays)
    assert len(outs) == len(want_outs) and len(grads) == len(want_grads)
    for got, want in zip([*outs, *grads], [*want_outs, *want_grads]):
        assert_same(got, want)
    if weighted_loss(torch, want_outs) is not None:
        floats = tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")
        by_grad = irc.grad(lambda *xs: weighted_loss(irc, flat(fn(irc, *xs))), argnums=floats)(*arrays)
        for got, want in zip(by_grad, want_grads):
            assert_same(got, want)


def flat(outs):
    return list(outs) if isinstance(outs, tuple) else [outs]


# the compiled paths run the cases that build new compositions of hl ops, all in one program (to stay fast)
COMPILED = {
    name: CASES[name]
    for name in (
        "mm", "chunk-fewer", "masked_fill-broadcast-mask", "masked_fill-int", "masked_fill-inf-softmax",
        "tril-batched-negative", "type-conversions", "setitem-strided", "setitem-mask",
        "setitem-positional-encoding",
    )
}  # fmt: skip


def all_cases(*arrays, cases=COMPILED):
    """Every case on its slice of `arrays`: (outputs, loss), for one program."""
    outs, losses, k = [], [], 0
    for fn, case_arrays in cases.values():
        case_outs = flat(fn(irc, *arrays[k : k + len(case_arrays)]))
        k += len(case_arrays)
        outs += case_outs
        loss = weighted_loss(irc, case_outs)
        losses += [loss] if loss is not None else []
    return outs, sum(losses)


def expected_all(cases=COMPILED):
    outs, grads, arrays = [], [], []
    for fn, case_arrays in cases.values():
        case_outs, case_grads = torch_results(fn, case_arrays)
        outs += case_outs
        grads += case_grads
        arrays += case_arrays
    return outs, grads, arrays


#: the compiled eager tier shares the pipeline with irc.jit: a few cases show that eager graphs get there
COMPILED_TIER = {name: CASES[name] for name in ("split-list", "masked_fill-0d-tensor", "triu-int", "new-factories")}


def test_compiled_tier_matches_torch():
    want_outs, want_grads, arrays = expected_all(COMPILED_TIER)
    with irc.set_eager_mode("compile"):
        xs = [irc.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        outs, loss = all_cases(*xs, cases=COMPILED_TIER)
        loss.backward()
        grads = [x.grad if x.grad is not None else irc.zeros_like(x) for x in xs if x.requires_grad]
        realize.realize_all([t._node for t in [*outs, *grads]])
        assert all(p.compiled is not None for p in realize._cache.values())
    for got, want in zip([*outs, *grads], [*want_outs, *want_grads]):
        assert_same(got, want)


def test_jit_llvm_and_grad_match_torch():
    want_outs, want_grads, arrays = expected_all()
    floats = tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")

    @irc.jit(target="llvm")
    def program(*xs):
        grads = irc.grad(lambda *ys: all_cases(*ys)[1], argnums=floats)(*xs)
        return (*all_cases(*xs)[0], *grads)

    got = program(*arrays)
    assert len(got) == len(want_outs) + len(want_grads)
    for g, want in zip(got, [*want_outs, *want_grads]):
        assert_same(g, want)


# ------------------------------------------------------------------ errors: torch's messages
ERRORS = {
    "mm-3d": lambda m: m.mm(m.ones(2, 3, 4), m.ones(4, 2)),
    "mm-vector": lambda m: m.ones(2, 3).mm(m.ones(3)),
    "mm-shapes": lambda m: m.ones(2, 3).mm(m.ones(2, 3)),
    "mm-dtypes": lambda m: m.ones(2, 3).mm(m.ones(3, 2, dtype=m.float64)),
    "mm-dtypes-long": lambda m: m.ones(2, 3).mm(m.ones(3, 2, dtype=m.int64)),
    "dot-2d": lambda m: m.dot(m.ones(2, 3), m.ones(3)),
    "dot-sizes": lambda m: m.ones(3).dot(m.ones(2)),
    "dot-dtypes": lambda m: m.ones(3).dot(m.ones(3, dtype=m.float64)),
    "matmul-dtypes": lambda m: m.ones(2, 3) @ m.ones(3, 2, dtype=m.float64),
    "matmul-dtypes-long": lambda m: m.matmul(m.ones(2, 3, dtype=m.long), m.ones(3, 2)),
    "matmul-dtypes-vector-matrix": lambda m: m.ones(3) @ m.ones(3, 2, dtype=m.float16),
    "matmul-dtypes-batch-matrix": lambda m: m.ones(2, 2, 3) @ m.ones(3, 2, dtype=m.float64),
    "matmul-dtypes-dot": lambda m: m.ones(3, dtype=m.long) @ m.ones(3),
    "matmul-dtypes-matrix-vector": lambda m: m.ones(2, 3, dtype=m.float64) @ m.ones(3),
    "matmul-dtypes-batched": lambda m: m.ones(2, 2, 3, dtype=m.float16).matmul(m.ones(2, 3, 2)),
    "matmul-dtypes-vector-batch": lambda m: m.ones(3) @ m.ones(2, 3, 2, dtype=m.float64),
    "bmm-dtypes": lambda m: m.bmm(m.ones(2, 2, 3), m.ones(2, 3, 2, dtype=m.float64)),
    "split-zero": lambda m: m.ones(2, 3).split(0),
    "split-negative": lambda m: m.ones(2, 3).split(-1, 1),
    "split-sizes": lambda m: m.ones(2, 3).split([1, 1], 1),
    "split-0d": lambda m: m.ones(()).split(1),
    "split-dim": lambda m: m.ones(2, 3).split(1, 2),
    "chunk-zero": lambda m: m.ones(2, 3).chunk(0),
    "chunk-0d": lambda m: m.ones(()).chunk(2),
    "narrow-range": lambda m: m.ones(2, 3).narrow(1, 2, 2),
    "masked_fill-value-1d": lambda m: m.ones(2, 3).masked_fill(m.ones(2, 3) > 0, m.ones(2)),
    "masked_fill-float-mask": lambda m: m.ones(2, 3).masked_fill(m.ones(2, 3), 1.0),
    "masked_fill-long-mask": lambda m: m.ones(2, 3).masked_fill(m.ones(2, 3, dtype=m.long), 1.0),
    "tril-1d": lambda m: m.ones(3).tril(),
    "triu-float-diagonal": lambda m: m.ones(3, 3).triu(0.5),
    "type-invalid": lambda m: m.ones(2).type("torch.Foo"),
    "iterate-0d": lambda m: list(m.tensor(1.0)),
    "len-0d": lambda m: len(m.tensor(1.0)),
    "format-spec-1d": lambda m: f"{m.ones(2):.3f}",
    "format-spec-1-element": lambda m: f"{m.ones(1):.3f}",
    "legacy-negative-size": lambda m: m.Tensor(-1),
    "setitem-expand": lambda m: m.zeros(2, 5).__setitem__((slice(None), slice(0, None, 2)), m.ones(2, 2)),
    "setitem-mask-shape": lambda m: m.zeros(2, 3).__setitem__(m.tensor([True, False, True]), 5.0),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_carry_torch_messages(name):
    want, got = raises_like_torch(torch, ERRORS[name])
    if not isinstance(got, irc.IRCError):  # irc's own errors carry the user's line instead
        assert type(got) is type(want)


def test_setitem_on_a_leaf_that_requires_grad_is_refused_and_no_grad_allows_it():
    x = irc.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad is being used in an in-place"):
        x[0] = 2.0
    with irc.no_grad():
        x[0, ::2] = 2.0
    assert x.is_leaf and x.requires_grad and x.tolist() == [[2.0, 1.0, 2.0], [1.0, 1.0, 1.0]]
    y = irc.zeros(3)
    y[irc.tensor([True, False, True])] = irc.tensor([4.0, 5.0])  # eager: the mask's values place them
    assert y.tolist() == [4.0, 0.0, 5.0]


def test_irc_frontend_errors_point_at_the_user_line():
    with pytest.raises(irc.FrontendError) as e:
        irc.ones(2, 3).mm(irc.ones(2, 3))
    assert f"{__file__}:" in str(e.value)


# ------------------------------------------------------------------ small utilities
def test_format_len_iteration_and_predicates():
    loss = irc.tensor(0.123456)
    assert f"{loss:.3f}" == f"{torch.tensor(0.123456):.3f}" == "0.123"
    assert f"{irc.tensor(7):>4}" == "   7" and f"{irc.tensor(True)}" == "True"
    assert f"{irc.ones(2)}" == str(irc.ones(2))
    x = irc.ones(3, 2)
    assert len(x) == 3 and [r.shape for r in x] == [(2,)] * 3
    assert irc.is_tensor(x) and not irc.is_tensor(np.ones(2)) and irc.is_tensor(nn.Parameter(irc.ones(1)))
    assert irc.numel(x) == x.numel() == 6 and x.dim() == 2 and x.size(-1) == 2 and x.size() == (3, 2)
    assert x.contiguous() is x and x.is_contiguous()
    assert x.is_floating_point() and not irc.is_floating_point(x.long())
    assert irc.ones(0, 2).unbind(0) == ()


def test_type_names_and_dtype_aliases_follow_torch():
    for name, dtype in [("float32", "float"), ("float64", "double"), ("int64", "long"), ("int32", "int")]:
        assert getattr(irc, dtype) is getattr(irc, name)
        assert str(getattr(torch, dtype)) == f"torch.{name}"
    assert irc.bool is irc.bool_
    for dtype in ("float32", "float64", "int32", "int64", "bool"):
        t = torch.ones(2, dtype=getattr(torch, dtype))
        x = irc.ones(2, dtype=getattr(irc, dtype))
        assert x.type() == t.type()
        assert x.type(t.type()).dtype == x.dtype and x.type("irc." + t.type().split(".")[1]).dtype == x.dtype
    assert irc.ones(2).type(irc.float) is not None


def test_legacy_constructor_follows_torch():
    for args in [([-4.0],), ([1, 2],), ([True],), (np.ones(2),), ((2, 3),), (2, 3), ()]:
        want, got = torch.Tensor(*args), irc.Tensor(*args)
        assert got.shape == tuple(want.shape) and str(got.dtype) == "float32", args
        if want.numel() and len(args) == 1:
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    ints = irc.tensor([1, 2])
    assert irc.Tensor(ints).dtype == irc.int64 and not irc.Tensor(irc.ones(2, requires_grad=True)).requires_grad
    with pytest.raises(TypeError, match="expected a sequence of numbers or sizes"):
        irc.Tensor(2.5)


def test_new_empty_and_like_keywords():
    a = irc.ones(2, 3, dtype=irc.float64)
    t = torch.ones(2, 3, dtype=torch.float64)
    for got, want in [
        (a.new_empty(4), t.new_empty(4)),
        (a.new_empty((1, 2), dtype=irc.int32), t.new_empty((1, 2), dtype=torch.int32)),
        (irc.empty(2, 3), torch.empty(2, 3)),
        (irc.empty_like(a), torch.empty_like(t)),
        (a.new_zeros(2, requires_grad=True), t.new_zeros(2, requires_grad=True)),
        (irc.ones_like(a, requires_grad=True), torch.ones_like(t, requires_grad=True)),
        (irc.randn_like(a), torch.randn_like(t)),
        (irc.rand_like(a, dtype=irc.float32), torch.rand_like(t, dtype=torch.float32)),
    ]:
        assert got.shape == tuple(want.shape) and str(got.dtype) == str(want.dtype).removeprefix("torch.")
        assert got.requires_grad == want.requires_grad
    with pytest.raises(irc.FrontendError, match="only implemented for float"):
        irc.randn_like(irc.ones(2, dtype=irc.long))


def test_devices_and_cuda_queries():
    dev = irc.device("cpu")
    assert dev == "cpu" and dev.type == "cpu" and dev.index is None and repr(dev) == "device(type='cpu')"
    assert repr(irc.device("cuda:0")) == repr(torch.device("cuda:0")) and irc.device("cuda", 0).index == 0
    x = irc.tensor([1.0, 2.0], device=dev)
    assert x.device == "cpu" and x.device.type == "cpu" and x.to(dev) is x and x.to("cpu:0") is x
    assert x.to(dev, irc.float64).dtype == irc.float64 and x.to(device="cpu", dtype=irc.int64).dtype == irc.int64
    assert x.to(irc.ones(1, dtype=irc.int32)).dtype == irc.int32 and irc.zeros(2, device=dev).device == "cpu"
    model = nn.Linear(2, 2).to(irc.device("cpu")).to("cpu:0")
    assert all(p.device == "cpu" and p.device.type == "cpu" and p.device.index is None for p in model.parameters())
    with pytest.raises(irc.FrontendError, match="unknown device 'foo'"):
        irc.device("foo")
    with pytest.raises(irc.FrontendError, match="one device of each kind"):
        irc.device("cuda:1")
    with pytest.raises(irc.FrontendError, match="unknown device"):
        irc.tensor([1.0], device="tpu")


def test_cuda_is_available_without_tvm():
    """Answered by irc's CUDA runtime: False and 0 without a GPU, never importing TVM."""
    code = (
        "import sys, irc; a, n = irc.cuda.is_available(), irc.cuda.device_count(); "
        "assert 'tvm' not in sys.modules; assert a == (n > 0); print(a, n)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_accelerator_backends_and_inference_mode():
    """The PyTorch quickstart's device choice runs; the answers follow irc.cuda."""
    device = irc.accelerator.current_accelerator().type if irc.accelerator.is_available() else "cpu"
    assert device == ("cuda" if irc.cuda.is_available() else "cpu")
    assert irc.accelerator.device_count() == irc.cuda.device_count()
    assert not irc.backends.mps.is_available() and not irc.backends.cudnn.is_available()
    irc.backends.cudnn.benchmark = True  # accepted, changes nothing
    for m in (torch, irc):
        x = m.ones(2, requires_grad=True)
        with m.inference_mode():
            assert not (x * 2).requires_grad
        with m.inference_mode(False):
            assert (x * 2).requires_grad
        assert m.inference_mode()(lambda y: (y * 2).requires_grad)(x) is False


def test_tf32_switches_keep_torchs_state_and_change_no_result():
    """nanoGPT's `torch.backends.cuda.matmul.allow_tf32 = True` and friends: the same state as in torch;
    irc's float32 matmuls on the CPU stay full float32 (its TF32 kernels are for cuda targets of sm_80+:
    tests/targets/test_tf32.py), which "allow" permits."""
    a, b = normal(8, 16), normal(16, 4)
    before = (irc.tensor(a) @ irc.tensor(b)).numpy()
    assert (irc.backends.cuda.matmul.allow_tf32, irc.backends.cudnn.allow_tf32) == (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    assert irc.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    try:
        for precision in ("high", "medium", "highest"):
            for m in (torch, irc):
                m.set_float32_matmul_precision(precision)
            assert irc.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == precision
            assert irc.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
        irc.backends.cuda.matmul.allow_tf32 = True
        irc.backends.cudnn.allow_tf32 = True
        assert irc.get_float32_matmul_precision() == "high"
        np.testing.assert_array_equal((irc.tensor(a) @ irc.tensor(b)).numpy(), before)
        with pytest.warns(UserWarning, match="low is not one of 'highest', 'high', or 'medium'"):
            irc.set_float32_matmul_precision("low")
        assert irc.get_float32_matmul_precision() == "high"
        with pytest.raises(AttributeError, match="Unknown attribute allow_tf64"):
            irc.backends.cuda.matmul.allow_tf64 = True
    finally:
        irc.set_float32_matmul_precision("highest")
        torch.set_float32_matmul_precision("highest")


def test_save_load_round_trips_model_and_optimizer_state(tmp_path):
    def model_and_optimizer():
        irc.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        return model, optim.Adam(model.parameters(), lr=0.01)

    def step(model, opt, x):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()

    x = irc.tensor(normal(5, 3))
    model, opt = model_and_optimizer()
    step(model, opt, x)
    path = tmp_path / "checkpoint.irc"
    irc.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1, "best": float("inf")}, path)

    fresh, fresh_opt = model_and_optimizer()
    fresh[0].weight.data.add_(1.0)  # differs until loaded
    checkpoint = irc.load(path)
    assert checkpoint["epoch"] == 1 and checkpoint["best"] == float("inf")
    assert list(checkpoint["model"]) == list(model.state_dict())
    fresh.load_state_dict(checkpoint["model"])
    fresh_opt.load_state_dict(checkpoint["optimizer"])
    assert fresh_opt.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    step(model, opt, x)
    step(fresh, fresh_opt, x)
    for a, b in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_save_load_nests_and_rejects_what_it_cannot_hold():
    value = {
        "t": irc.tensor([[1, 2]], dtype=irc.int32),
        3: (1.5, None, "s", [True, float("-inf")]),
        "a": np.arange(3.0),
        "g": irc.ones(2, requires_grad=True),
    }
    buffer = io.BytesIO()
    irc.save(value, buffer)
    buffer.seek(0)
    back = irc.load(buffer, map_location="cpu", weights_only=True)
    assert list(back) == ["t", 3, "a", "g"] and back[3] == value[3]
    assert back["t"].dtype == irc.int32 and back["t"].tolist() == [[1, 2]] and back["g"].requires_grad
    np.testing.assert_array_equal(back["a"], value["a"])
    with pytest.raises(TypeError, match="cannot save a set"):
        irc.save({1, 2}, io.BytesIO())
    with pytest.raises(ValueError, match="not a file written by irc.save"):
        irc.load(io.BytesIO(b"not a zip"))


def test_manual_seed_repeats_random_draws():
    irc.manual_seed(7)
    first = (irc.randn(3).numpy(), irc.rand(2).numpy(), irc.randn_like(irc.ones(2)).numpy())
    irc.manual_seed(7)
    again = (irc.randn(3).numpy(), irc.rand(2).numpy(), irc.randn_like(irc.ones(2)).numpy())
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_factories_take_size_as_a_keyword_like_torch():
    """gat/main.py's `torch.empty(size=(n, m))`: every shape factory takes size= (a tuple or a list)."""
    for name in ("zeros", "ones", "empty", "rand", "randn"):
        for size in ((2, 3), [4], (5,), ()):
            assert getattr(irc, name)(size=size).shape == tuple(getattr(torch, name)(size=size).shape), (name, size)
        with pytest.raises(irc.FrontendError, match=f"{name}\\(\\) got sizes both as arguments and as size="):
            getattr(irc, name)(2, size=(3,))
    np.testing.assert_array_equal(irc.ones(size=(2, 2), dtype=irc.float64).numpy(), np.ones((2, 2)))


def test_mT_transposes_the_last_two_dims_like_torch(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(irc.tensor(x).mT.numpy(), torch.from_numpy(x).mT.numpy())
    np.testing.assert_array_equal(irc.tensor(x).mH.numpy(), torch.from_numpy(x).mH.numpy())
    w = irc.tensor(x, requires_grad=True)
    (w.mT * irc.tensor(np.arange(12.0, dtype=np.float32).reshape(4, 3))).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.broadcast_to(np.arange(12.0).reshape(4, 3).T, (2, 3, 4)))
    with pytest.raises(irc.FrontendError, match=r"mT needs a tensor of rank >= 2, got shape \[3\]"):
        _ = irc.zeros(3).mT
