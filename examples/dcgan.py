"""A small DCGAN (Radford et al.; pytorch/examples' dcgan) on synthetic 16x16 "images" of random blobs.

The generator is ConvTranspose2d + BatchNorm2d + ReLU + Tanh, the discriminator Conv2d + LeakyReLU +
BatchNorm2d + Sigmoid with the BCE loss; each training step updates D, then G, with
Adam(betas=(0.5, 0.999)). The program is PyTorch's: with `import torch` in place of `import irc as torch`
it runs on PyTorch (`tests/e2e/test_dcgan.py` runs both and compares them). irc compiles the whole
step (both forward passes, backward passes and Adam updates) into one program with `torch.jit`.

python examples/dcgan.py --steps 200
"""

import argparse
import time

import numpy as np

import irc as torch

nn, optim = torch.nn, torch.optim

NZ, NGF, NDF, SIZE = 8, 8, 8, 16  # latent size, generator / discriminator widths, image size


class Generator(nn.Module):
    """(N, NZ, 1, 1) noise -> (N, 1, 16, 16) images in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 2, 4, 1, 0, bias=False),  # 1 -> 4
            nn.BatchNorm2d(NGF * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),  # 4 -> 8
            nn.BatchNorm2d(NGF),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False),  # 8 -> 16
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    """(N, 1, 16, 16) images -> (N,) probabilities of being real."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, NDF, 4, 2, 1, bias=False),  # 16 -> 8
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),  # 8 -> 4
            nn.BatchNorm2d(NDF * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, 1, 4, 1, 0, bias=False),  # 4 -> 1
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m):
    """DCGAN's initialization: conv weights N(0, 0.02), batch-norm scales N(1, 0.02) and shifts 0."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0.0)


def blobs(rng: np.random.Generator, n: int) -> np.ndarray:
    """n synthetic (1, 16, 16) images in [-1, 1]: one or two Gaussian blobs at random places and widths."""
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    images = np.zeros((n, 1, SIZE, SIZE), np.float32)
    for image in images:
        for _ in range(rng.integers(1, 3)):
            cy, cx = rng.uniform(3, SIZE - 3, 2)
            width = rng.uniform(1.5, 3.5)
            image[0] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width**2))
    return np.clip(images, 0, 1) * 2 - 1


class DCGAN:
    """The two networks, their Adam optimizers and the BCE loss; `step(real, noise)` trains D, then G."""

    def __init__(self, lr: float = 2e-4):
        self.netG, self.netD = Generator(), Discriminator()
        self.netG.apply(weights_init)
        self.netD.apply(weights_init)
        self.optD = optim.Adam(self.netD.parameters(), lr=lr, betas=(0.5, 0.999))
        self.optG = optim.Adam(self.netG.parameters(), lr=lr, betas=(0.5, 0.999))
        self.criterion = nn.BCELoss()

    def step(self, real, noise):
        """One update of D on a real and a fake batch, then one of G; returns (loss_D, loss_G)."""
        ones, zeros = torch.full((real.shape[0],), 1.0), torch.full((real.shape[0],), 0.0)
        self.netD.zero_grad()
        loss_real = self.criterion(self.netD(real), ones)
        loss_real.backward()
        fake = self.netG(noise)
        loss_fake = self.criterion(self.netD(fake.detach()), zeros)
        loss_fake.backward()
        self.optD.step()

        self.netG.zero_grad()
        loss_g = self.criterion(self.netD(fake), ones)  # D as just updated
        loss_g.backward()
        self.optG.step()
        return loss_real + loss_fake, loss_g


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    gan = DCGAN()
    on_irc = torch.__name__ == "irc"
    step = torch.jit(gan.step, target="llvm") if on_irc else gan.step
    start = time.perf_counter()
    for i in range(args.steps):
        real = torch.tensor(blobs(rng, args.batch_size))
        noise = torch.tensor(rng.standard_normal((args.batch_size, NZ, 1, 1)).astype(np.float32))
        loss_d, loss_g = step(real, noise)
        if i % 50 == 0 or i == args.steps - 1:
            print(f"step {i:4d}  loss_D {loss_d.item():.4f}  loss_G {loss_g.item():.4f}")
    print(f"{args.steps} steps in {time.perf_counter() - start:.1f} s ({torch.__name__})")


if __name__ == "__main__":
    main()
