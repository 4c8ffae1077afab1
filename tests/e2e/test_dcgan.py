"""examples/dcgan.py against PyTorch: the same program (its `import irc as torch` made `import torch`), the
same initial weights and batches; a few D and G steps under irc.jit(target="llvm") give torch's losses and
parameters."""

import sys
import types
from pathlib import Path

import numpy as np
import pytest

import irc

torch = pytest.importorskip("torch")

EXAMPLE = Path(__file__).parents[2] / "examples" / "dcgan.py"


def load_example(on_torch: bool) -> types.ModuleType:
    """examples/dcgan.py as a module; `on_torch`: with `import torch` in place of `import irc as torch`."""
    source = EXAMPLE.read_text()
    if on_torch:
        assert "import irc as torch\n" in source
        source = source.replace("import irc as torch\n", "import torch\n")
    module = types.ModuleType("dcgan_torch" if on_torch else "dcgan_irc")
    sys.modules[module.__name__] = module  # its classes name it as their module
    exec(compile(source, str(EXAMPLE), "exec"), module.__dict__)
    return module


@pytest.mark.slow  # ~30-60 s: the first step compiles both networks' training step
def test_dcgan_steps_match_torch():
    ours, theirs = load_example(False), load_example(True)
    torch.manual_seed(0)
    reference = theirs.DCGAN()
    gan = ours.DCGAN()
    for mine, ref in ((gan.netG, reference.netG), (gan.netD, reference.netD)):
        mine.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    step = irc.jit(gan.step, target="llvm")
    rng = np.random.default_rng(0)
    for _ in range(3):
        real = ours.blobs(rng, 4)
        noise = rng.standard_normal((4, ours.NZ, 1, 1)).astype(np.float32)
        loss_d, loss_g = step(real, noise)
        want_d, want_g = reference.step(torch.from_numpy(real), torch.from_numpy(noise))
        np.testing.assert_allclose(loss_d.item(), want_d.item(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(loss_g.item(), want_g.item(), rtol=1e-4, atol=1e-4)
    for mine, ref in ((gan.netG, reference.netG), (gan.netD, reference.netD)):
        for (name, value), (_, expected) in zip(mine.state_dict().items(), ref.state_dict().items()):
            np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)
