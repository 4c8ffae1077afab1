"""A small convnet forward pass: conv2d, relu, max_pool2d, linear.

irc compile examples/convnet.py --dump-dir out/convnet
python examples/convnet.py
"""

import numpy as np

import irc
import irc.nn.functional as F


def convnet(
    x: irc.Spec((8, 1, 16, 16)),
    conv_w: irc.Spec((8, 1, 3, 3)),
    conv_b: irc.Spec((8,)),
    fc_w: irc.Spec((10, 8 * 8 * 8)),
    fc_b: irc.Spec((10,)),
):
    h = F.relu(F.conv2d(x, conv_w, conv_b, padding=1))
    h = F.max_pool2d(h, 2)
    return F.linear(h.flatten(1), fc_w, fc_b)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s.shape).astype(np.float32) * 0.1 for s in irc.frontend.jit.example_inputs_of(convnet)]
    logits = irc.jit(convnet)(*args).numpy()
    from irc.frontend.tracing import trace
    from irc.interpreters.reference import run_hl

    (expected,) = run_hl(trace(convnet, irc.frontend.jit.example_inputs_of(convnet)), args)
    print(f"logits {logits.shape}; max |compiled - hl reference| = {np.abs(logits - expected).max():.2e}")
