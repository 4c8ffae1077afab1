"""irc's one spec type (irc.runtime.spec.Spec): packages, `irc run` and `irc.Spec` share it."""

import subprocess
import sys

import numpy as np
import pytest

import irc
from irc.runtime.spec import Spec


def test_spec_fields_text_and_manifest_form():
    spec = Spec([2, np.int64(3)], np.int32, "x")
    assert (spec.shape, spec.dtype, spec.name) == ((2, 3), np.dtype(np.int32), "x")
    assert str(spec) == "x: int32[2, 3]" and repr(spec) == "Spec((2, 3), 'int32', name='x')"
    assert spec.to_json() == {"name": "x", "shape": [2, 3], "dtype": "int32"}
    assert Spec.from_json(spec.to_json()) == spec
    assert str(Spec((4,))) == "float32[4]" and Spec.of(np.zeros((1, 2), bool)) == Spec((1, 2), "bool")


def test_spec_refusals():
    with pytest.raises(ValueError, match="a shape is a tuple of non-negative integers"):
        Spec((2, -1))
    with pytest.raises(TypeError, match="dtype int8 is not supported"):
        Spec((2,), np.int8)


def test_frontend_spec_is_the_runtime_spec():
    spec = irc.Spec((3, 4), "float64")
    assert isinstance(spec, Spec) and spec.name is None
    assert spec.random(np.random.default_rng(0)).shape == (3, 4)
    assert str(spec.type) == "tensor<3x4xf64>"


def test_runtime_spec_imports_no_compiler():
    code = "import sys, irc.runtime.spec; print(any(m.startswith(('xdsl', 'tvm')) for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
