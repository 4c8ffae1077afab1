"""dtype promotion, bool and integer arithmetic, `//` and the bitwise operators follow PyTorch:
every result (dtype and values) and every refusal is compared with torch 2.13.

The eager tensors here are realized by the hl numpy reference (see conftest.py); the compiled
code is compared in tests/e2e/test_dtypes_llvm.py.
"""

import operator

import numpy as np
import pytest

import irc
from irc.errors import FrontendError, InputError
from irc.runtime.dtypes import supported_dtype

torch = pytest.importorskip("torch")

VALUES = {
    "bool": [True, False, True],
    "int32": [3, 4, 1],
    "int64": [5, 2, 7],
    "float32": [1.5, 2.25, -0.5],
    "float64": [-3.0, 0.75, 2.0],
}
SCALARS = [True, 2, 2.5]
OPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "**": operator.pow,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
    "==": operator.eq,
    "<": operator.lt,
    "maximum": lambda a, b: a.maximum(b) if hasattr(a, "maximum") else torch.maximum(a, b),
}


def pair(dtype):
    """The same values as an irc and a torch tensor."""
    return irc.tensor(np.array(VALUES[dtype], dtype=dtype)), torch.tensor(np.array(VALUES[dtype], dtype=dtype))


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the kind of error differs (torch: RuntimeError, irc: FrontendError)
        return e


def assert_same(got, want, what):
    if isinstance(want, Exception):
        assert isinstance(got, Exception), f"{what}: torch raises {want!r}, irc gives {got!r}"
        return
    assert not isinstance(got, Exception), f"{what}: irc raises {got!r}, torch gives {want!r}"
    expected = want.numpy()
    value = got.numpy()
    assert value.dtype == expected.dtype, f"{what}: irc gives {value.dtype}, torch {expected.dtype}"
    np.testing.assert_allclose(value, expected, rtol=1e-6, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("lhs", VALUES)
@pytest.mark.parametrize("rhs", VALUES)
def test_tensor_tensor_promotion_matches_torch(op, lhs, rhs):
    (a, ta), (b, tb) = pair(lhs), pair(rhs)
    assert_same(outcome(lambda: OPS[op](a, b)), outcome(lambda: OPS[op](ta, tb)), f"{lhs} {op} {rhs}")


@pytest.mark.parametrize("op", [op for op in OPS if op != "maximum"])
@pytest.mark.parametrize("dtype", VALUES)
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
def test_tensor_scalar_promotion_matches_torch(op, dtype, scalar):
    """A Python scalar keeps the tensor's dtype unless it is of a higher kind (bool < int < float)."""
    a, ta = pair(dtype)
    fn = OPS[op]
    assert_same(outcome(lambda: fn(a, scalar)), outcome(lambda: fn(ta, scalar)), f"{dtype} {op} {scalar!r}")
    assert_same(outcome(lambda: fn(scalar, a)), outcome(lambda: fn(scalar, ta)), f"{scalar!r} {op} {dtype}")


@pytest.mark.parametrize("name", ["pow", "add", "mul", "sub", "bitwise_and"])
@pytest.mark.parametrize("dtype", ["int32", "float32"])
@pytest.mark.parametrize("scalar", [2, 2.5], ids=repr)
def test_the_function_form_with_a_scalar_first_promotes_as_torch(name, dtype, scalar):
    """`irc.pow(2, t)`: the Python number is a scalar operand (int32 stays int32), not a 0-d int64 tensor.
    (irc accepts `irc.maximum(2, t)`, which torch refuses.)"""
    a, ta = pair(dtype)
    fn = lambda m, x: getattr(m, name)(scalar, x)  # noqa: E731
    assert_same(outcome(lambda: fn(irc, a)), outcome(lambda: fn(torch, ta)), f"{name}({scalar!r}, {dtype})")


@pytest.mark.parametrize("dtype", VALUES)
@pytest.mark.parametrize("op", ["neg", "abs", "relu", "invert", "sum", "prod", "amax", "mean", "exp"])
def test_unary_and_reductions_match_torch(op, dtype):
    a, ta = pair(dtype)
    fns = {"neg": operator.neg, "invert": operator.invert, "relu": lambda x: x.relu()}
    fn = fns.get(op, lambda x: getattr(x, op)())
    assert_same(outcome(lambda: fn(a)), outcome(lambda: fn(ta)), f"{op}({dtype})")


def test_bool_add_is_or_and_mul_is_and():
    """The issue's example: hl.add has no i1 lowering, so bool + is recorded as bitwise_or."""
    a, b = irc.tensor([True, False, False]), irc.tensor([True, True, False])
    assert (a + b).tolist() == torch.tensor([True, True, False]).add(torch.tensor([True, True, False])).tolist()
    assert (a + b).tolist() == [True, True, False] and (a * b).tolist() == [True, False, False]
    assert (a + b).dtype == irc.bool_ and (a * b).dtype == irc.bool_


@pytest.mark.parametrize("a, b", [(1, 0), (1.5, 0), (True, False), (2, 0.5)], ids=str)
def test_where_with_scalars_matches_torch(a, b):
    mask = [True, False, True]
    want = torch.where(torch.tensor(mask), a, b)
    assert_same(irc.where(irc.tensor(mask), a, b), want, f"where(mask, {a!r}, {b!r})")


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda b, x: b - b, r"subtraction, the `-` operator, with a bool tensor is not supported"),
        (lambda b, x: x - True, r"subtraction, the `-` operator, with a bool tensor"),
        (lambda b, x: -b, r"negation, the `-` operator, on a bool tensor is not supported; use `~`"),
        (lambda b, x: b // b, r"floor_divide \(`//`\) of two bool tensors is not supported"),
        (lambda b, x: x.float() & 1, r"bitwise_and needs integer or bool tensors, got float32 and float32"),
        (lambda b, x: ~x.double(), r"~ \(bitwise_not\) needs an integer or bool tensor, got float64"),
        (lambda b, x: x.mean(), r"mean\(\): could not infer output dtype. .* Got: Long"),
    ],
)
def test_refusals_name_the_op_and_dtype(fn, message):
    b, x = irc.tensor([True, False]), irc.tensor([1, 2])
    with pytest.raises(FrontendError, match=message) as info:
        fn(b, x)
    assert "test_dtypes.py" in str(info.value)  # the user's line


