"""Structure of the loops -> TIR translation: blocks, iterators, init merging, errors."""

import numpy as np
import pytest

from irc.ir import parse_module
from irc.targets.compile import compile_loops
from irc.targets.tir import TranslationError, translate_module
from tests.targets.loops_modules import func, matmul, parallel, relu_fma


def test_matmul_is_one_reduction_block_with_init():
    (translated,) = translate_module(parse_module(matmul(8, 4, 16)))
    text = translated.prim_func.script()
    assert text.count("T.sblock(") == 2  # root + the merged fill/update block
    assert 'T.axis.remap("SSR"' in text and "T.init()" in text
    assert translated.num_outputs == 1
    assert translated.arg_types == [((8, 4), "float32"), ((4, 16), "float32"), ((8, 16), "float32")]


def test_elementwise_is_one_spatial_block_with_unaligned_params():
    (translated,) = translate_module(parse_module(relu_fma(64)))
    text = translated.prim_func.script()
    assert "T.axis.spatial(64" in text or 'T.axis.remap("S"' in text
    assert "align=4, offset_factor=1" in text


def test_nest_with_two_loops_at_one_level_is_rejected():
    body = parallel(
        ["i"],
        [4],
        """  scf.for %a = %c0 to %c4 step %c1 {
    memref.store %z, %O[%i] : memref<4xf32>
  }
  scf.for %b = %c0 to %c4 step %c1 {
    memref.store %z, %O[%i] : memref<4xf32>
  }""",
    )
    text = func("bad", "%O: memref<4xf32>", f"  %z = arith.constant 0.0 : f32\n{body}", {4})
    with pytest.raises(TranslationError, match="not a perfect loop nest"):
        translate_module(parse_module(text))


def test_unknown_op_is_named():
    body = parallel(
        ["i"],
        [4],
        """  %x = memref.load %X[%i] : memref<4xf32>
  %y = math.fpowi %x, %n : f32, i32
  memref.store %y, %O[%i] : memref<4xf32>""",
    )
    text = func("f", "%X: memref<4xf32>, %O: memref<4xf32>", f"  %n = arith.constant 2 : i32\n{body}", {4})
    with pytest.raises(TranslationError, match="math.fpowi has no TIR translation"):
        translate_module(parse_module(text))


def test_reduction_over_no_iterations_keeps_only_its_init():
    # a zero-extent reduce loop (matmul with k = 0): the fill nest alone remains, so the output is zeros
    (translated,) = translate_module(parse_module(matmul(8, 0, 16)))
    text = translated.prim_func.script()
    assert text.count("T.sblock(") == 2 and "T.init()" not in text  # root + the fill
    (out,) = compile_loops(parse_module(matmul(8, 0, 16)))(np.ones((8, 0), np.float32), np.ones((0, 16), np.float32))
    np.testing.assert_array_equal(out, np.zeros((8, 16), np.float32))


def test_zero_size_output_has_no_block():
    (translated,) = translate_module(parse_module(matmul(0, 4, 16)))
    assert translated.prim_func.script().count("T.sblock(") == 1  # the root alone
