"""Compiled loops-stage modules agree with numpy, the loops interpreter and the unscheduled build."""

import numpy as np
import pytest

from irc.interpreters.loops import run_stage
from irc.ir import parse_module
from irc.targets import compile_loops
from tests.targets.loops_modules import for_, func, matmul, parallel, relu_fma

F32 = "f32"


def _check(text: str, inputs: list[np.ndarray], expected: list[np.ndarray], rtol=1e-5, atol=1e-5, interpret=True):
    """Scheduled build == unscheduled build == numpy oracle == loops interpreter."""
    module = parse_module(text)
    scheduled = compile_loops(module)(*inputs)
    plain = compile_loops(module, schedule=False)(*inputs)
    interpreted = run_stage(module, inputs) if interpret else expected
    for got, ref, plain_out, interp in zip(scheduled, expected, plain, interpreted, strict=True):
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)
        np.testing.assert_allclose(plain_out, ref, rtol=rtol, atol=atol)
        np.testing.assert_allclose(interp, ref, rtol=rtol, atol=atol)


def test_matmul(rng):
    a, b = rng.standard_normal((24, 20), np.float32), rng.standard_normal((20, 32), np.float32)
    _check(matmul(24, 20, 32), [a, b], [a @ b], rtol=1e-4, atol=1e-4)


def test_matmul_odd_sizes(rng):
    a, b = rng.standard_normal((13, 7), np.float32), rng.standard_normal((7, 5), np.float32)
    _check(matmul(13, 7, 5), [a, b], [a @ b], rtol=1e-4, atol=1e-4)


def test_elementwise_chain_large_is_parallel_and_correct(rng):
    x, y = rng.standard_normal(1 << 16, np.float32), rng.standard_normal(1 << 16, np.float32)
    text = relu_fma(1 << 16)
    _check(text, [x, y], [np.maximum(x * y + x, 0)])
    assert "T.parallel" in compile_loops(parse_module(text)).tir_text


def test_broadcast_chain(rng):
    x, bias = rng.standard_normal((4, 8), np.float32), rng.standard_normal(8, np.float32)
    body = parallel(
        ["i", "j"],
        [4, 8],
        """  %x = memref.load %X[%i, %j] : memref<4x8xf32>
  %b = memref.load %B[%j] : memref<8xf32>
  %e = math.exp %x : f32
  %t = math.tanh %b : f32
  %s = arith.addf %e, %t : f32
  %q = arith.divf %s, %x : f32
  %n = arith.negf %q : f32
  %m = arith.minnumf %n, %x : f32
  %r = math.erf %m : f32
  memref.store %r, %O[%i, %j] : memref<4x8xf32>""",
    )
    text = func("chain", "%X: memref<4x8xf32>, %B: memref<8xf32>, %O: memref<4x8xf32>", body, {4, 8})
    import math

    ref = np.vectorize(math.erf)(np.minimum(-((np.exp(x) + np.tanh(bias)) / x), x)).astype(np.float32)
    _check(text, [x, bias], [ref], rtol=1e-4, atol=1e-5)


def _sum_text(axis: int) -> str:
    """Sum of a 6x5 memref over `axis`, with its fill nest."""
    out = 5 if axis == 0 else 6
    load = "%X[%r, %s]" if axis == 0 else "%X[%s, %r]"
    fill = parallel(["s"], [out], f"  memref.store %zero, %O[%s] : memref<{out}xf32>")
    update = for_(
        "r",
        6 if axis == 0 else 5,
        f"""  %x = memref.load {load} : memref<6x5xf32>
  %acc = memref.load %O[%s] : memref<{out}xf32>
  %v = arith.addf %acc, %x : f32
  memref.store %v, %O[%s] : memref<{out}xf32>""",
    )
    body = f"  %zero = arith.constant 0.0 : f32\n{fill}\n{parallel(['s'], [out], update)}"
    return func("sum", f"%X: memref<6x5xf32>, %O: memref<{out}xf32>", body, {5, 6})


@pytest.mark.parametrize("axis", [0, 1])
def test_fill_and_reduction(rng, axis):
    x = rng.standard_normal((6, 5), np.float32)
    _check(_sum_text(axis), [x], [x.sum(axis)])


def test_scalar_reduction(rng):
    """A rank-0 output: a top-level store as fill, then an scf.for nest with no scf.parallel."""
    x = rng.standard_normal((6, 5), np.float32)
    update = for_(
        "i",
        6,
        for_(
            "j",
            5,
            """  %x = memref.load %X[%i, %j] : memref<6x5xf32>
  %acc = memref.load %O[] : memref<f32>
  %m = arith.maximumf %acc, %x : f32
  memref.store %m, %O[] : memref<f32>""",
        ),
    )
    body = f"  %ninf = arith.constant -1.0e+30 : f32\n  memref.store %ninf, %O[] : memref<f32>\n{update}"
    _check(func("amax", "%X: memref<6x5xf32>, %O: memref<f32>", body, {5, 6}), [x], [np.array(x.max())])


