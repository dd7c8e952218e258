#!/usr/bin/python3
"""PyTorch peer of cudl's DDPM U-Net (models/unet.h, docs/ddpm.md): training step time.

The same network as `cudl train ddpm` builds (image_size 32, 8 groups, 4 heads,
2 ResNet blocks per level, attention at 16x16 and in the middle, a
class-conditional table of classes + 1 rows), with cudl's parameter names and
shapes, and the same training step, timed on random data of the same shapes:

    /usr/bin/python3 benchmarks/peers/unet.py --width 32 --multipliers 1,2,2 --batch-size 64 \
        --steps 50 --warmup 5 --threads 2 [--device cuda]
    /usr/bin/python3 benchmarks/peers/unet.py --checkpoint runs/ddpm/checkpoint.safetensors --steps 20

--checkpoint reads a cudl checkpoint.safetensors (parsed here with numpy: no
`safetensors` package needed), takes the U-Net config and the diffusion
settings from its metadata instead of the shape flags, and loads its model
weights (every tensor but `ema.*`, `adam.*` and `train.*`) with
load_state_dict(strict=True): that proves the module is cudl's network. Only
--batch-size, --steps, --warmup and --threads still apply then.

A step: images ~ N(0, 1) [B, C, 32, 32] (the step time does not depend on the
data), labels ~ U{0..classes-1} with each replaced by the null class
(= classes) with probability 0.2, t ~ U{0..T-1}, noise ~ N(0, 1), x_t =
q_sample(x0, noise, t) on the sigmoid schedule (or the checkpoint's), the
U-Net, the MSE against the noise (pred_x0 checkpoints: against x0, weighted by
sqrt(SNR_t) as cudl does), backward, clip_grad_norm_(1.0), Adam (lr 2e-4), an
EMA (0.999) of every parameter in a shadow copy. --warmup steps run untimed
first, then --steps are timed with a wall clock. Caption-conditional
checkpoints (text_emb) get 8 random word tokens per sample, the dropped ones
the empty caption <START> <END>. Attention uses F.scaled_dot_product_attention
where torch has it (2.x) and softmax(q k^T / sqrt(d)) v in matmuls otherwise
(1.13). The last line reads

    peer unet: width 32 multipliers 1,2,2 batch 64: 123.4 img/s, 0.519 s/step, N parameters (torch X.Y, T threads)

with N equal to the "N parameters" of `cudl train ddpm`; benchmarks/ddpm_peer.sh
runs both and prints the ratio.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 32
GROUPS = 8
HEADS = 4
EPS = 1e-5
LR = 2e-4
CLIP = 1.0
EMA_DECAY = 0.999
P_UNCOND = 0.2
CAPTION_WORDS = 8
START_TOKEN, END_TOKEN, NULL_TOKEN, UNK_TOKEN = 1, 2, 0, 3  # data/caption.h; checked below when used
CHECKPOINT_KIND = "ddpm_unet"
SKIPPED_PREFIXES = ("ema.", "adam.", "train.")


class BadInput(Exception):
    """A one-line error about the user's input."""


# ---- the U-Net, named as docs/ddpm.md's state_dict table ----

