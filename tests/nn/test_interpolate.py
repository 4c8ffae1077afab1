"""F.interpolate / nn.Upsample modes linear, bilinear, bicubic, trilinear and area (interpolation matrices
per spatial dim; nearest of 5-D input too), `scale_factor`, `recompute_scale_factor`, `align_corners`, and the upsample aliases,
against torch 2.13: values (1e-6; bicubic float32 1e-5), gradients, one llvm program."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
from tests.torch_compare import check_eager, check_jit, normal

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SHAPES = {"linear": (2, 3, 5), "bilinear": (2, 3, 5, 4), "bicubic": (2, 3, 5, 4), "trilinear": (1, 2, 3, 4, 5),
          "area": (2, 3, 5, 4), "nearest": (1, 2, 3, 4, 5)}  # fmt: skip
RESIZES = [dict(size=7), dict(size=3), dict(scale_factor=1.7), dict(scale_factor=0.6), dict(scale_factor=2),
           dict(scale_factor=1.7, recompute_scale_factor=True), dict(scale_factor=2.5, recompute_scale_factor=False)]  # fmt: skip


@pytest.mark.parametrize("mode", list(SHAPES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_torch(mode, dtype):
    x = normal(*SHAPES[mode], dtype=dtype)
    tol = 1e-5 if mode == "bicubic" and dtype == np.float32 else 1e-6  # float32 rounding of 16 taps
    for resize in RESIZES:
        for align_corners in [None, True, False] if mode not in ("area", "nearest") else [None]:
            got = F.interpolate(irc.tensor(x), mode=mode, align_corners=align_corners, **resize).numpy()
            want = TF.interpolate(torch.tensor(x), mode=mode, align_corners=align_corners, **resize).numpy()
            assert got.dtype == want.dtype and got.shape == want.shape, (resize, align_corners)
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{resize} {align_corners}")


CASES = {
    "bilinear": (lambda m, x: m.nn.functional.interpolate(x, size=(7, 3), mode="bilinear"), [normal(1, 2, 5, 4)]),
    "bilinear-corners": (
        lambda m, x: m.nn.functional.interpolate(x, scale_factor=(1.5, 2.0), mode="bilinear", align_corners=True),
        [normal(1, 2, 5, 4)],
    ),
    "linear": (lambda m, x: m.nn.functional.interpolate(x, scale_factor=2.3, mode="linear"), [normal(2, 2, 5)]),
    "bicubic": (
        lambda m, x: m.nn.functional.interpolate(x, size=6, mode="bicubic"),
        [normal(1, 1, 4, 5, dtype=np.float64)],
    ),
    "area": (lambda m, x: m.nn.functional.interpolate(x, size=(2, 3), mode="area"), [normal(1, 2, 5, 7)]),
    "trilinear": (
        lambda m, x: m.nn.functional.interpolate(x, size=(2, 3, 4), mode="trilinear"),
        [normal(1, 1, 3, 2, 3)],
    ),
    "aliases": (
        lambda m, x: (
            m.nn.functional.upsample_bilinear(x, scale_factor=2),
            m.nn.UpsamplingBilinear2d(size=(3, 7))(x),
            m.nn.Upsample(scale_factor=1.5, mode="bicubic", align_corners=False)(x),
            m.nn.functional.upsample(x, size=5, mode="bilinear"),
            m.nn.UpsamplingNearest2d(scale_factor=2)(x),
            m.nn.functional.upsample_nearest(x, size=(3, 3)),
        ),
        [normal(1, 2, 3, 4, dtype=np.float64)],
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_match_torch(name):
    fn, arrays = CASES[name]
    check_eager(torch, fn, arrays, tol=1e-5)


def test_jit_llvm_matches_torch():
    check_jit(torch, {name: CASES[name] for name in ("bilinear", "bicubic", "area")}, tol=1e-5)


def test_upsample_module_repr_and_state():
    up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
    assert "mode='bilinear'" in repr(up) and up.align_corners is True
    x = irc.ones(1, 1, 2, 2)
    assert up(x).shape == (1, 1, 4, 4) and np.allclose(up(x).numpy(), 1.0)


ERRORS = {
    "mode-rank": lambda m: m.nn.functional.interpolate(m.ones(1, 1, 4), size=3, mode="bilinear"),
    "align-corners-area": lambda m: m.nn.functional.interpolate(m.ones(1, 1, 4), size=3, mode="area",
                                                               align_corners=True),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors(name):
    with pytest.raises(Exception) as want:
        ERRORS[name](torch)
    with pytest.raises(irc.FrontendError) as got:
        ERRORS[name](irc)
    first = str(want.value).splitlines()[0]
    assert first in str(got.value), (first, str(got.value))


def test_unsupported_mode_and_integer_input_are_clear_errors():
    with pytest.raises(irc.FrontendError, match="mode 'nearest-exact' is not supported"):
        F.interpolate(irc.ones(1, 1, 4), size=3, mode="nearest-exact")
    with pytest.raises(irc.FrontendError, match="needs a floating-point input"):
        F.interpolate(irc.ones(1, 1, 4, dtype=irc.int64), size=3, mode="linear")
    with pytest.raises(irc.FrontendError, match="antialias=True is not supported"):
        F.interpolate(irc.ones(1, 1, 4, 4), size=3, mode="bilinear", antialias=True)