# ------------------------------------------------------------------ floor_divide


def test_floor_divide_rounds_like_torch():
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(200) * 10).astype(np.float32)
    b = rng.standard_normal(200).astype(np.float32)
    edge_a = np.array([7, -7, 7, -7, 1.0, -1.0, 5.0, -5.0, 0.0, -0.0, 0.0, np.inf, 3.0], np.float32)
    edge_b = np.array([2, 2, -2, -2, 0.1, 0.1, 0.0, 0.0, 0.0, 3.0, -3.0, 2.0, np.inf], np.float32)
    for x, y in [(a, b), (edge_a, edge_b), (edge_a.astype(np.float64), edge_b.astype(np.float64))]:
        got = (irc.tensor(x) // irc.tensor(y)).numpy()
        want = (torch.tensor(x) // torch.tensor(y)).numpy()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))  # -0.0 as torch
    ints = np.array([7, -7, 7, -7, 0, 9], np.int64), np.array([2, 2, -2, -2, 5, -4], np.int64)
    assert (irc.tensor(ints[0]) // irc.tensor(ints[1])).tolist() == (
        torch.tensor(ints[0]) // torch.tensor(ints[1])
    ).tolist()
    assert irc.floor_divide(irc.tensor([7, -7]), 2).tolist() == [3, -4]
    assert irc.tensor([7.5, -7.5]).floor_divide(2).tolist() == [3.0, -4.0]
    assert (7 // irc.tensor([2, -2])).tolist() == (7 // torch.tensor([2, -2])).tolist() == [3, -4]


@pytest.mark.parametrize("divisor", [0, [1, 0, 2]], ids=["scalar", "tensor"])
def test_integer_floor_divide_by_zero_raises(divisor):
    x = irc.tensor([4, 5, 6])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([4, 5, 6]) // (divisor if isinstance(divisor, int) else torch.tensor(divisor))
    with pytest.raises(ZeroDivisionError, match=r"test_dtypes.py:\d+: floor_divide \(`//`\): integer division by zero"):
        x // (divisor if isinstance(divisor, int) else irc.tensor(divisor))


def test_floor_divide_gradient_is_zero():
    """torch 2.13 has no derivative for floor_divide; irc's is zero, like torch's for floor(x / y)."""
    x, y = irc.tensor([3.0, -4.5, 7.25], requires_grad=True), irc.tensor([2.0, 2.0, -0.5], requires_grad=True)
    tx, ty = (torch.tensor(v.numpy(), requires_grad=True) for v in (x, y))
    (x // y * 3 + x * y).sum().backward()
    (torch.floor(tx / ty) * 3 + tx * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
    gx, gy = irc.grad(lambda a, b: (a // b).sum(), argnums=(0, 1))(x.detach(), y.detach())
    assert gx.tolist() == gy.tolist() == [0.0, 0.0, 0.0]


def test_gradients_through_bool_and_int_operands_match_torch():
    x = irc.tensor([1.5, -2.0, 0.5], requires_grad=True)
    tx = torch.tensor([1.5, -2.0, 0.5], requires_grad=True)
    mask, tmask = irc.tensor([True, False, True]), torch.tensor([True, False, True])
    ints, tints = irc.tensor([2, 3, 4]), torch.tensor([2, 3, 4])
    (x * mask + x * ints * 2 + (x + True) ** 2).sum().backward()
    (tx * tmask + tx * tints * 2 + (tx + True) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


# ------------------------------------------------------------------ unsupported dtypes, ragged lists


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "uint32"])
def test_unsupported_numpy_dtypes_are_refused(dtype):
    supported = "supported: float32, float64, float16, bfloat16, int32, int64, bool"
    array = np.zeros(3, dtype)
    assert torch.tensor(array).dtype != torch.float32  # torch keeps the dtype; irc refuses instead of converting
    with pytest.raises(TypeError, match=f"irc.tensor: dtype {dtype} is not supported \\({supported}\\)"):
        irc.tensor(array)
    with pytest.raises(TypeError, match=f"irc.tensor: dtype {dtype} is not supported"):
        irc.tensor(array[0])
    with pytest.raises(TypeError, match=f"irc.from_numpy: dtype {dtype} is not supported"):
        irc.from_numpy(array)
    with pytest.raises(TypeError, match=f"irc.jit input: dtype {dtype} is not supported"):
        irc.jit(lambda v: v * 2)(array)
    with pytest.raises(InputError, match=f"--input x: f.npy: dtype {dtype} is not supported"):
        supported_dtype(array.dtype, "--input x: f.npy", InputError)
    assert irc.tensor(array, dtype="float32").dtype == irc.float32  # an explicit conversion is fine


def test_cli_input_file_with_unsupported_dtype(tmp_path):
    from irc.driver.arrays import load_input_arrays
    from irc.runtime.spec import Spec

    np.save(tmp_path / "x.npy", np.zeros((2,), np.int8))
    spec = Spec((2,), np.float32, "x")
    with pytest.raises(InputError, match=r"--input x: .*x.npy: dtype int8 is not supported \(supported: float32"):
        load_input_arrays([spec], [f"x={tmp_path / 'x.npy'}"])


@pytest.mark.parametrize(
    "data",
    [[[1, 2], [3, 4, 5]], [[[1, 2], [3, 4]], [[1, 2], [3]]], [[1, 2], []], [[1.0], [2.0, 3.0], [4.0]]],
    ids=["dim1", "dim2", "empty", "floats"],
)
def test_ragged_nested_list_gives_torchs_message(data):
    with pytest.raises(ValueError) as torch_error:
        torch.tensor(data)
    with pytest.raises(ValueError) as irc_error:
        irc.tensor(data)
    assert str(irc_error.value) == f"irc.tensor: {torch_error.value}"


def test_ragged_mix_of_numbers_and_lists():
    with pytest.raises(ValueError, match=r"irc.tensor: expected sequence of length 2 at dim 1 \(got int\)"):
        irc.tensor([[1, 2], 3])
    with pytest.raises(ValueError, match=r"irc.tensor: expected a number at dim 1 \(got a sequence of length 2\)"):
        irc.tensor([1, [2, 3]])
