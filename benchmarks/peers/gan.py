#!/usr/bin/python3
"""PyTorch peer of CS231n's GAN assignment (2024 A3) on Fashion-MNIST.

The architectures, losses and training loop of the notebook
(/work/shared/reference/cs231n.md, section 2), for cudl's GAN to be compared
with in speed and in sample quality:

    /usr/bin/python3 benchmarks/peers/gan.py --model fc|dcgan --loss vanilla|ls \
        --iters N --threads 2 --samples out.npy

Each iteration is one discriminator step on a real batch (scaled to [-1, 1])
and detached fakes, then one generator step on fresh noise; both nets use Adam
(lr 1e-3, betas 0.5, 0.999); noise is U(-1, 1) of dimension 96; batch 128 from
the first 50,000 training images, partial last batch skipped. The DCGAN nets
get Xavier-uniform weights on Linear and ConvTranspose2d, as the notebook
applies; the FC nets keep torch's defaults. img/s counts the real images of the
timed iterations (the first is a warm-up, not timed). Afterwards --samples
writes --num-samples generated images as float32 [N, 1, 28, 28] in [0, 1]
((x + 1) / 2), drawn in batches of 128 with the generator in training mode, as
the notebook draws its samples; `cudl score --samples` reads the file.
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
from torch import nn

NOISE_DIM = 96
BATCH = 128
TRAIN_IMAGES = 50000


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, h, w = np.frombuffer(data[:16], dtype=">u4")
    if magic != 0x803:
        raise SystemExit(f"gan.py: {path} is not an IDX image file (magic {magic:#x})")
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(n, h, w)


def fc_discriminator():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LeakyReLU(0.01), nn.Linear(256, 256),
                         nn.LeakyReLU(0.01), nn.Linear(256, 1))


def fc_generator(noise_dim=NOISE_DIM):
    return nn.Sequential(nn.Linear(noise_dim, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                         nn.Linear(1024, 784), nn.Tanh())


def dc_discriminator():
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 5), nn.LeakyReLU(0.01), nn.MaxPool2d(2, 2),
                         nn.Conv2d(32, 64, 5), nn.LeakyReLU(0.01), nn.MaxPool2d(2, 2), nn.Flatten(),
                         nn.Linear(1024, 1024), nn.LeakyReLU(0.01), nn.Linear(1024, 1))


def dc_generator(noise_dim=NOISE_DIM):
    return nn.Sequential(nn.Linear(noise_dim, 1024), nn.ReLU(), nn.BatchNorm1d(1024), nn.Linear(1024, 7 * 7 * 128),
                         nn.ReLU(), nn.BatchNorm1d(7 * 7 * 128), nn.Unflatten(1, (128, 7, 7)),
                         nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.ReLU(), nn.BatchNorm2d(64),
                         nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1), nn.Tanh(), nn.Flatten())


def xavier_init(m):
    if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(m.weight.data)


def bce(logits, target):
    return nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def discriminator_loss(kind, logits_real, logits_fake):
    if kind == "vanilla":
        return bce(logits_real, 1.0) + bce(logits_fake, 0.0)
    return 0.5 * ((logits_real - 1) ** 2).mean() + 0.5 * (logits_fake ** 2).mean()


def generator_loss(kind, logits_fake):
    if kind == "vanilla":
        return bce(logits_fake, 1.0)
    return 0.5 * ((logits_fake - 1) ** 2).mean()


def noise(n, gen):
    return torch.rand(n, NOISE_DIM, generator=gen) * 2 - 1


def param_count(net):
    return sum(p.numel() for p in net.parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["fc", "dcgan"], default="fc")
    ap.add_argument("--loss", choices=["vanilla", "ls"], default="vanilla")
    ap.add_argument("--iters", type=int, default=100, help="training iterations (3,900 = the notebook's 10 epochs)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--samples", help="write generated samples to this .npy")
    ap.add_argument("--num-samples", type=int, default=10000)
    args = ap.parse_args()
    if args.iters < 2:
        ap.error("--iters must be at least 2 (the first is a warm-up)")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images = read_idx_images(os.path.join(args.data, "train-images-idx3-ubyte.gz"))[:TRAIN_IMAGES]
    real_all = torch.from_numpy(images.reshape(len(images), 784).astype(np.float32) / 255.0)

    if args.model == "fc":
        D, G = fc_discriminator(), fc_generator()
    else:
        D, G = dc_discriminator(), dc_generator()
        D.apply(xavier_init)
        G.apply(xavier_init)
    print(f"model {args.model}, loss {args.loss}: D {param_count(D):,} parameters, G {param_count(G):,} parameters, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    d_opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    g_opt = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))

    batches_per_epoch = len(real_all) // BATCH
    order = torch.randperm(len(real_all), generator=gen)
    start = None
    for it in range(args.iters):
        if it == 1:
            start = time.perf_counter()  # after the warm-up iteration
        b = it % batches_per_epoch
        if b == 0 and it > 0:
            order = torch.randperm(len(real_all), generator=gen)
        real = 2 * (real_all[order[b * BATCH:(b + 1) * BATCH]] - 0.5)

        d_opt.zero_grad()
        fake = G(noise(BATCH, gen)).detach()
        d_loss = discriminator_loss(args.loss, D(real), D(fake))
        d_loss.backward()
        d_opt.step()

        g_opt.zero_grad()
        g_loss = generator_loss(args.loss, D(G(noise(BATCH, gen))))
        g_loss.backward()
        g_opt.step()
        if it % 250 == 0 or it == args.iters - 1:
            print(f"iter {it}: D {d_loss.item():.4f}, G {g_loss.item():.4f}")
    elapsed = time.perf_counter() - start
    timed = args.iters - 1
    print(f"{timed} timed iterations in {elapsed:.2f} s: {timed / elapsed:.2f} it/s, "
          f"{timed * BATCH / elapsed:.1f} img/s")

    if args.samples:
        out = []
        with torch.no_grad():
            for begin in range(0, args.num_samples, BATCH):
                out.append(G(noise(min(BATCH, args.num_samples - begin), gen)))
        x = ((torch.cat(out).view(-1, 1, 28, 28) + 1) / 2).clamp(0, 1).numpy().astype(np.float32)
        np.save(args.samples, x)
        print(f"wrote {x.shape[0]} samples {list(x.shape)} to {args.samples}")


if __name__ == "__main__":
    main()
