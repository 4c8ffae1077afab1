"""The contraction schedule on convolution nests (vector lanes over the channels, packed filters).

Forward and weight-gradient convolutions of a jitted program, checked against a numpy
convolution, with no schedule rule refused.
"""

import numpy as np

import irc
import irc.nn.functional as F


def conv_ref(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    """Cross-correlation, NCHW x OIHW, stride 1."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    oh, ow = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    windows = np.stack([xp[:, :, a : a + oh, b : b + ow] for a in range(kh) for b in range(kw)], axis=-1)
    return np.einsum("nchwk,ock->nohw", windows, w.reshape(*w.shape[:2], -1))


def test_conv2d_forward(rng):
    x = rng.standard_normal((4, 8, 6, 6), np.float32)
    w = rng.standard_normal((16, 8, 3, 3), np.float32)
    step = irc.jit(lambda x, w: F.conv2d(x, w, padding=1))
    np.testing.assert_allclose(step(x, w).numpy(), conv_ref(x, w, 1), rtol=1e-4, atol=1e-4)
    compiled = step.lower(x, w).compiled
    assert compiled.schedule_notes == []
    assert "_global" in compiled.tir_text  # the packed filter


def test_conv2d_weight_grad(rng):
    x = rng.standard_normal((8, 4, 5, 5), np.float32)
    w = irc.tensor(rng.standard_normal((16, 4, 3, 3), np.float32), requires_grad=True)
    r = rng.standard_normal((8, 16, 5, 5), np.float32)

    def weight_grad(x, r):
        w.grad = None
        (F.conv2d(x, w, padding=1) * r).sum().backward()
        return w.grad

    step = irc.jit(weight_grad)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = conv_ref(xp.transpose(1, 0, 2, 3), r.transpose(1, 0, 2, 3), 0).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(step(x, r).numpy(), expected, rtol=1e-3, atol=1e-3)
    compiled = step.lower(x, r).compiled
    assert compiled.schedule_notes == []
    assert "_global" in compiled.tir_text
