"""Bool and integer arithmetic, `//` and the bitwise operators, compiled (eager and irc.jit, for
llvm and opencl), against PyTorch 2.13: the same Python function runs on irc and torch tensors."""

import numpy as np
import pytest

import irc
from irc.frontend.realize import realize_all

torch = pytest.importorskip("torch")

BOOLS = ([True, False, True, False], [True, True, False, False])
INTS = ([7, -7, 7, -7, 0, 9], [2, 2, -2, -2, 5, -4])
FLOATS = (
    [7.0, -7.0, 1.0, -1.0, 5.0, -5.0, 0.0, -0.0, 2.5, 3.0, -1e-3, 9.75],
    [2.0, 2.0, 0.1, 0.1, 0.0, 0.0, 0.0, 3.0, -0.5, np.inf, 7.0, -2.5],
)


def program(p, q, i, j, x, y):
    """Every promotion rule and new op of this issue, one output each."""
    return (
        p + q, p * q, p & q, p | q, p ^ q, ~p, p == q, p < q, p.maximum(q), p.minimum(q),
        p.sum(), p.amax(), p + 2, p * 2.5, p | 6,
        i // j, i & j, i | j, i ^ j, ~i, i + p[0], i * 2.5, 7 // j, i // -3, i.int() + p[1],
        x // y, x.double() // y.double(), x // 2, 5 // y[:2], i[:2] // x[:2], x * p[0],
    )  # fmt: skip


def arguments(module):
    def make(values, dtype):
        return module.tensor(np.array(values, dtype=dtype))

    return [make(BOOLS[0], bool), make(BOOLS[1], bool), make(INTS[0], np.int64), make(INTS[1], np.int64),
            make(FLOATS[0], np.float32), make(FLOATS[1], np.float32)]  # fmt: skip


def assert_matches_torch(outputs):
    expected = program(*arguments(torch))
    assert len(outputs) == len(expected)
    for k, (got, want) in enumerate(zip(outputs, expected)):
        got, want = np.asarray(got), want.numpy()
        assert got.dtype == want.dtype, f"output {k}: {got.dtype}, torch {want.dtype}"
        np.testing.assert_array_equal(got, want, err_msg=f"output {k}")
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=f"output {k} (sign of zero)")


def test_eager_compiled_matches_torch():
    outputs = program(*arguments(irc))
    realize_all([t._node for t in outputs])  # one compiled program
    assert_matches_torch([t.numpy() for t in outputs])


def _has_opencl() -> bool:
    try:
        import pyopencl

        return any(p.get_devices() for p in pyopencl.get_platforms())
    except Exception:  # noqa: BLE001 - no pyopencl, or no platform
        return False


@pytest.mark.parametrize(
    "target",
    ["llvm", pytest.param("opencl", marks=pytest.mark.skipif(not _has_opencl(), reason="no OpenCL platform"))],
)
def test_jit_matches_torch(target):
    outputs = irc.jit(program, target=target)(*(t.numpy() for t in arguments(irc)))
    assert_matches_torch([t.numpy() for t in outputs])


def test_the_issue_example():
    assert (irc.tensor([True, False]) + irc.tensor([True, True])).tolist() == [True, True]


def test_jit_integer_floor_divide_by_zero_does_not_trap():
    """Inside irc.jit the divisor is unknown when tracing: the compiled code gives x // 0 == x (like hl.div)."""
    f = irc.jit(lambda a, b: a // b)
    assert f(np.array([5, -6, 7]), np.array([0, 4, 0])).tolist() == [5, -2, 7]


def test_jit_gradient_of_floor_divide_is_zero():
    grad = irc.jit(irc.grad(lambda a, b: (a // b + a * b).sum(), argnums=(0, 1)))
    a, b = np.array([3.0, -4.5, 7.25], np.float32), np.array([2.0, 2.0, -0.5], np.float32)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (torch.floor(ta / tb) + ta * tb).sum().backward()  # torch 2.13 has no floor_divide derivative
    da, db = grad(a, b)
    np.testing.assert_allclose(da.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(db.numpy(), tb.grad.numpy())
