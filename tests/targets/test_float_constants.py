"""Float constants reach GPU code exactly (irc.targets.tir.float_const).

TVM's OpenCL code generator prints floats with 7 significant digits and its CUDA one prints float64 with
15 digits after the point, so a float64 program on OpenCL computed `x * 0.1234567890123456789 + 1 / 3`
4.4e-8 off (numpy: 6e-17), and `1e-20` was 0 in CUDA code. Constants that would print rounded go in as
their bits, reinterpreted; the others stay readable literals."""

import shutil

import numpy as np
import pytest
from tvm import tirx

import irc
from irc.targets.tir import float_const
from tests.targets.test_opencl import _has_platform

CUDA = {"kind": "cuda", "arch": "sm_90"}
C1, C2, TINY = 0.1234567890123456789, 1.0 / 3.0, 1e-20


def program(x):
    return x * C1 + C2, x * TINY


@pytest.mark.parametrize(
    "dtype, value, exact",
    [
        ("float64", 0.5, True),
        ("float64", 0.1, True),
        ("float64", 1e-5, True),
        ("float64", 1e20, True),
        ("float64", 1.0 / 3.0, False),
        ("float64", 1e-20, False),  # 15 digits after the point: 0.000000000000000
        ("float32", 0.1, True),
        ("float32", float(np.float32(1.0 / 3.0)), False),  # 3.333333e-01f is another float
        ("float32", 1e-20, True),
        ("float64", float("inf"), True),
    ],
)
def test_constants_that_would_print_rounded_become_their_bits(dtype, value, exact):
    const = float_const(dtype, value)
    assert isinstance(const, tirx.FloatImm) == exact
    if not exact:
        bits = const.args[0].value
        want = np.array(value, dtype).view(np.int64 if dtype == "float64" else np.uint32)
        assert bits == int(want)


def test_float64_constants_are_exact_in_opencl_code():
    if not _has_platform():
        pytest.skip("no OpenCL platform")
    x = np.linspace(-3, 3, 1001)
    y, tiny = (np.asarray(v) for v in irc.jit(program, target="opencl")(x))
    np.testing.assert_allclose(y, x * C1 + C2, rtol=0, atol=4e-16)  # was 4.4e-8
    np.testing.assert_allclose(tiny, x * TINY, rtol=1e-15, atol=0)


def test_a_float32_constant_is_the_same_float_in_opencl_code():
    if not _has_platform():
        pytest.skip("no OpenCL platform")
    third = np.float32(1.0 / 3.0)
    x = np.arange(1, 257, dtype=np.float32)
    (got,) = irc.jit(lambda v: (v * float(third),), target="opencl")(x)
    np.testing.assert_array_equal(np.asarray(got), x * third)


def test_cuda_code_holds_the_bits_of_a_float64_constant_it_would_print_as_zero():
    source = irc.jit(program, target=CUDA).lower(np.zeros(8)).compiled.source
    bits = str(int(np.array(TINY).view(np.int64)))
    assert bits in source and "0.000000000000000" not in source
    if shutil.which("nvcc"):
        from irc.targets.cuda import nvcc_cubin

        assert nvcc_cubin(source, "sm_90", "nvcc")[:4] == b"\x7fELF"
