"""A two-layer MLP forward pass with softmax: the README's main example.

irc compile examples/mlp.py --dump-dir out/mlp     # every lowering stage as a file
python examples/mlp.py                             # run it with irc.jit and check against numpy
"""

import numpy as np

import irc


def mlp(
    x: irc.Spec((64, 784)),
    w1: irc.Spec((784, 256)),
    b1: irc.Spec((256,)),
    w2: irc.Spec((256, 10)),
    b2: irc.Spec((10,)),
):
    hidden = (x @ w1 + b1).relu()
    return (hidden @ w2 + b2).softmax(dim=-1)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s.shape).astype(np.float32) * 0.1 for s in irc.frontend.jit.example_inputs_of(mlp)]
    probs = irc.jit(mlp)(*args).numpy()
    x, w1, b1, w2, b2 = args
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    print(f"probabilities {probs.shape}, rows sum to {probs.sum(1).mean():.6f}")
    print(f"max |irc - numpy| = {np.abs(probs - expected).max():.2e}")