def test_transpose(rng):
    x = rng.standard_normal((3, 7), np.float32)
    body = parallel(
        ["j", "i"],
        [7, 3],
        """  %x = memref.load %X[%i, %j] : memref<3x7xf32>
  memref.store %x, %O[%j, %i] : memref<7x3xf32>""",
    )
    _check(func("t", "%X: memref<3x7xf32>, %O: memref<7x3xf32>", body, {3, 7}), [x], [x.T])


def test_reshape_views(rng):
    """Collapse an input, expand the output: out (2x3x4) = collapse(x) (6x4) * 2, written through an expand."""
    x = rng.standard_normal((2, 3, 4), np.float32)
    body = parallel(
        ["i", "j"],
        [6, 4],
        """  %x = memref.load %V[%i, %j] : memref<6x4xf32>
  %y = arith.mulf %x, %two : f32
  memref.store %y, %W[%i, %j] : memref<6x4xf32>""",
    )
    views = """  %two = arith.constant 2.0 : f32
  %V = memref.collapse_shape %X [[0, 1], [2]] : memref<2x3x4xf32> into memref<6x4xf32>
  %F = memref.collapse_shape %O [[0, 1, 2]] : memref<2x3x4xf32> into memref<24xf32>
  %W = memref.expand_shape %F [[0, 1]] output_shape [6, 4] : memref<24xf32> into memref<6x4xf32>"""
    text = func("reshape", "%X: memref<2x3x4xf32>, %O: memref<2x3x4xf32>", f"{views}\n{body}", {4, 6})
    _check(text, [x], [x * 2])


def test_subview_write(rng):
    """Pad: fill the output, then copy the input into a strided window of it."""
    x = rng.standard_normal((2, 5), np.float32)
    fill = parallel(["i", "j"], [4, 12], "  memref.store %zero, %O[%i, %j] : memref<4x12xf32>")
    copy = parallel(
        ["i", "j"],
        [2, 5],
        """  %x = memref.load %X[%i, %j] : memref<2x5xf32>
  memref.store %x, %S[%i, %j] : memref<2x5xf32, strided<[24, 2], offset: 14>>""",
    )
    body = f"""  %zero = arith.constant 0.0 : f32
  %S = memref.subview %O[1, 2] [2, 5] [2, 2] : memref<4x12xf32> to memref<2x5xf32, strided<[24, 2], offset: 14>>
{fill}
{copy}"""
    ref = np.zeros((4, 12), np.float32)
    ref[1:5:2, 2:12:2] = x
    _check(func("pad", "%X: memref<2x5xf32>, %O: memref<4x12xf32>", body, {2, 4, 5, 12}), [x], [ref])


def test_alloc_and_global(rng):
    """An intermediate alloc and a memref.global constant."""
    x = rng.standard_normal((2, 3), np.float32)
    w = np.array([[1.5, -2.0, 0.25], [3.0, 0.5, -1.0]], np.float32)
    first = parallel(
        ["i", "j"],
        [2, 3],
        """  %x = memref.load %X[%i, %j] : memref<2x3xf32>
  %w = memref.load %W[%i, %j] : memref<2x3xf32>
  %p = arith.mulf %x, %w : f32
  memref.store %p, %T[%i, %j] : memref<2x3xf32>""",
    )
    second = parallel(
        ["i", "j"],
        [2, 3],
        """  %t = memref.load %T[%i, %j] : memref<2x3xf32>
  %e = math.exp %t : f32
  memref.store %e, %O[%i, %j] : memref<2x3xf32>""",
    )
    body = f"""  %T = memref.alloc() {{alignment = 64 : i64}} : memref<2x3xf32>
  %W = memref.get_global @weights : memref<2x3xf32>
{first}
{second}
  memref.dealloc %T : memref<2x3xf32>"""
    globals_ = (
        '"memref.global"() <{sym_name = "weights", sym_visibility = "private", type = memref<2x3xf32>, '
        "initial_value = dense<[[1.5, -2.0, 0.25], [3.0, 0.5, -1.0]]> : tensor<2x3xf32>, constant}> : () -> ()"
    )
    text = func("f", "%X: memref<2x3xf32>, %O: memref<2x3xf32>", body, {2, 3}, globals_=globals_)
    # interpret=False: run_stage reshapes multi-dimensional memref.global data wrongly (as of this commit)
    _check(text, [x], [np.exp(x * w)], interpret=False)