class ConvNorm(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.GroupNorm(groups, cout, eps=EPS)


class ResnetBlock(nn.Module):
    """FORMAT.md's unet_resnet_block: FiLM after the first GroupNorm, SiLU after both."""

    def __init__(self, cin, cout, temb_dim, groups):
        super().__init__()
        self.mlp = nn.Linear(temb_dim, 2 * cout)
        self.block1 = ConvNorm(cin, cout, groups)
        self.block2 = ConvNorm(cout, cout, groups)
        self.res_conv = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        scale, shift = self.mlp(F.silu(temb))[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.block1.norm(self.block1.conv(x)) * (1 + scale) + shift)
        h = F.silu(self.block2.norm(self.block2.conv(h)))
        return h + (self.res_conv(x) if self.res_conv is not None else x)


class SpatialAttention(nn.Module):
    """FORMAT.md's spatial_attention: GN, pixels as tokens, multi-head self-attention, residual."""

    def __init__(self, channels, heads, groups):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels, eps=EPS)
        self.to_qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.to_out = nn.Linear(channels, channels)

    def forward(self, x):
        n, c, h, w = x.shape
        tokens = self.norm(x).reshape(n, c, h * w).transpose(1, 2)  # [N, HW, C]
        q, k, v = (t.reshape(n, h * w, self.heads, c // self.heads).transpose(1, 2)
                   for t in self.to_qkv(tokens).chunk(3, dim=-1))  # [N, heads, HW, C / heads]
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            y = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(c // self.heads), dim=-1) @ v
        y = y.transpose(1, 2).reshape(n, h * w, c)
        return x + self.to_out(y).transpose(1, 2).reshape(n, c, h, w)


class Level(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList()
        self.attns = nn.ModuleList()


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / (half - 1))
    args = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class UNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        width, temb = c["width"], 4 * c["width"]
        groups, heads = c["groups"], c["heads"]
        levels = len(c["multipliers"])
        self.time_mlp = nn.Sequential(nn.Linear(width, temb), nn.SiLU(), nn.Linear(temb, temb))
        if c["num_classes"] > 0:
            self.class_emb = nn.Embedding(c["num_classes"] + 1, temb)
        if c["vocab_size"] > 0:
            self.text_emb = nn.Embedding(c["vocab_size"], temb)
        self.init_conv = nn.Conv2d(c["in_channels"], width, 3, padding=1)

        def attends(level):
            return (c["image_size"] >> level) in c["attention_resolutions"]

        self.downs = nn.ModuleList()
        skips, ch = [], width
        for i, m in enumerate(c["multipliers"]):
            level, out = Level(), width * m
            for _ in range(c["num_res_blocks"]):
                level.blocks.append(ResnetBlock(ch, out, temb, groups))
                if attends(i):
                    level.attns.append(SpatialAttention(out, heads, groups))
                ch = out
                skips.append(out)
            if i + 1 < levels:
                level.downsample = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
            self.downs.append(level)
        self.mid_block1 = ResnetBlock(ch, ch, temb, groups)
        self.mid_attn = SpatialAttention(ch, heads, groups)
        self.mid_block2 = ResnetBlock(ch, ch, temb, groups)
        self.ups = nn.ModuleList()
        for i in reversed(range(levels)):
            level, out = Level(), width * c["multipliers"][i]
            for _ in range(c["num_res_blocks"]):
                level.blocks.append(ResnetBlock(ch + skips.pop(), out, temb, groups))
                if attends(i):
                    level.attns.append(SpatialAttention(out, heads, groups))
                ch = out
            if i > 0:
                level.upsample_conv = nn.Conv2d(ch, ch, 3, padding=1)
            self.ups.append(level)
        self.final_norm = nn.GroupNorm(groups, ch, eps=EPS)
        self.final_conv = nn.Conv2d(ch, c["out_channels"], 1)

    def condition_embedding(self, cond):
        if hasattr(self, "class_emb"):
            return self.class_emb(cond)
        mask = (cond != NULL_TOKEN).to(torch.float32)
        return (self.text_emb(cond) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)

    def forward(self, x, t, cond):
        temb = self.time_mlp(timestep_embedding(t, self.config["width"]))
        if cond is not None:
            temb = temb + self.condition_embedding(cond)
        h = self.init_conv(x)
        skips = []
        for level in self.downs:
            for b, block in enumerate(level.blocks):
                h = block(h, temb)
                if len(level.attns) > 0:
                    h = level.attns[b](h)
                skips.append(h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        h = self.mid_block2(self.mid_attn(self.mid_block1(h, temb)), temb)
        for level in self.ups:
            for b, block in enumerate(level.blocks):
                h = block(torch.cat([h, skips.pop()], dim=1), temb)
                if len(level.attns) > 0:
                    h = level.attns[b](h)
            if hasattr(level, "upsample_conv"):
                h = level.upsample_conv(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.final_conv(F.silu(self.final_norm(h)))


def check_config(c):
    if c["width"] < 4 or c["width"] % 2:
        raise BadInput(f"expected an even width >= 4, got {c['width']}")
    if not c["multipliers"] or any(m < 1 for m in c["multipliers"]):
        raise BadInput(f"expected multipliers >= 1, got {c['multipliers']}")
    reduction = 1 << (len(c["multipliers"]) - 1)
    if c["image_size"] % reduction:
        raise BadInput(f"image size {c['image_size']} is not divisible by {reduction} "
                       f"({len(c['multipliers'])} levels)")
    for m in c["multipliers"]:
        ch = c["width"] * m
        if ch % c["groups"] or ch % c["heads"]:
            raise BadInput(f"{c['groups']} groups and {c['heads']} heads must divide a level's {ch} channels")
    if c["in_channels"] < 1 or c["out_channels"] < 1 or c["num_res_blocks"] < 1:
        raise BadInput("expected channels and res blocks >= 1")
    if c["num_classes"] > 0 and c["vocab_size"] > 0:
        raise BadInput("a U-Net is conditioned on classes or on captions, not both")


# ---- the diffusion schedule (diffusion/schedule.cpp) ----

def betas_of(schedule, timesteps):
    if schedule == "linear":
        scale = 1000.0 / timesteps
        return np.linspace(1e-4 * scale, 0.02 * scale, timesteps, dtype=np.float64)
    if schedule == "cosine":
        def abar(u):
            return np.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
    elif schedule == "sigmoid":
        def sig(v):
            return 1.0 / (1.0 + np.exp(-v))

        def abar(u):
            return (sig(3.0) - sig(6.0 * u - 3.0)) / (sig(3.0) - sig(-3.0))
    else:
        raise BadInput(f"unknown noise schedule '{schedule}'")
    a = abar(np.arange(timesteps + 1, dtype=np.float64) / timesteps) / abar(0.0)
    return np.clip(1.0 - a[1:] / a[:-1], 0.0, 0.999)


# ---- safetensors, read with numpy ----

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "BOOL": "?"}


def read_safetensors(path, keep):
    """The header's metadata and the tensors whose name keep() accepts, as torch tensors."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            raw = f.read(8)
            if len(raw) < 8:
                raise BadInput(f"{path}: not a safetensors file (shorter than 8 bytes)")
            n = int.from_bytes(raw, "little")
            if n > size - 8:
                raise BadInput(f"{path}: not a safetensors file (header of {n} bytes in a {size}-byte file)")
            try:
                header = json.loads(f.read(n).decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise BadInput(f"{path}: not a safetensors file (bad JSON header: {e})")
            if not isinstance(header, dict):
                raise BadInput(f"{path}: not a safetensors file (the header is not a JSON object)")
            metadata = header.pop("__metadata__", None) or {}
            tensors = {}
            for name, info in header.items():
                if not keep(name):
                    continue
                try:
                    dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
                except (KeyError, TypeError, ValueError):
                    raise BadInput(f"{path}: tensor '{name}' has no dtype, shape and data_offsets")
                if dtype == "BF16":
                    np_dtype = "<u2"
                elif dtype in DTYPES:
                    np_dtype = DTYPES[dtype]
                else:
                    raise BadInput(f"{path}: tensor '{name}' has the unsupported dtype {dtype}")
                count = int(np.prod(shape, dtype=np.int64))
                if not 0 <= begin <= end <= size - 8 - n or end - begin != count * np.dtype(np_dtype).itemsize:
                    raise BadInput(f"{path}: tensor '{name}': offsets {begin}..{end} do not hold {dtype} {shape}")
                f.seek(8 + n + begin)
                a = np.frombuffer(f.read(end - begin), dtype=np_dtype).reshape(shape)
                if dtype == "BF16":
                    a = (a.astype(np.uint32) << 16).view(np.float32)
                tensors[name] = torch.from_numpy(a.astype(a.dtype.newbyteorder("="), copy=True))
            return metadata, tensors
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")


def checkpoint_settings(path, metadata):
    if metadata.get("model") != CHECKPOINT_KIND:
        raise BadInput(f"{path} is not a ddpm checkpoint (metadata model = {metadata.get('model')!r}, "
                       f"expected '{CHECKPOINT_KIND}')")
    try:
        j = json.loads(metadata["config"])
        config = {k: int(j[k]) for k in ("in_channels", "out_channels", "image_size", "width", "num_res_blocks",
                                         "groups", "heads", "num_classes")}
        config["vocab_size"] = int(j.get("vocab_size", 0))
        config["multipliers"] = [int(m) for m in j["multipliers"]]
        config["attention_resolutions"] = [int(r) for r in j["attention_resolutions"]]
        d = json.loads(metadata.get("diffusion", "{}"))
        diffusion = {"timesteps": int(d.get("timesteps", 1000)), "schedule": d.get("schedule", "sigmoid"),
                     "objective": d.get("objective", "pred_noise")}
    except (KeyError, TypeError, ValueError) as e:
        raise BadInput(f"{path}: bad U-Net config in the metadata ({type(e).__name__}: {e})")
    if config["vocab_size"] > 0:
        try:
            vocab = json.loads(metadata["vocabulary"])
            words = vocab if isinstance(vocab, list) else vocab.get("words", vocab.get("tokens"))
            if isinstance(words, list) and len(words) > UNK_TOKEN and \
                    [words[NULL_TOKEN], words[START_TOKEN], words[END_TOKEN]] != ["<NULL>", "<START>", "<END>"]:
                raise BadInput(f"{path}: the vocabulary's special tokens are not <NULL> <START> <END> first")
        except (KeyError, ValueError, AttributeError):
            pass  # timing only needs the vocabulary's size
    return config, diffusion


def strict_load(model, tensors, path):
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        def first(keys):
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "") if keys else "none"
        raise BadInput(f"{path}: strict load failed: {len(missing)} missing ({first(missing)}), "
                       f"{len(unexpected)} unexpected ({first(unexpected)})")
    for k, v in expected.items():
        if tuple(tensors[k].shape) != tuple(v.shape) or tensors[k].dtype != v.dtype:
            raise BadInput(f"{path}: strict load failed: '{k}' is {tensors[k].dtype} {list(tensors[k].shape)} in "
                           f"the checkpoint, {v.dtype} {list(v.shape)} in the module")
    model.load_state_dict(tensors, strict=True)


# ---- the timed training step ----

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--multipliers", default="1,2,2")
    ap.add_argument("--res-blocks", type=int, default=2)
    ap.add_argument("--attention", default="16", help="feature-map sizes that attend besides the middle (0: none)")
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--timesteps", type=int, default=1000)
    ap.add_argument("--checkpoint", help="a cudl checkpoint.safetensors: its config, strictly loaded weights")
    ap.add_argument("--steps", type=int, default=50, help="timed training steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.batch_size < 1 or (args.threads is not None and args.threads < 1):
        ap.error("expected --steps >= 1, --warmup >= 0, --batch-size >= 1, --threads >= 1")
    if args.device not in ("cpu", "cuda"):
        ap.error(f"--device must be cpu or cuda, got {args.device!r}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda: torch sees no CUDA device")
    dev = torch.device(args.device)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.checkpoint:
        if not os.path.isfile(args.checkpoint):
            raise BadInput(f"no such checkpoint: {args.checkpoint}")
        metadata, tensors = read_safetensors(args.checkpoint, lambda name: not name.startswith(SKIPPED_PREFIXES))
        config, diffusion = checkpoint_settings(args.checkpoint, metadata)
    else:
        try:
            multipliers = [int(m) for m in args.multipliers.split(",")]
            attention = [] if args.attention == "0" else [int(s) for s in args.attention.split(",")]
        except ValueError:
            ap.error("--multipliers and --attention take comma-separated integers")
        if args.classes < 0 or args.timesteps < 2:
            ap.error("expected --classes >= 0 and --timesteps >= 2")
        config = {"in_channels": args.channels, "out_channels": args.channels, "image_size": IMAGE_SIZE,
                  "width": args.width, "multipliers": multipliers, "num_res_blocks": args.res_blocks,
                  "attention_resolutions": attention, "groups": GROUPS, "heads": HEADS,
                  "num_classes": args.classes, "vocab_size": 0}
        diffusion = {"timesteps": args.timesteps, "schedule": "sigmoid", "objective": "pred_noise"}
    check_config(config)
    if diffusion["objective"] not in ("pred_noise", "pred_x0", "pred_x_start"):
        raise BadInput(f"unknown objective '{diffusion['objective']}'")

    model = UNet(config).to(dev)
    params = sum(p.numel() for p in model.parameters())
    print(f"U-Net: {config['in_channels']} -> {config['out_channels']}, widths "
          f"{[config['width'] * m for m in config['multipliers']]}, {config['num_res_blocks']} blocks per level, "
          f"attention at {config['attention_resolutions']} and the middle, "
          + (f"{config['num_classes']} classes" if config["num_classes"] else
             f"captions of {config['vocab_size']} tokens" if config["vocab_size"] else "unconditional")
          + f": {params} parameters; attention via "
          + ("F.scaled_dot_product_attention" if hasattr(F, "scaled_dot_product_attention") else "matmul + softmax"))
    if args.checkpoint:
        strict_load(model, {k: v.to(dev) for k, v in tensors.items()}, args.checkpoint)
        print(f"strict load: ok ({len(tensors)} tensors of {args.checkpoint}, {params} parameters)")
    print(f"diffusion: {diffusion['timesteps']} steps, {diffusion['schedule']} schedule, {diffusion['objective']}",
          flush=True)

    T, B = diffusion["timesteps"], args.batch_size
    abar = np.cumprod(1.0 - betas_of(diffusion["schedule"], T))
    sqrt_abar = torch.tensor(np.sqrt(abar), dtype=torch.float32, device=dev)
    sqrt_1m_abar = torch.tensor(np.sqrt(1.0 - abar), dtype=torch.float32, device=dev)
    sqrt_snr = torch.tensor(np.sqrt(abar / (1.0 - abar)), dtype=torch.float32, device=dev)
    shape = (B, config["in_channels"], config["image_size"], config["image_size"])
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    trained = list(model.parameters())
    shadow = [p.detach().clone() for p in trained]

    def condition():
        drop = torch.rand(B, device=dev) < P_UNCOND
        if config["num_classes"] > 0:
            labels = torch.randint(0, config["num_classes"], (B,), device=dev)
            return torch.where(drop, torch.full_like(labels, config["num_classes"]), labels)
        if config["vocab_size"] > 0:
            tokens = torch.randint(UNK_TOKEN + 1, config["vocab_size"], (B, CAPTION_WORDS + 2), device=dev)
            tokens[:, 0], tokens[:, -1] = START_TOKEN, END_TOKEN
            empty = torch.full_like(tokens, NULL_TOKEN)
            empty[:, 0], empty[:, 1] = START_TOKEN, END_TOKEN
            return torch.where(drop[:, None], empty, tokens)
        return None

    def step():
        x0 = torch.randn(shape, device=dev)
        cond = condition()
        t = torch.randint(0, T, (B,), device=dev)
        noise = torch.randn(shape, device=dev)
        x_t = sqrt_abar[t].view(-1, 1, 1, 1) * x0 + sqrt_1m_abar[t].view(-1, 1, 1, 1) * noise
        pred = model(x_t, t, cond)
        if diffusion["objective"] == "pred_noise":
            loss = F.mse_loss(pred, noise)
        else:
            loss = ((sqrt_snr[t].view(-1, 1, 1, 1) * (pred - x0)) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(trained, CLIP)
        opt.step()
        with torch.no_grad():
            for s, p in zip(shadow, trained):
                s.mul_(EMA_DECAY).add_(p, alpha=1 - EMA_DECAY)
        return loss.detach()

    model.train()
    for _ in range(args.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(args.steps):
        loss = step()
    loss = loss.item()  # waits for the device: the last step is inside the timing
    elapsed = time.perf_counter() - start
    if not math.isfinite(loss):
        raise BadInput(f"non-finite loss {loss} at the last step")
    version = ".".join(torch.__version__.split(".")[:2])
    print(f"peer unet: width {config['width']} multipliers {','.join(map(str, config['multipliers']))} batch {B}: "
          f"{args.steps * B / elapsed:.1f} img/s, {elapsed / args.steps:.3f} s/step, {params} parameters "
          f"(torch {version}, " + (torch.cuda.get_device_name(dev) if dev.type == "cuda" else
                                   f"{torch.get_num_threads()} threads") + ")")


if __name__ == "__main__":
    try:
        main()
    except BadInput as e:
        print(f"unet.py: error: {e}", file=sys.stderr)
        sys.exit(1)
