#!/usr/bin/env python3
"""Evaluates a cudl checkpoint with PyTorch: proof that the file is a torch.nn state_dict.

Builds the torch.nn equivalent of the checkpoint's model (its `config` metadata),
loads the tensors, normalises the Fashion-MNIST test images as cudl did (pixels
scaled to [0, 1], then (x - input_mean) / input_std) and prints the accuracy,
which should match `cudl eval --checkpoint FILE`.

    python3 scripts/torch_eval.py runs/<run>/best.safetensors [--data DIR]

Needs only torch and numpy (Debian: python3-torch); the safetensors file is
parsed here with struct + json.
"""
import argparse
import gzip
import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

DTYPES = {"F32": np.float32, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    metadata = header.pop("__metadata__", {})
    body = data[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(body[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, metadata


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find(dir, name):
    for candidate in (name, name + ".gz"):
        if os.path.exists(os.path.join(dir, candidate)):
            return os.path.join(dir, candidate)
    sys.exit(f"torch_eval: no {name}[.gz] in {dir}")


def three_layer(c):
    pooled = c["num_filters"] * (c["height"] // 2) * (c["width"] // 2)
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(c["in_channels"], c["num_filters"], c["filter_size"], padding=(c["filter_size"] - 1) // 2)),
        ("relu1", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(pooled, c["hidden"][0])),
        ("relu2", nn.ReLU()),
        ("fc2", nn.Linear(c["hidden"][0], c["num_classes"])),
    ]))


def deep(c):
    layers, channels, h, w = [], c["in_channels"], c["height"], c["width"]
    for out in c["channels"]:
        for _ in range(c["convs_per_stage"]):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        layers.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(channels * h * w, c["hidden"][0]), nn.BatchNorm1d(c["hidden"][0]), nn.ReLU()]
    if c["dropout"] > 0:
        layers.append(nn.Dropout(c["dropout"]))
    layers.append(nn.Linear(c["hidden"][0], c["num_classes"]))
    return nn.Sequential(*layers)


def fcnet(c):
    layers, width = [nn.Flatten()], c["in_channels"] * c["height"] * c["width"]
    for hidden in c["hidden"]:
        layers.append(nn.Linear(width, hidden))
        if c["norm"] == "batch":
            layers.append(nn.BatchNorm1d(hidden))
        elif c["norm"] == "layer":
            layers.append(nn.LayerNorm(hidden))
        layers.append(nn.ReLU())
        if c["dropout"] > 0:
            layers.append(nn.Dropout(c["dropout"]))
        width = hidden
    layers.append(nn.Linear(width, c["num_classes"]))
    return nn.Sequential(*layers)


BUILDERS = {"three_layer": three_layer, "deep": deep, "fcnet": fcnet}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    tensors, meta = read_safetensors(args.checkpoint)
    config = json.loads(meta["config"])
    model = BUILDERS[config["kind"]](config)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    # cudl does not keep BatchNorm's num_batches_tracked (unused with a fixed momentum).
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"torch_eval: state_dict mismatch: missing {missing}, unexpected {unexpected}")
    model.eval()

    images = read_idx(find(args.data, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0
    labels = read_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64)
    mean = np.array(json.loads(meta["input_mean"]), dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.array(json.loads(meta["input_std"]), dtype=np.float32).reshape(1, -1, 1, 1)
    x = torch.from_numpy((images[:, None, :, :] - mean) / std)
    with torch.no_grad():
        predictions = torch.cat([model(batch).argmax(1) for batch in x.split(500)])
    correct = int((predictions == torch.from_numpy(labels)).sum())
    print(f"model: {config['kind']} ({sum(p.numel() for p in model.parameters())} parameters) from {args.checkpoint}")
    print(f"torch {torch.__version__} test accuracy: {100.0 * correct / len(labels):.2f}% ({correct}/{len(labels)})")


if __name__ == "__main__":
    main()