def test_argmax_two_outputs(rng):
    """One nest storing two outputs: the second store must see the loads from before the first."""
    x = rng.standard_normal((4, 6), np.float32)
    fill = parallel(
        ["i"],
        [4],
        """  memref.store %ninf, %V[%i] : memref<4xf32>
  memref.store %zero, %I[%i] : memref<4xi64>""",
    )
    update = for_(
        "j",
        6,
        """  %x = memref.load %X[%i, %j] : memref<4x6xf32>
  %v = memref.load %V[%i] : memref<4xf32>
  %k = memref.load %I[%i] : memref<4xi64>
  %gt = arith.cmpf ogt, %x, %v : f32
  %nv = arith.select %gt, %x, %v : f32
  %jj = arith.index_cast %j : index to i64
  %nk = arith.select %gt, %jj, %k : i64
  memref.store %nv, %V[%i] : memref<4xf32>
  memref.store %nk, %I[%i] : memref<4xi64>""",
    )
    body = f"""  %ninf = arith.constant -1.0e+30 : f32
  %zero = arith.constant 0 : i64
{fill}
{parallel(["i"], [4], update)}"""
    text = func("argmax", "%X: memref<4x6xf32>, %V: memref<4xf32>, %I: memref<4xi64>", body, {4, 6}, 2)
    _check(text, [x], [x.max(1), x.argmax(1).astype(np.int64)])


def test_integer_and_cast_ops(rng):
    x = rng.integers(-5, 5, (3, 4)).astype(np.int32)
    body = parallel(
        ["i", "j"],
        [3, 4],
        """  %x = memref.load %X[%i, %j] : memref<3x4xi32>
  %c2 = arith.constant 2 : i32
  %m = arith.muli %x, %c2 : i32
  %d = arith.divsi %m, %c3i : i32
  %lt = arith.cmpi slt, %d, %c2 : i32
  %mx = arith.maxsi %d, %x : i32
  %s = arith.select %lt, %mx, %d : i32
  %f = arith.sitofp %s : i32 to f32
  %h = arith.mulf %f, %half : f32
  memref.store %h, %O[%i, %j] : memref<3x4xf32>""",
    )
    consts = "  %c3i = arith.constant 3 : i32\n  %half = arith.constant 0.5 : f32"
    text = func("ints", "%X: memref<3x4xi32>, %O: memref<3x4xf32>", f"{consts}\n{body}", {3, 4})
    d = np.trunc(x * 2 / 3).astype(np.int32)
    ref = (np.where(d < 2, np.maximum(d, x), d) * 0.5).astype(np.float32)
    _check(text, [x], [ref])


def test_misaligned_and_noncontiguous_inputs(rng):
    compiled = compile_loops(parse_module(matmul(16, 8, 32)))
    a = rng.standard_normal((8, 16), np.float32).T  # not C-contiguous
    raw = np.empty(8 * 32 + 1, np.float32)[1:]  # data 4 bytes past an aligned address
    b = raw.reshape(8, 32)
    b[...] = rng.standard_normal((8, 32), np.float32)
    assert b.ctypes.data % 64 != 0
    (c,) = compiled(a, b)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
    assert c.ctypes.data % 64 == 0


def test_bad_inputs_name_the_function():
    compiled = compile_loops(parse_module(matmul(4, 4, 4)))
    with pytest.raises(ValueError, match=r"matmul: input 1 has shape \(3, 4\), expected \(4, 4\)"):
        compiled(np.zeros((4, 4), np.float32), np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match="takes 2 inputs"):
        compiled(np.zeros((4, 4), np.float32))


def test_stage_texts():
    compiled = compile_loops(parse_module(matmul(8, 8, 16)))
    assert "T.prim_func" in compiled.tir_text and "T.sblock" in compiled.tir_text
    assert compiled.source_ext == "ll" and "define" in compiled.source


def _bits_module(bitcast: bool) -> str:
    store = (
        "  %f = arith.bitcast %d : i32 to f32\n  memref.store %f, %O[%i] : memref<8xf32>"
        if bitcast
        else "  memref.store %d, %O[%i] : memref<8xi32>"
    )
    body = parallel(
        ["i"],
        [8],
        f"""  %x = memref.load %X[%i] : memref<8xi32>
  %a = arith.shrui %x, %s : i32
  %b = arith.remui %x, %m : i32
  %c = arith.xori %a, %b : i32
  %d = arith.maxui %c, %m : i32
{store}""",
    )
    consts = "  %s = arith.constant 3 : i32\n  %m = arith.constant 7 : i32"
    out = "f32" if bitcast else "i32"
    return func("bits", f"%X: memref<8xi32>, %O: memref<8x{out}>", f"{consts}\n{body}", {8})


def test_unsigned_and_bit_ops():
    """shrui / remui / maxui (the dropout RNG's hash) reinterpret as unsigned; bitcast keeps the bits."""
    x = np.array([-1, -8, 5, 100, -123456, 7, 0, 2**31 - 1], np.int32)
    u = x.view(np.uint32)
    ref = np.maximum((u >> 3) ^ (u % 7), 7).view(np.int32)
    _check(_bits_module(False), [x], [ref])
    module = parse_module(_bits_module(True))  # the loops interpreter has no arith.bitcast
    for (out,) in (compile_loops(module)(x), compile_loops(module, schedule=False)(x)):
        np.testing.assert_array_equal(out.view(np.int32), ref)
