"""The INPUT loader and irc.Spec: static shapes only, each refusal located in the user's file.

Oracles: the sizes and lines written in the test programs themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

import irc
from irc.driver.inputs import load_program
from irc.errors import FrontendError, IRCError


@pytest.mark.parametrize("shape", [(-4, 3), (2, -1), (2.5,), ("4",), 4])
def test_spec_refuses_bad_sizes_at_the_callers_line(shape):
    with pytest.raises(FrontendError, match=r"irc\.Spec: a shape is a tuple of non-negative integers") as info:
        irc.Spec(shape)
    assert info.value.location == (__file__, info.tb.tb_lineno)


def test_spec_keeps_valid_shapes():
    assert irc.Spec([0, 3]).shape == (0, 3)
    assert irc.Spec((np.int64(2),), "int32") == irc.Spec((2,), np.int32)
    assert irc.Spec.of(np.zeros((2, 5), np.float64)) == irc.Spec((2, 5), "float64")


@pytest.mark.parametrize(
    "signature, message",
    [
        ("(%x: tensor<4x?xf32>, %y: tensor<3xf32>) -> tensor<3xf32>", "dim 1 of %x"),
        ("(%x: tensor<3xf32>, %y: tensor<3xf32>) -> tensor<?xf32>", "dim 0 of result 0 of @f"),
    ],
)
def test_dynamic_dimensions_are_refused_with_their_location(signature, message, tmp_path):
    path = tmp_path / "dyn.mlir"
    path.write_text(f"func.func @f{signature} {{\n  func.return %y : tensor<3xf32>\n}}\n")
    with pytest.raises(IRCError) as info:
        load_program(str(path))
    assert str(info.value) == f"{path}:1:1: dynamic shapes are not supported ({message})"


def test_dynamic_result_of_an_op_names_the_op(tmp_path):
    path = tmp_path / "dyn.mlir"
    path.write_text(
        "func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
        "  %0 = hl.relu %x : (tensor<4xf32>) -> tensor<?xf32>\n"
        "  func.return %x : tensor<4xf32>\n"
        "}\n"
    )
    with pytest.raises(
        IRCError, match=rf"^{path}:2:3: dynamic shapes are not supported \(dim 0 of result 0 of hl.relu\)$"
    ):
        load_program(str(path))


def test_bad_spec_in_a_string_annotation_points_at_the_function(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(
        "from __future__ import annotations\n\nimport irc\n\n\ndef f(x: irc.Spec((3, -1))):\n    return x\n"
    )
    with pytest.raises(
        FrontendError, match=r"irc\.Spec: a shape is a tuple of non-negative integers, got \(3, -1\)"
    ) as info:
        load_program(str(path))
    assert info.value.location == (str(path), 6)
