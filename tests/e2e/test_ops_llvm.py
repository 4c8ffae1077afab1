"""Every hl op, compiled for `llvm`, equals the hl numpy reference.

Several shapes and dtypes per op, with broadcasting and size-1 dims.
"""

import numpy as np
import pytest

import irc
import irc.nn.functional as F
from tests.helpers import assert_matches_reference

rng = np.random.default_rng(42)


def arr(*shape, dtype=np.float32, positive=False, low=-3, high=4):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = rng.standard_normal(shape)
        return (np.abs(a) + 0.1 if positive else a).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(low, high, shape).astype(dt)


UNARY = ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sin", "cos", "erf"]
POSITIVE_ONLY = {"log", "sqrt", "rsqrt"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", UNARY)
def test_unary(op, dtype):
    x = arr(3, 1, 5, dtype=dtype, positive=op in POSITIVE_ONLY)
    assert_matches_reference(lambda a: getattr(a, op)(), [x])


@pytest.mark.parametrize("op", ["neg", "abs", "relu"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_unary_int(op, dtype):
    assert_matches_reference(lambda a: getattr(a, op)(), [arr(4, 3, dtype=dtype)])


@pytest.mark.parametrize(
    "src,dst",
    [("float32", "int32"), ("int64", "float32"), ("float32", "float64"), ("bool", "float32"), ("float64", "bool")],
)
def test_cast(src, dst):
    assert_matches_reference(lambda a: a.to(dst), [arr(2, 7, dtype=src)])


BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "floor_divide": np.floor_divide,
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
}
SHAPE_PAIRS = [((4, 5), (4, 5)), ((4, 5), (5,)), ((3, 1, 5), (1, 4, 1)), ((), (2, 3)), ((1,), (6, 1))]


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary_float(op, shapes):
    a, b = arr(*shapes[0], positive=op == "pow"), arr(*shapes[1], positive=op in ("div", "pow"))
    assert_matches_reference(lambda x, y: getattr(x, op)(y), [a, b])


@pytest.mark.parametrize(
    "op",
    ["add", "sub", "mul", "floor_divide", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"]
    + ["bitwise_left_shift", "bitwise_right_shift"],
)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_binary_int(op, dtype):
    high = 70 if "shift" in op else 4  # shift counts past the width too
    assert_matches_reference(lambda x, y: getattr(x, op)(y), [arr(3, 4, dtype=dtype), arr(4, dtype=dtype, high=high)])


@pytest.mark.parametrize(
    "op", ["add", "mul", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor", "eq", "lt", "ge"]
)
def test_binary_bool(op):
    assert_matches_reference(lambda x, y: getattr(x, op)(y), [arr(3, 4, dtype=bool), arr(4, dtype=bool)])


@pytest.mark.parametrize("dtype", [bool, np.int32, np.int64])
def test_bitwise_not(dtype):
    assert_matches_reference(lambda x: ~x, [arr(3, 4, dtype=dtype)])


def test_binary_f64_and_scalars():
    assert_matches_reference(lambda x: (x * 2.5 - 1.0) / 3.0, [arr(5, 2, dtype=np.float64)])


@pytest.mark.parametrize("pred", ["eq", "ne", "lt", "le", "gt", "ge"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_compare(pred, dtype):
    a, b = arr(4, 5, dtype=dtype, low=0, high=3), arr(5, dtype=dtype, low=0, high=3)
    assert_matches_reference(lambda x, y: getattr(x, pred)(y), [a, b])


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_select(dtype):
    assert_matches_reference(
        lambda c, x, y: irc.where(c, x, y), [arr(4, 1, dtype=bool), arr(4, 5, dtype=dtype), arr(5, dtype=dtype)]
    )


REDUCE_CASES = [
    ((4, 6), (1,), False),
    ((4, 6), (0,), True),
    ((2, 3, 5), (0, 2), False),
    ((2, 3, 5), (0, 1, 2), False),
    ((1, 7), (1,), True),
]


@pytest.mark.parametrize("case", REDUCE_CASES, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "prod"])
def test_reductions(op, case):
    shape, dims, keepdim = case
    x = arr(*shape) * (0.5 if op == "prod" else 1)
    assert_matches_reference(lambda a: getattr(a, op)(dims, keepdim), [x.astype(np.float32)])


@pytest.mark.parametrize("op", ["sum", "amax", "amin", "prod"])
def test_reductions_int(op):
    assert_matches_reference(lambda a: getattr(a, op)(1), [arr(3, 5, dtype=np.int64)])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
def test_arg_reductions(op, dim, keepdim):
    x = arr(5, 6, dtype=np.int32, low=0, high=3)  # ties: the first index wins
    assert_matches_reference(lambda a: getattr(a, op)(dim, keepdim), [x])
    assert_matches_reference(lambda a: getattr(a, op)(dim, keepdim), [arr(4, 7)])


def test_reshape_transpose_broadcast():
    x = arr(2, 3, 4)
    assert_matches_reference(lambda a: a.reshape(4, 6), [x])
    assert_matches_reference(lambda a: a.reshape(24), [x])
    assert_matches_reference(lambda a: a.reshape(3, 8) * 2, [x])
    assert_matches_reference(lambda a: a.permute(2, 0, 1), [x])
    assert_matches_reference(lambda a: a.transpose(0, 1) + 1.0, [x])
    assert_matches_reference(lambda a: a.unsqueeze(0).expand(5, 2, 3, 4), [x])
    assert_matches_reference(lambda a: a.broadcast_to((3, 2, 3, 4)), [x])
    assert_matches_reference(lambda a: a.flip(0, 2), [x])
    assert_matches_reference(lambda a: a.flip(1) * a, [x])  # fused with a consumer


def test_slices():
    x = arr(6, 7, 5)
    assert_matches_reference(lambda a: a[1:5], [x])
    assert_matches_reference(lambda a: a[:, 1:7:3, ::2], [x])
    assert_matches_reference(lambda a: a[2, :, -1], [x])
    assert_matches_reference(lambda a: a[1:3] * 2.0 + a[3:5], [x])


def test_gather_and_index_select():
    x, index = arr(5, 4, 3), arr(5, 6, 3, dtype=np.int64, low=0, high=4)
    assert_matches_reference(lambda a, i: a.gather(1, i), [x, index])
    assert_matches_reference(lambda a, i: a.exp().index_select(2, i) * 2.0, [x, arr(7, dtype=np.int32, low=0, high=3)])
    assert_matches_reference(lambda a, i: a.index_select(0, i).sum(0), [arr(4, 3, dtype=np.int64), index[0, :, 0]])


def test_scatter_and_index_add():
    x, src, index = arr(5, 4, 3), arr(5, 6, 3), arr(5, 6, 3, dtype=np.int64, low=0, high=4)
    assert_matches_reference(lambda a, s, i: a.scatter_add(1, i, s), [x, src, index])
    assert_matches_reference(lambda a, s, i: a.scatter_reduce(1, i, s.exp(), "amax"), [x, src, index])
    rows = arr(7, dtype=np.int64, low=0, high=4)  # one index row: the one-hot contraction
    assert_matches_reference(lambda a, s, i: a.index_add(1, i, s) * 2.0, [x, arr(5, 7, 3), rows])
    assert_matches_reference(
        lambda a, s, i: a.index_add(0, i, s), [arr(4, 3, dtype=np.int64), arr(7, 3, dtype=np.int64), rows]
    )


def test_concat_and_pad():
    a, b = arr(2, 3), arr(4, 3)
    assert_matches_reference(lambda x, y: irc.cat([x, y, x], 0), [a, b])
    assert_matches_reference(lambda x, y: irc.cat([x, x.exp()], 1), [a, b[:2]])
    assert_matches_reference(lambda x: F.pad(x, (1, 2, 0, 3), value=0.5), [a])
    assert_matches_reference(lambda x: F.pad(x, (2, 0)), [arr(3, 4, dtype=np.int64)])


@pytest.mark.parametrize(
    "shapes",
    [((5, 7), (7, 3)), ((1, 8), (8, 1)), ((3, 4, 5), (5, 2)), ((2, 1, 4, 5), (3, 5, 6)), ((16, 64), (64, 33))],
    ids=str,
)
def test_matmul(shapes):
    assert_matches_reference(lambda x, y: x @ y, [arr(*shapes[0]), arr(*shapes[1])], tol_scale=10)


def test_matmul_f64_and_fused_epilogue():
    assert_matches_reference(lambda x, y: x @ y, [arr(6, 5, dtype=np.float64), arr(5, 4, dtype=np.float64)])
    assert_matches_reference(lambda x, y, b: (x @ y + b).relu(), [arr(8, 16), arr(16, 12), arr(12)], tol_scale=10)


CONV_CASES = [
    dict(x=(2, 3, 8, 8), w=(4, 3, 3, 3)),
    dict(x=(1, 2, 7, 9), w=(3, 2, 3, 2), stride=2, padding=1),
    dict(x=(2, 4, 9, 9), w=(6, 2, 3, 3), padding=2, dilation=2, groups=2),
    dict(x=(1, 4, 5, 5), w=(4, 1, 3, 3), padding=1, groups=4),
    dict(x=(1, 3, 6, 6), w=(2, 3, 1, 1)),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_conv2d(case):
    attrs = {k: v for k, v in case.items() if k not in ("x", "w")}
    assert_matches_reference(lambda x, w: F.conv2d(x, w, **attrs), [arr(*case["x"]), arr(*case["w"])], tol_scale=10)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), (1, 0))])
def test_pooling(pool, kernel, stride, padding):
    assert_matches_reference(lambda x: getattr(F, pool)(x, kernel, stride, padding), [arr(2, 3, 7, 8)])


def test_creation_ops():
    assert_matches_reference(lambda x: x + irc.arange(5), [arr(3, 5)])
    assert_matches_reference(lambda x: x * irc.full((3, 1), 2.5), [arr(3, 5)])
    assert_matches_reference(lambda x: x + irc.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]]), [arr(3, 5)])
    assert_matches_reference(lambda x: x + irc.arange(0, 2.5, 0.5, dtype="float64"), [arr(5, dtype=np.float64)])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax(op, dim):
    assert_matches_reference(lambda x: getattr(x, op)(dim), [arr(4, 9) * 3])


