"""Every `math` op the TIR translation takes builds and runs on OpenCL (f32 and f64) against numpy.

TVM lowers some intrinsics to C's float32 names (`log1pf`, `tanf`, `atan2f`, `copysignf`), which
OpenCL C lacks (its functions are overloaded); irc.targets.opencl.codegen lowers them to the
overloaded names. softplus is the hl op that reaches `log1p`.
"""

import math

import numpy as np
import pytest

import irc
from irc.ir import parse_module
from irc.targets import compile_loops
from tests.targets.loops_modules import func, parallel
from tests.targets.test_opencl import pytestmark  # noqa: F401 - skipped without an OpenCL platform

UNARY = {
    "exp": np.exp,
    "exp2": np.exp2,
    "expm1": np.expm1,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x),
    "tanh": np.tanh,
    "erf": np.vectorize(math.erf),
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "atan": np.arctan,
    "absf": np.abs,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,  # no input is halfway between two integers
    "roundeven": np.round,
    "trunc": np.trunc,
}
# the inverse trig and hyperbolic functions (issue 12; nan outside their domains, as numpy)
UNARY.update(
    asin=np.arcsin, acos=np.arccos, sinh=np.sinh, cosh=np.cosh, asinh=np.arcsinh, acosh=np.arccosh, atanh=np.arctanh
)
BINARY = {"atan2": np.arctan2, "powf": np.power, "copysign": np.copysign}
DTYPES = {"f32": np.float32, "f64": np.float64}
N = 16


def _module(op: str, dtype: str) -> str:
    arity = 2 if op in BINARY else 1
    t = f"memref<{N}x{dtype}>"
    names = ["X", "Y"][:arity]
    loads = "".join(f"  %{n.lower()} = memref.load %{n}[%i] : {t}\n" for n in names)
    operands = ", ".join(f"%{n.lower()}" for n in names)
    body = parallel(["i"], [N], f"{loads}  %r = math.{op} {operands} : {dtype}\n  memref.store %r, %O[%i] : {t}")
    return func("f", ", ".join(f"%{n}: {t}" for n in [*names, "O"]), body, {N})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", [*UNARY, *BINARY])
def test_math_op_runs_on_opencl(op, dtype):
    x = np.linspace(0.1, 3.0, N, dtype=DTYPES[dtype])
    args = [x, x[::-1].copy()] if op in BINARY else [x]
    (got,) = compile_loops(parse_module(_module(op, dtype)), "opencl")(*args)
    expected = {**UNARY, **BINARY}[op](*args).astype(DTYPES[dtype])
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == "f32" else 1e-12)


def test_softplus_on_opencl():
    x = np.array([-100.0, -20.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 20.0, 100.0], np.float32)
    (got,) = irc.jit(lambda t: irc.nn.functional.softplus(t), target="opencl").lower(x).compiled(x)
    np.testing.assert_allclose(got, np.logaddexp(0, x), rtol=1e-6, atol=1e-40)  # exp(-100) is subnormal in f32
