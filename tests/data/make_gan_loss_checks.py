#!/usr/bin/python3
"""Reference values for the GAN losses, in the spirit of CS231n's gan-checks.npz.

    /usr/bin/python3 tests/data/make_gan_loss_checks.py   (Debian's python3-torch)

writes tests/data/gan_loss_checks.json: fixed discriminator logits on real and
fake images (numpy's default_rng(231), normal with std 3, and one saturated
pair), and in float64:
  vanilla  d = BCE(real, 1) + BCE(fake, 0),  g = BCE(fake, 1)   (batch means, on logits)
  ls       d = 0.5 mean((real - 1)^2) + 0.5 mean(fake^2),  g = 0.5 mean((fake - 1)^2)
with the gradient of each loss with respect to the logits it reads.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

N = 16
rng = np.random.default_rng(231)
logits_real = rng.normal(0.0, 3.0, N)
logits_fake = rng.normal(0.0, 3.0, N)
# Confidently wrong: sigmoid(-120) underflows float32, so a loss computed as
# -log(sigmoid(x)) gives inf where the right value is 120 (log-sum-exp form).
logits_real[0], logits_fake[0] = -120.0, 120.0


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


LOSSES = {
    "vanilla_discriminator": lambda r, f: bce(r, 1.0) + bce(f, 0.0),
    "vanilla_generator": lambda r, f: bce(f, 1.0),
    "ls_discriminator": lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(),
    "ls_generator": lambda r, f: 0.5 * ((f - 1) ** 2).mean(),
}

out = {"generator": "tests/data/make_gan_loss_checks.py", "torch": torch.__version__,
       "logits_real": logits_real.tolist(), "logits_fake": logits_fake.tolist(), "losses": {}}
for name, fn in LOSSES.items():
    r = torch.tensor(logits_real, dtype=torch.float64, requires_grad=True)
    f = torch.tensor(logits_fake, dtype=torch.float64, requires_grad=True)
    loss = fn(r, f)
    loss.backward()
    entry = {"loss": loss.item(), "grad_fake": f.grad.tolist()}
    if name.endswith("discriminator"):
        entry["grad_real"] = r.grad.tolist()
    out["losses"][name] = entry
    print(f"{name:>22}: {loss.item():.15g}")

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "gan_loss_checks.json"), "w") as fh:
    json.dump(out, fh, indent=1)
    fh.write("\n")