def test_multiple_outputs_and_returned_input():
    assert_matches_reference(lambda x, y: (x + y, x, (x * y).sum()), [arr(3, 4), arr(3, 4)])


@pytest.mark.parametrize("example", ["mlp", "convnet"])
def test_examples(example):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "examples" / f"{example}.py"
    spec = importlib.util.spec_from_file_location(example, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, example)
    arrays = [s.random(rng) * np.float32(0.1) for s in irc.frontend.jit.example_inputs_of(fn)]
    assert_matches_reference(fn, arrays, tol_scale=10)


def test_values_with_several_uses_and_views_of_outputs():
    # regressions: a lowered first op used as an insertion anchor; an output behind a reshape view
    assert_matches_reference(lambda x, w: (x.exp() @ w, x.exp()), [arr(2, 3), arr(3, 7)])
    assert_matches_reference(lambda x, w: ((x @ w).reshape(1), x @ w), [arr(1, 1), arr(1, 1)])
    assert_matches_reference(lambda x, w: x + x @ w, [arr(1, 1), arr(1, 1)])


def test_softmax_of_a_scalar():
    assert_matches_reference(lambda x: x.softmax(0) + x.log_softmax(0), [arr()])


def test_rank0_constants_and_shape_ops():
    # np.ascontiguousarray turns 0-d arrays into 1-d ones: constants and shape ops must keep rank 0
    assert_matches_reference(lambda a: a * irc.tensor(3.0), [arr(2, 3)])
    assert_matches_reference(lambda a: a + irc.tensor(3), [arr(2, 3, dtype=np.int64)])
    assert_matches_reference(lambda a: a.permute() * a.broadcast_to(()), [arr()])
