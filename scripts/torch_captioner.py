#!/usr/bin/env python3
"""Loads a cudl captioner checkpoint into its torch.nn module and compares logits.

The module below is CS231n's CaptioningTransformer as docs/captioner.md describes it;
the checkpoint's tensors load into it with load_state_dict(strict=True), which proves
the names and shapes. `cudl caption --logits` writes the images it captioned, the
captions it fed back (<START> + its greedy words) and its scores; this script runs
the same images and captions through the torch module and prints the largest
difference of the scores, and whether both pick the same words.

    cudl caption --checkpoint RUN/checkpoint.safetensors --logits /tmp/logits.safetensors a.png b.png
    python3 scripts/torch_captioner.py RUN/checkpoint.safetensors /tmp/logits.safetensors

Exit status 1 when a score differs by more than --atol + --rtol * |score|.
Needs only torch and numpy (Debian: python3-torch).
"""
import argparse
import json
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_eval import read_safetensors  # noqa: E402  (the stdlib-only safetensors reader)


class MultiHeadAttention(nn.Module):
    """CS231n's: key, query, value, proj; scores scaled by 1/sqrt(E/H); mask 0 hides."""

    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.key = nn.Linear(embed_dim, embed_dim)
        self.query = nn.Linear(embed_dim, embed_dim)
        self.value = nn.Linear(embed_dim, embed_dim)
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.heads = num_heads

    def forward(self, query, key, value, attn_mask=None):
        n, s, e = query.shape
        t = value.shape[1]
        h, d = self.heads, e // self.heads
        q = self.query(query).view(n, s, h, d).transpose(1, 2)
        k = self.key(key).view(n, t, h, d).transpose(1, 2)
        v = self.value(value).view(n, t, h, d).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)
        if attn_mask is not None:
            scores = scores.masked_fill(attn_mask == 0, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(n, s, e))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.fc1(x)))  # exact (erf) GELU


class TransformerDecoderLayer(nn.Module):
    """Post-norm, no dropout: LN(x + self-attn), LN(x + cross-attn), LN(x + FFN)."""

    def __init__(self, dim, num_heads, feedforward):
        super().__init__()
        self.self_attn = MultiHeadAttention(dim, num_heads)
        self.cross_attn = MultiHeadAttention(dim, num_heads)
        self.ffn = FeedForward(dim, feedforward)
        self.norm_self = nn.LayerNorm(dim)
        self.norm_cross = nn.LayerNorm(dim)
        self.norm_ffn = nn.LayerNorm(dim)

    def forward(self, tgt, memory, tgt_mask):
        x = self.norm_self(tgt + self.self_attn(tgt, tgt, tgt, tgt_mask))
        x = self.norm_cross(x + self.cross_attn(x, memory, memory))
        return self.norm_ffn(x + self.ffn(x))


class CaptioningTransformer(nn.Module):
    def __init__(self, config):
        super().__init__()
        width = config["wordvec_dim"]
        shape = config["input_shape"]
        self.uses_images = len(shape) == 3
        if self.uses_images:
            stages, channels = [], shape[0]
            for out in config["encoder_channels"]:
                stages += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
                channels = out
            self.encoder = nn.Sequential(*stages)
        else:
            channels = shape[0]
        self.visual_projection = nn.Linear(channels, width)
        self.embedding = nn.Embedding(config["vocab_size"], width, padding_idx=0)  # <NULL> is id 0
        self.layers = nn.ModuleList(
            TransformerDecoderLayer(width, config["num_heads"], config["feedforward"]) for _ in range(config["num_layers"])
        )
        self.output = nn.Linear(width, config["vocab_size"])
        position = torch.arange(config["max_length"], dtype=torch.float64)[:, None]
        frequency = torch.pow(10000.0, -torch.arange(0, width, 2, dtype=torch.float64) / width)
        pe = torch.zeros(config["max_length"], width, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(position * frequency)
        pe[:, 1::2] = torch.cos(position * frequency)
        self.register_buffer("pe", pe.float(), persistent=False)

    def encode(self, inputs):
        if not self.uses_images:
            return self.visual_projection(inputs).unsqueeze(1)
        f = self.encoder(inputs)  # [N, C, h, w] -> one memory token per cell
        return self.visual_projection(f.flatten(2).transpose(1, 2))

    def forward(self, inputs, captions):
        memory = self.encode(inputs)
        t = captions.shape[1]
        x = self.embedding(captions) + self.pe[:t]
        mask = torch.tril(torch.ones(t, t))
        for layer in self.layers:
            x = layer(x, memory, mask)
        return self.output(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="checkpoint.safetensors of `cudl train captioner`")
    parser.add_argument("logits", help="the file of `cudl caption --logits`")
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--rtol", type=float, default=1e-4)
    args = parser.parse_args()

    tensors, metadata = read_safetensors(args.checkpoint)
    if metadata.get("model") != "captioner":
        sys.exit(f"{args.checkpoint}: expected a captioner checkpoint, got model={metadata.get('model')!r}")
    model = CaptioningTransformer(json.loads(metadata["config"]))
    model.load_state_dict(tensors, strict=True)
    model.eval()

    data, _ = read_safetensors(args.logits)
    with torch.no_grad():
        scores = model(data["images"], data["captions"])
    ours = data["scores"]
    diff = (scores - ours).abs()
    bound = args.atol + args.rtol * ours.abs()
    real = data["captions"][:, 1:] != 0  # positions whose next word the caption holds
    same_words = (scores.argmax(-1)[:, :-1] == ours.argmax(-1)[:, :-1])[real].float().mean().item()
    print(f"{sum(p.numel() for p in model.parameters())} parameters loaded (strict)")
    print(f"scores {list(ours.shape)}: max |torch - cudl| = {diff.max().item():.3g} "
          f"(largest |score| {ours.abs().max().item():.3g}); same next word at {100 * same_words:.1f}% of positions")
    if (diff > bound).any():
        print(f"FAIL: {(diff > bound).sum().item()} scores beyond {args.atol} + {args.rtol}*|score|")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
