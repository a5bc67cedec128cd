"""The reference pix2pix training step in PyTorch, timed on this machine.

A standalone script (it imports neither TensorFlow nor keras_colorize), run by
``python -m benchmarks --torch-python PYTHON`` with an interpreter that has
torch, so that the reference and ours are measured in the same run:

    python benchmarks/pytorch_pix2pix.py --ngf 64 --ndf 64 --dtype float32

It rebuilds, layer for layer, the networks of the official pix2pix code
(junyanz/pytorch-CycleGAN-and-pix2pix: ``UnetGenerator`` "unet_128" = 7
down-samplings, BatchNorm, dropout; ``NLayerDiscriminator`` n_layers=3) for
colorization (1 channel in, 2 out, D sees 3) and runs its
``Pix2PixModel.optimize_parameters``: G forward; D on the detached fake and on
the real pair, LSGAN loss, D step; D frozen, D on the fake again, LSGAN +
100 * L1, G step; Adam(2e-4, betas 0.5/0.999). Inputs are random tensors: the
cost of a step does not depend on the pixel values. Prints one JSON line.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


class UnetSkipBlock(nn.Module):
    """pix2pix's UnetSkipConnectionBlock (BatchNorm, so convolutions without bias)."""

    def __init__(
        self,
        outer,
        inner,
        in_channels=None,
        sub=None,
        outermost=False,
        innermost=False,
        dropout=False,
    ):
        super().__init__()
        self.outermost = outermost
        in_channels = outer if in_channels is None else in_channels
        down_conv = nn.Conv2d(in_channels, inner, 4, 2, 1, bias=False)
        if outermost:
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
            layers = [down_conv, sub, *up]
        elif innermost:
            up_conv = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False)
            layers = [
                nn.LeakyReLU(0.2, True),
                down_conv,
                nn.ReLU(True),
                up_conv,
                nn.BatchNorm2d(outer),
            ]
        else:
            up_conv = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False)
            layers = [
                nn.LeakyReLU(0.2, True),
                down_conv,
                nn.BatchNorm2d(inner),
                sub,
                nn.ReLU(True),
                up_conv,
                nn.BatchNorm2d(outer),
            ]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def unet_generator(in_channels=1, out_channels=2, num_downs=7, ngf=64):
    block = UnetSkipBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(num_downs - 5):
        block = UnetSkipBlock(ngf * 8, ngf * 8, sub=block, dropout=True)
    block = UnetSkipBlock(ngf * 4, ngf * 8, sub=block)
    block = UnetSkipBlock(ngf * 2, ngf * 4, sub=block)
    block = UnetSkipBlock(ngf, ngf * 2, sub=block)
    return UnetSkipBlock(out_channels, ngf, in_channels, sub=block, outermost=True)


def patch_discriminator(in_channels=3, ndf=64, n_layers=3):
    layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers + 1):
        prev, mult = mult, min(2**n, 8)
        stride = 2 if n < n_layers else 1
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=False),
            nn.BatchNorm2d(ndf * mult),
            nn.LeakyReLU(0.2, True),
        ]
    layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
    return nn.Sequential(*layers)


def make_step(generator, discriminator, dtype, l1_weight=100.0):
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    autocast = dtype == "bfloat16"

    def run_d(pair):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            return discriminator(pair).float()

    def step(real_l, real_ab):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            fake = generator(real_l).float()
        for p in discriminator.parameters():
            p.requires_grad_(True)
        d_opt.zero_grad()
        pred_fake = run_d(torch.cat([real_l, fake.detach()], 1))
        pred_real = run_d(torch.cat([real_l, real_ab], 1))
        d_loss = 0.5 * (
            mse(pred_fake, torch.zeros_like(pred_fake)) + mse(pred_real, torch.ones_like(pred_real))
        )
        d_loss.backward()
        d_opt.step()
        for p in discriminator.parameters():
            p.requires_grad_(False)
        g_opt.zero_grad()
        pred_fake = run_d(torch.cat([real_l, fake], 1))
        g_loss = mse(pred_fake, torch.ones_like(pred_fake)) + l1_weight * l1(fake, real_ab)
        g_loss.backward()
        g_opt.step()
        return g_loss.item()

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--num-downs", type=int, default=7, help="U-Net depth (7: unet_128)")
    parser.add_argument("--n-layers", type=int, default=3, help="PatchGAN depth")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    generator = unet_generator(num_downs=args.num_downs, ngf=args.ngf).train()
    discriminator = patch_discriminator(ndf=args.ndf, n_layers=args.n_layers).train()
    step = make_step(generator, discriminator, args.dtype)
    real_l = torch.rand(args.batch_size, 1, args.size, args.size) * 2 - 1
    real_ab = torch.rand(args.batch_size, 2, args.size, args.size) * 2 - 1
    for _ in range(args.warmup):
        step(real_l, real_ab)
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            step(real_l, real_ab)
        rates.append(args.steps * args.batch_size / (time.perf_counter() - start))
    print(
        json.dumps(
            {
                "framework": f"PyTorch {torch.__version__}",
                "threads": torch.get_num_threads(),
                "ngf": args.ngf,
                "num_downs": args.num_downs,
                "n_layers": args.n_layers,
                "ndf": args.ndf,
                "size": args.size,
                "batch_size": args.batch_size,
                "dtype": args.dtype,
                "images_per_second": statistics.median(rates),
                "repeats": rates,
            }
        )
    )


if __name__ == "__main__":
    main()
