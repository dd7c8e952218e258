#!/usr/bin/env python3
"""Writes cudl's golden cases: one op, its float32 inputs, and the outputs and
gradients PyTorch computes for them in float64 (see README.md beside this file).

    python3 tests/golden/generate.py                 # (re)write every case here
    python3 tests/golden/generate.py --only conv2d   # just one op's cases
    python3 tests/golden/generate.py --check DIR     # recompute the cases in DIR

--check runs each case in DIR (ours, or cases from another generator) through
this script's op semantics and reports the largest relative error per file; it
exits 1 when any error exceeds --check-tol. Works with torch 1.13 and 2.x and
needs nothing but torch.
"""
import argparse
import json
import math
import os
import struct
import sys
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------
# safetensors, written and read with struct + json so that the script needs
# only torch. Little-endian data, header padded to 8 bytes.
# ---------------------------------------------------------------------------
DTYPE_CODES = {torch.float32: ("F32", "f"), torch.int64: ("I64", "q")}
CODE_DTYPES = {"F32": (torch.float32, "f", 4), "I64": (torch.int64, "q", 8)}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        code, fmt = DTYPE_CODES[t.dtype]
        values = t.contiguous().reshape(-1).tolist()
        blob = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    temp = str(path) + ".tmp.%d" % os.getpid()
    with open(temp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(temp, path)


def read_safetensors(path):
    data = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    body = data[8 + length :]
    tensors = {}
    for name, entry in header.items():
        dtype, fmt, size = CODE_DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        values = struct.unpack("<%d%s" % ((end - begin) // size, fmt), body[begin:end])
        tensors[name] = torch.tensor(values, dtype=dtype).reshape(entry["shape"])
    return tensors, metadata


# ---------------------------------------------------------------------------
# Op semantics: torch.nn.functional unless stated. Each function takes
# the inputs (float64, or int64 for labels/indices) and the attributes as the
# strings stored in the file, and returns `out` or a dict of outputs.
# ---------------------------------------------------------------------------
class Op:
    def __init__(self, fn, grads=(), loss=False):
        self.fn = fn
        self.grads = grads  # inputs that get a d<input> when present
        self.loss = loss


def svm_loss(t, a):
    x, y = t["x"], t["y"]
    correct = x.gather(1, y[:, None])
    not_target = torch.ones_like(x).scatter(1, y[:, None], 0.0)
    return (torch.clamp(x - correct + 1.0, min=0.0) * not_target).sum() / x.shape[0]


def temporal_softmax_loss(t, a):
    """normalize=batch (the default) divides by N, normalize=tokens by N*T
    (CaptioningSolverTransformer's mean, masked steps counted)."""
    logp = F.log_softmax(t["x"], dim=-1)
    picked = logp.gather(-1, t["y"][..., None]).squeeze(-1)
    n, steps = t["x"].shape[0], t["x"].shape[1]
    return -(t["mask"] * picked).sum() / (n * steps if a.get("normalize") == "tokens" else n)


def batch_norm(t, a):
    eps = float(a["eps"])
    if int(a["training"]):
        return F.batch_norm(t["x"], None, None, t["gamma"], t["beta"], training=True, eps=eps)
    return F.batch_norm(t["x"], t["running_mean"], t["running_var"], t["gamma"], t["beta"], training=False, eps=eps)


def attention(q, k, v, mask, scale=None):
    """softmax(scale q k^T) v (scale 1/sqrt(Dh) by default) with scores where
    mask == 0 at -inf; a query whose keys are all masked gets 0 (not NaN) and no gradient."""
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is None:
        return torch.softmax(scores, dim=-1) @ v
    empty = (mask == 0).all(dim=-1, keepdim=True)
    scores = scores.masked_fill(mask == 0, float("-inf")).masked_fill(empty, 0.0)
    return torch.softmax(scores, dim=-1).masked_fill(empty, 0.0) @ v


def multi_head_attention(t, a):
    heads = int(a["num_heads"])
    n, s, e = t["query"].shape
    dh = e // heads

    def project(name, w, b):
        x = F.linear(t[name], t[w], t[b])
        return x.reshape(n, x.shape[1], heads, dh).transpose(1, 2)

    y = attention(project("query", "wq", "bq"), project("key", "wk", "bk"), project("value", "wv", "bv"),
                  t["attn_mask"])
    return F.linear(y.transpose(1, 2).reshape(n, s, e), t["wp"], t["bp"])


def scaled_dot_product_attention(t, a):
    """Optional attn_mask [S, T] (1 attend, 0 masked) and scale; causal is tril(ones(S, T)), and both combine."""
    s, tt = t["q"].shape[-2], t["k"].shape[-2]
    mask = torch.ones(s, tt, dtype=torch.float64).tril() if int(a["causal"]) else None
    if "attn_mask" in t:
        mask = t["attn_mask"] if mask is None else mask * t["attn_mask"]
    return attention(t["q"], t["k"], t["v"], mask, float(a["scale"]) if "scale" in a else None)


def positional_encoding(t, a):
    x = t["x"]
    s, e = x.shape[1], x.shape[2]
    assert s <= int(a["max_len"]), "sequence longer than max_len"
    position = torch.arange(s, dtype=torch.float64)[:, None]
    even = torch.arange(0, e, 2, dtype=torch.float64)
    angle = position * torch.pow(10000.0, -even / e)
    pe = torch.zeros(s, e, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : e // 2])
    return x + pe


def timestep_embedding(t, a):
    half = int(a["dim"]) // 2
    freqs = torch.exp(-torch.arange(half, dtype=torch.float64) * math.log(10000.0) / (half - 1))
    args = t["t"].double()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


def ddpm_alpha_bar(schedule, steps):
    """cumprod(1 - beta) for the three noise schedules (linear, cosine, sigmoid), in float64."""
    if schedule == "linear":
        scale = 1000.0 / steps
        betas = torch.linspace(1e-4 * scale, 0.02 * scale, steps, dtype=torch.float64)
    else:
        u = torch.arange(steps + 1, dtype=torch.float64) / steps
        if schedule == "cosine":
            s = 0.008
            abar = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
        elif schedule == "sigmoid":
            lo, hi = torch.sigmoid(torch.tensor(-3.0, dtype=torch.float64)), torch.sigmoid(torch.tensor(3.0, dtype=torch.float64))
            abar = (hi - torch.sigmoid(6 * u - 3)) / (hi - lo)
        else:
            raise ValueError("unknown schedule " + schedule)
        abar = abar / abar[0]
        betas = torch.clamp(1 - abar[1:] / abar[:-1], 0.0, 0.999)
    return torch.cumprod(1 - betas, dim=0)


def ddpm_q_sample(t, a):
    abar = ddpm_alpha_bar(a["schedule"], int(a["timesteps"]))[t["t"]]
    abar = abar.reshape(-1, *([1] * (t["x0"].dim() - 1)))
    return abar.sqrt() * t["x0"] + (1 - abar).sqrt() * t["noise"]


def matmul(t, a):
    """torch.matmul of op(a) and op(b); trans_a / trans_b (default 0) transpose the last two dims first."""
    def op(name):
        x = t[name]
        return x.transpose(-2, -1) if int(a.get("trans_" + name, "0")) else x
    return torch.matmul(op("a"), op("b"))


def concat(t, a):
    count = sum(1 for name in t if name.startswith("x"))
    return torch.cat([t["x%d" % i] for i in range(count)], dim=int(a["dim"]))


def embedding(t, a):
    padding = int(a["padding_idx"]) if "padding_idx" in a else None
    return F.embedding(t["idx"], t["w"], padding_idx=padding)


def sgd_momentum(t, a):
    v = float(a["momentum"]) * t["velocity"] - float(a["lr"]) * t["dw"]
    return {"out": t["w"] + v, "out_velocity": v}


def rmsprop(t, a):
    d = float(a["decay_rate"])
    cache = d * t["cache"] + (1 - d) * t["dw"] ** 2
    return {"out": t["w"] - float(a["lr"]) * t["dw"] / (cache.sqrt() + float(a["eps"])), "out_cache": cache}


def adam(t, a, weight_decay=0.0):
    lr, b1, b2, eps = (float(a[k]) for k in ("lr", "beta1", "beta2", "eps"))
    step = int(a["t"]) + 1
    w = t["w"] * (1 - lr * weight_decay)
    m = b1 * t["m"] + (1 - b1) * t["dw"]
    v = b2 * t["v"] + (1 - b2) * t["dw"] ** 2
    m_hat, v_hat = m / (1 - b1**step), v / (1 - b2**step)
    return {"out": w - lr * m_hat / (v_hat.sqrt() + eps), "out_m": m, "out_v": v}


def reduction(fn):
    """torch.sum / torch.mean over the "dims" attribute ("0,2"; absent: every dim)."""
    def run(t, a):
        x = t["x"]
        dims = [int(d) for d in a["dims"].split(",")] if "dims" in a else list(range(x.dim()))
        return fn(x, dim=dims, keepdim=bool(int(a.get("keepdim", "0"))))
    return run


OPS = {
    "linear": Op(lambda t, a: F.linear(t["x"], t["w"], t["b"]), ("x", "w", "b")),
    "relu": Op(lambda t, a: F.relu(t["x"]), ("x",)),
    "leaky_relu": Op(lambda t, a: F.leaky_relu(t["x"], float(a["negative_slope"])), ("x",)),
    "gelu": Op(lambda t, a: F.gelu(t["x"]), ("x",)),  # the exact (erf) form is gelu's default
    "silu": Op(lambda t, a: t["x"] * torch.sigmoid(t["x"]), ("x",)),
    "tanh": Op(lambda t, a: torch.tanh(t["x"]), ("x",)),
    "sigmoid": Op(lambda t, a: torch.sigmoid(t["x"]), ("x",)),
    "softmax": Op(lambda t, a: torch.softmax(t["x"], dim=-1), ("x",)),
    "cross_entropy": Op(lambda t, a: F.cross_entropy(t["x"], t["y"]), ("x",), loss=True),
    "svm_loss": Op(svm_loss, ("x",), loss=True),
    "bce_with_logits": Op(lambda t, a: F.binary_cross_entropy_with_logits(t["x"], t["target"]), ("x",), loss=True),
    "mse_loss": Op(lambda t, a: F.mse_loss(t["x"], t["target"]), ("x",), loss=True),
    "conv2d": Op(lambda t, a: F.conv2d(t["x"], t["w"], t["b"], stride=int(a["stride"]), padding=int(a["pad"])),
                 ("x", "w", "b")),
    "conv_transpose2d": Op(lambda t, a: F.conv_transpose2d(t["x"], t["w"], t["b"], stride=int(a["stride"]),
                                                           padding=int(a["pad"])), ("x", "w", "b")),
    "max_pool2d": Op(lambda t, a: F.max_pool2d(t["x"], (int(a["kernel_h"]), int(a["kernel_w"])),
                                               stride=int(a["stride"])), ("x",)),
    "upsample_nearest2d": Op(lambda t, a: t["x"].repeat_interleave(int(a["scale"]), dim=2)
                             .repeat_interleave(int(a["scale"]), dim=3), ("x",)),
    "batch_norm": Op(batch_norm, ("x", "gamma", "beta")),
    "layer_norm": Op(lambda t, a: F.layer_norm(t["x"], (t["x"].shape[-1],), t["gamma"], t["beta"],
                                               float(a["eps"])), ("x", "gamma", "beta")),
    "group_norm": Op(lambda t, a: F.group_norm(t["x"], int(a["groups"]), t["gamma"], t["beta"], float(a["eps"])),
                     ("x", "gamma", "beta")),
    "embedding": Op(embedding, ("w",)),
    "matmul": Op(matmul, ("a", "b")),
    "permute": Op(lambda t, a: t["x"].permute(*(int(d) for d in a["dims"].split(","))), ("x",)),
    "concat": Op(concat, ("x0", "x1", "x2", "x3")),
    "slice": Op(lambda t, a: t["x"].narrow(int(a["dim"]), int(a["start"]), int(a["end"]) - int(a["start"])), ("x",)),
    "upsample_bilinear2d": Op(lambda t, a: F.interpolate(t["x"], scale_factor=int(a["scale"]), mode="bilinear",
                                                         align_corners=False), ("x",)),
    "temporal_softmax_loss": Op(temporal_softmax_loss, ("x",), loss=True),
    # bk's gradient is zero in exact arithmetic (softmax is shift invariant), so
    # no relative error can be measured against it: left out, as FORMAT.md says.
    "multi_head_attention": Op(multi_head_attention,
                               ("query", "key", "value", "wq", "bq", "wk", "wv", "bv", "wp", "bp")),
    "scaled_dot_product_attention": Op(scaled_dot_product_attention, ("q", "k", "v")),
    "positional_encoding": Op(positional_encoding, ("x",)),
    "timestep_embedding": Op(timestep_embedding),
    "ddpm_q_sample": Op(ddpm_q_sample, ("x0", "noise")),
    "add": Op(lambda t, a: t["a"] + t["b"], ("a", "b")),
    "sub": Op(lambda t, a: t["a"] - t["b"], ("a", "b")),
    "mul": Op(lambda t, a: t["a"] * t["b"], ("a", "b")),
    "div": Op(lambda t, a: t["a"] / t["b"], ("a", "b")),
    "exp": Op(lambda t, a: torch.exp(t["x"]), ("x",)),
    "log": Op(lambda t, a: torch.log(t["x"]), ("x",)),
    "sqrt": Op(lambda t, a: torch.sqrt(t["x"]), ("x",)),
    "square": Op(lambda t, a: torch.square(t["x"]), ("x",)),
    "neg": Op(lambda t, a: torch.neg(t["x"]), ("x",)),
    "scale_shift": Op(lambda t, a: t["x"] * float(a["scale"]) + float(a["shift"]), ("x",)),
    "where": Op(lambda t, a: torch.where(t["cond"] != 0, t["a"], t["b"]), ("a", "b")),
    "masked_fill": Op(lambda t, a: t["x"].masked_fill(t["mask"] != 0, float(a["value"])), ("x",)),
    "sum": Op(reduction(torch.sum), ("x",)),
    "mean": Op(reduction(torch.mean), ("x",)),
    "sgd": Op(lambda t, a: t["w"] - float(a["lr"]) * t["dw"]),
    "sgd_momentum": Op(sgd_momentum),
    "rmsprop": Op(rmsprop),
    "adam": Op(adam),
    "adamw": Op(lambda t, a: adam(t, a, float(a["weight_decay"]))),
}


def reference(op_name, inputs, attrs, grads, dout=None):
    """PyTorch's results in float64: `out`/`out_*`, and d<name> for each of `grads`
    (the loss's gradient for losses, else dout's)."""
    op = OPS[op_name]
    t = {}
    for name, value in inputs.items():
        if value.is_floating_point():
            t[name] = value.double().requires_grad_(name in grads)
        else:
            t[name] = value.clone()
    outs = op.fn(t, attrs)
    if not isinstance(outs, dict):
        outs = {"out": outs}
    if grads:
        out = outs["out"]
        if op.loss:
            out.backward()
        else:
            out.backward(dout.double())
    results = {name: value.detach().reshape(1) if op.loss and name == "out" else value.detach()
               for name, value in outs.items()}
    for name in grads:
        results["d" + name] = t[name].grad
    return results


# ---------------------------------------------------------------------------
# The cases. Inputs are drawn from a generator seeded by the case's name, so
# adding or reordering cases never changes the others.
# ---------------------------------------------------------------------------
def normal(*shape, scale=1.0, shift=0.0):
    return lambda g: torch.randn(shape, generator=g) * scale + shift


def uniform(lo, hi, *shape):
    return lambda g: torch.rand(shape, generator=g) * (hi - lo) + lo


def labels(classes, *shape):
    return lambda g: torch.randint(0, classes, shape, generator=g)


def binary(p_one, *shape):
    return lambda g: (torch.rand(shape, generator=g) < p_one).float()


def causal_mask(s):
    return lambda g: torch.ones(s, s).tril()


def random_mask(s, t):
    """0/1 with every query attending at least key 0 (an all-masked row is NaN)."""
    def make(g):
        m = binary(0.6, s, t)(g)
        m[:, 0] = 1.0
        return m
    return make


def empty_row_mask(s, t, row):
    """A random_mask whose row `row` attends no key."""
    def make(g):
        m = random_mask(s, t)(g)
        m[row] = 0.0
        return m
    return make


def case(op, label, inputs, **attrs):
    return {"op": op, "label": label, "inputs": inputs, "attrs": {k: str(v) for k, v in attrs.items()}}


def linear_case(label, lead, d, m):
    return case("linear", label, {"x": normal(*lead, d), "w": normal(m, d, scale=1 / math.sqrt(d)), "b": normal(m)})


def conv_case(label, x, w, stride, pad):
    return case("conv2d", label, {"x": normal(*x), "w": normal(*w, scale=1 / math.sqrt(w[1] * w[2] * w[3])),
                                  "b": normal(w[0])}, stride=stride, pad=pad)


def convt_case(label, x, w, stride, pad):
    return case("conv_transpose2d", label, {"x": normal(*x), "w": normal(*w, scale=1 / math.sqrt(w[0] * w[2] * w[3])),
                                            "b": normal(w[1])}, stride=stride, pad=pad)


def pool_case(label, x, kh, kw, stride):
    return case("max_pool2d", label, {"x": normal(*x)}, kernel_h=kh, kernel_w=kw, stride=stride)


def norm_params(c):
    return {"gamma": uniform(0.5, 1.5, c), "beta": normal(c)}


def bn_train(label, x, scale=2.0, shift=0.5):
    return case("batch_norm", label, {"x": normal(*x, scale=scale, shift=shift), **norm_params(x[1])},
                training=1, eps=1e-5)


def bn_eval(label, x):
    c = x[1]
    return case("batch_norm", label, {"x": normal(*x), **norm_params(c), "running_mean": normal(c, scale=0.5),
                                      "running_var": uniform(0.5, 1.5, c)}, training=0, eps=1e-5)


def optimizer_state(*shape, **state):
    return {"w": normal(*shape), "dw": normal(*shape), **{k: v(shape) for k, v in state.items()}}


def mha_case(label, n, s, t, e, heads, mask):
    weights = {}
    for p in "qkvp":
        weights["w" + p] = normal(e, e, scale=1 / math.sqrt(e))
        weights["b" + p] = normal(e, scale=0.1)
    return case("multi_head_attention", label, {"query": normal(n, s, e), "key": normal(n, t, e),
                                                "value": normal(n, t, e), **weights, "attn_mask": mask},
                num_heads=heads)


CASES = [
    linear_case("small", (4,), 10, 6),
    linear_case("batched_3d", (2, 3), 8, 5),
    linear_case("odd", (7,), 13, 3),
    linear_case("single_row", (1,), 5, 1),
    linear_case("batched_4d", (2, 2, 3), 6, 4),

    case("relu", "2d", {"x": normal(4, 7)}),
    case("relu", "4d", {"x": normal(2, 3, 5, 5)}),
    case("leaky_relu", "slope_0.01", {"x": normal(3, 5)}, negative_slope=0.01),
    case("leaky_relu", "slope_0.2", {"x": normal(2, 3, 7)}, negative_slope=0.2),
    case("gelu", "2d", {"x": normal(3, 6)}),
    case("gelu", "wide_range", {"x": normal(5, 9, scale=3.0)}),
    case("silu", "3d", {"x": normal(2, 3, 4)}),
    case("silu", "wide_range", {"x": normal(4, 5, scale=4.0)}),
    case("tanh", "2d", {"x": normal(5, 4, scale=2.0)}),
    case("sigmoid", "2d", {"x": normal(4, 4, scale=3.0)}),
    case("sigmoid", "saturated", {"x": normal(3, 7, scale=10.0)}),

    case("softmax", "2d", {"x": normal(4, 7)}),
    case("softmax", "3d", {"x": normal(2, 3, 5)}),
    case("softmax", "large_logits", {"x": normal(3, 10, scale=30.0)}),
    case("cross_entropy", "cifar", {"x": normal(6, 10), "y": labels(10, 6)}),
    case("cross_entropy", "three_classes", {"x": normal(5, 3), "y": labels(3, 5)}),
    case("cross_entropy", "large_logits", {"x": normal(4, 7, scale=20.0), "y": labels(7, 4)}),
    case("svm_loss", "cifar", {"x": normal(6, 10), "y": labels(10, 6)}),
    case("svm_loss", "odd", {"x": normal(7, 4, scale=0.5), "y": labels(4, 7)}),
    case("svm_loss", "single_row", {"x": normal(1, 5), "y": labels(5, 1)}),
    case("bce_with_logits", "hard_targets", {"x": normal(8), "target": binary(0.5, 8)}),
    case("bce_with_logits", "soft_targets_large_logits", {"x": normal(13, scale=6.0), "target": uniform(0, 1, 13)}),
    case("mse_loss", "2d", {"x": normal(3, 4), "target": normal(3, 4)}),
    case("mse_loss", "3d", {"x": normal(2, 3, 5), "target": normal(2, 3, 5)}),

    conv_case("3x3_pad1", (2, 3, 8, 8), (4, 3, 3, 3), 1, 1),
    conv_case("stride2_odd", (2, 3, 7, 9), (5, 3, 3, 3), 2, 1),
    conv_case("stride3_pad2_rect_kernel", (1, 2, 11, 10), (3, 2, 3, 5), 3, 2),
    conv_case("1x1", (2, 6, 5, 5), (4, 6, 1, 1), 1, 0),
    conv_case("1x1_stride2", (2, 4, 6, 7), (3, 4, 1, 1), 2, 0),
    conv_case("5x5_pad3", (2, 3, 9, 9), (2, 3, 5, 5), 1, 3),
    conv_case("7x7_stride2_pad3", (2, 3, 16, 16), (4, 3, 7, 7), 2, 3),
    conv_case("nopad_rect_input", (3, 2, 6, 11), (4, 2, 3, 3), 1, 0),

    convt_case("stride2_pad1_k4", (2, 4, 4, 4), (4, 3, 4, 4), 2, 1),
    convt_case("stride3_k3", (1, 3, 3, 5), (3, 2, 3, 3), 3, 0),
    convt_case("stride2_k3_odd", (2, 2, 5, 3), (2, 4, 3, 3), 2, 0),
    convt_case("stride1_pad1", (2, 3, 6, 6), (3, 2, 3, 3), 1, 1),
    convt_case("stride2_rect_kernel", (1, 2, 4, 5), (2, 3, 3, 2), 2, 1),
    convt_case("stride3_pad2_k5", (2, 2, 4, 4), (2, 2, 5, 5), 3, 2),
    convt_case("1x1_stride2", (1, 3, 3, 3), (3, 2, 1, 1), 2, 0),

    pool_case("2x2_stride2", (2, 3, 8, 8), 2, 2, 2),
    pool_case("3x3_stride2_overlap", (2, 2, 9, 9), 3, 3, 2),
    pool_case("3x3_stride2_dropped_edge", (1, 3, 8, 7), 3, 3, 2),
    pool_case("2x3_stride1", (2, 2, 5, 6), 2, 3, 1),
    pool_case("3x3_stride3", (1, 2, 10, 11), 3, 3, 3),
    case("upsample_nearest2d", "scale2", {"x": normal(2, 3, 4, 4)}, scale=2),
    case("upsample_nearest2d", "scale3_rect", {"x": normal(1, 2, 3, 5)}, scale=3),

    bn_train("train_2d", (8, 5)),
    bn_train("train_2d_odd", (13, 3)),
    bn_train("train_4d", (4, 3, 5, 5)),
    bn_train("train_4d_odd", (3, 5, 4, 7)),
    bn_train("train_4d_small_variance", (4, 3, 5, 5), scale=0.004, shift=2.0),  # see layer_norm small_variance
    bn_train("train_2d_small_variance", (30, 4), scale=0.004, shift=2.0),
    bn_eval("eval_4d", (4, 3, 5, 5)),
    bn_eval("eval_2d", (6, 4)),
    case("layer_norm", "2d", {"x": normal(4, 6), **norm_params(6)}, eps=1e-5),
    case("layer_norm", "3d", {"x": normal(2, 5, 8), **norm_params(8)}, eps=1e-5),
    case("layer_norm", "shifted", {"x": normal(3, 17, scale=5.0, shift=3.0), **norm_params(17)}, eps=1e-5),
    case("group_norm", "2_groups", {"x": normal(2, 6, 4, 5), **norm_params(6)}, groups=2, eps=1e-5),
    case("group_norm", "4_groups", {"x": normal(3, 8, 3, 3, scale=2.0, shift=1.0), **norm_params(8)}, groups=4, eps=1e-5),
    case("group_norm", "1_group", {"x": normal(2, 4, 3, 5), **norm_params(4)}, groups=1, eps=1e-5),
    case("group_norm", "group_per_channel", {"x": normal(2, 3, 4, 4), **norm_params(3)}, groups=3, eps=1e-5),
    # Small spread around a large mean (2.0 +- 0.004): the variance (1.6e-5) is of the
    # order of eps, so eps matters (eps * 0.1 moves every output by ~30%), and
    # one-pass float32 statistics cancel (sum x^2 - (sum x)^2 / n loses 5 digits).
    case("layer_norm", "small_variance", {"x": normal(3, 40, scale=0.004, shift=2.0), **norm_params(40)}, eps=1e-5),
    case("group_norm", "small_variance", {"x": normal(2, 6, 4, 5, scale=0.004, shift=2.0), **norm_params(6)},
         groups=2, eps=1e-5),

    case("add", "same_shape", {"a": normal(3, 5), "b": normal(3, 5)}),
    case("add", "bias_last_dim", {"a": normal(4, 6), "b": normal(6)}),
    case("add", "both_broadcast", {"a": normal(3, 1, 4), "b": normal(2, 1)}),
    case("add", "scalar_0d", {"a": normal(), "b": normal(2, 3)}),
    case("sub", "column", {"a": normal(5, 1), "b": normal(5, 4)}),
    case("sub", "per_channel", {"a": normal(2, 3, 4, 4), "b": normal(1, 3, 1, 1)}),
    case("mul", "per_channel", {"a": normal(2, 3, 4, 5), "b": normal(1, 3, 1, 1)}),
    case("mul", "both_broadcast", {"a": normal(3, 1, 4), "b": normal(2, 1)}),
    case("mul", "rank5", {"a": normal(2, 1, 3, 1, 2), "b": normal(1, 2, 1, 2, 1)}),
    case("div", "bias_last_dim", {"a": normal(4, 6), "b": uniform(0.5, 1.5, 6)}),
    case("div", "column", {"a": normal(5, 4), "b": uniform(0.5, 1.5, 5, 1)}),
    case("div", "scalar_numerator", {"a": uniform(0.5, 1.5, 1), "b": uniform(0.5, 1.5, 3, 4)}),
    case("exp", "2d", {"x": normal(3, 7)}),
    case("log", "2d", {"x": uniform(0.2, 3.0, 4, 5)}),
    case("sqrt", "2d", {"x": uniform(0.2, 3.0, 3, 6)}),
    case("square", "3d", {"x": normal(2, 3, 4)}),
    case("neg", "2d", {"x": normal(5, 3)}),
    case("scale_shift", "2d", {"x": normal(3, 4)}, scale=-1.5, shift=0.25),
    case("where", "same_shape", {"cond": binary(0.5, 3, 5), "a": normal(3, 5), "b": normal(3, 5)}),
    case("where", "broadcast", {"cond": binary(0.5, 1, 6), "a": normal(4, 6), "b": normal(4, 1)}),
    case("where", "scalar_other", {"cond": binary(0.5, 2, 3, 4), "a": normal(2, 3, 4), "b": normal()}),
    case("masked_fill", "causal_scores", {"x": normal(2, 3, 4, 4), "mask": binary(0.4, 4, 4)}, value=-3.0),
    case("masked_fill", "mask_wider_than_x", {"x": normal(5, 1), "mask": binary(0.5, 5, 6)}, value=0.5),
    case("sum", "all", {"x": normal(3, 4, 5)}),
    case("sum", "middle", {"x": normal(4, 6, 5)}, dims=1),
    case("sum", "outer_inner_keepdim", {"x": normal(3, 4, 5)}, dims="0,2", keepdim=1),
    case("sum", "last", {"x": normal(5, 7)}, dims=-1),
    case("mean", "all", {"x": normal(2, 3, 4)}),
    case("mean", "channels_keepdim", {"x": normal(2, 3, 4, 5)}, dims="0,2,3", keepdim=1),
    case("mean", "rows", {"x": normal(6, 5)}, dims=1),

    case("sgd", "2d", optimizer_state(4, 5), lr=0.01),
    case("sgd_momentum", "2d", optimizer_state(4, 5, velocity=lambda s: normal(*s, scale=0.1)), lr=0.001, momentum=0.9),
    case("sgd_momentum", "1d", optimizer_state(7, velocity=lambda s: normal(*s)), lr=0.1, momentum=0.5),
    case("rmsprop", "2d", optimizer_state(4, 5, cache=lambda s: uniform(0, 0.5, *s)), lr=0.01, decay_rate=0.99,
         eps=1e-8),
    case("adam", "first_step", optimizer_state(4, 5, m=lambda s: normal(*s, scale=0.1), v=lambda s: uniform(0, 0.5, *s)),
         lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, t=0),
    case("adam", "step_6", optimizer_state(3, 7, m=lambda s: normal(*s, scale=0.1), v=lambda s: uniform(0, 0.5, *s)),
         lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8, t=5),
    case("adamw", "first_step", optimizer_state(4, 5, m=lambda s: normal(*s, scale=0.1), v=lambda s: uniform(0, 0.5, *s)),
         lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, t=0, weight_decay=0.01),
    case("adamw", "step_10", optimizer_state(6, m=lambda s: normal(*s, scale=0.1), v=lambda s: uniform(0, 0.5, *s)),
         lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, t=9, weight_decay=0.1),

    case("embedding", "small", {"idx": labels(7, 2, 4), "w": normal(7, 5)}),
    case("embedding", "repeated_rows", {"idx": labels(4, 3, 5), "w": normal(4, 3)}),
    case("embedding", "padding_idx", {"idx": labels(5, 3, 4), "w": normal(5, 3)}, padding_idx=2),
    case("embedding", "negative_padding_idx", {"idx": labels(4, 2, 5), "w": normal(4, 6)}, padding_idx=-1),

    case("matmul", "2d_odd", {"a": normal(7, 3), "b": normal(3, 5)}),
    case("matmul", "batched_3d", {"a": normal(2, 3, 4), "b": normal(2, 4, 5)}),
    case("matmul", "shared_b", {"a": normal(2, 3, 4), "b": normal(4, 5)}),
    case("matmul", "shared_a", {"a": normal(3, 4), "b": normal(2, 4, 5)}),
    case("matmul", "trans_a", {"a": normal(2, 4, 3), "b": normal(2, 4, 5)}, trans_a=1),
    case("matmul", "trans_b_4d", {"a": normal(2, 2, 5, 4), "b": normal(2, 2, 3, 4)}, trans_b=1),
    case("permute", "transpose_2d", {"x": normal(5, 3)}, dims="1,0"),
    case("permute", "rotate_3d", {"x": normal(2, 3, 4)}, dims="2,0,1"),
    case("permute", "attention_heads", {"x": normal(2, 3, 2, 4)}, dims="0,2,1,3"),
    case("concat", "middle_dim", {"x0": normal(2, 3, 4), "x1": normal(2, 2, 4), "x2": normal(2, 1, 4)}, dim=1),
    case("concat", "last_dim", {"x0": normal(3, 2), "x1": normal(3, 5)}, dim=-1),
    case("slice", "middle_dim", {"x": normal(2, 6, 3)}, dim=1, start=1, end=4),
    case("slice", "last_dim", {"x": normal(3, 7)}, dim=-1, start=2, end=7),
    case("upsample_bilinear2d", "scale2", {"x": normal(2, 3, 4, 4)}, scale=2),
    case("upsample_bilinear2d", "scale3_rect", {"x": normal(1, 2, 3, 5)}, scale=3),
    case("upsample_bilinear2d", "single_row", {"x": normal(1, 2, 1, 4)}, scale=2),
    case("temporal_softmax_loss", "small", {"x": normal(3, 5, 9), "y": labels(9, 3, 5), "mask": binary(0.7, 3, 5)}),
    case("temporal_softmax_loss", "tokens", {"x": normal(4, 6, 11), "y": labels(11, 4, 6), "mask": binary(0.7, 4, 6)},
         normalize="tokens"),
    mha_case("self_causal", 2, 4, 4, 8, 2, causal_mask(4)),
    mha_case("cross_masked", 2, 3, 5, 8, 2, random_mask(3, 5)),
    case("scaled_dot_product_attention", "causal",
         {"q": normal(2, 2, 6, 8), "k": normal(2, 2, 6, 8), "v": normal(2, 2, 6, 8)}, causal=1),
    case("scaled_dot_product_attention", "cross",
         {"q": normal(1, 3, 5, 4), "k": normal(1, 3, 7, 4), "v": normal(1, 3, 7, 4)}, causal=0),
    case("scaled_dot_product_attention", "masked_empty_row",
         {"q": normal(2, 2, 5, 8), "k": normal(2, 2, 6, 8), "v": normal(2, 2, 6, 8), "attn_mask": empty_row_mask(5, 6, 2)},
         causal=0),
    case("scaled_dot_product_attention", "masked_causal_scale",
         {"q": normal(1, 2, 7, 16), "k": normal(1, 2, 7, 16), "v": normal(1, 2, 7, 16), "attn_mask": random_mask(7, 7)},
         causal=1, scale=0.2),
    case("positional_encoding", "small", {"x": normal(2, 5, 6)}, max_len=16),
    case("positional_encoding", "full_length", {"x": normal(1, 7, 10)}, max_len=7),
    case("timestep_embedding", "dim16", {"t": labels(1000, 5)}, dim=16),
    case("timestep_embedding", "dim10", {"t": labels(50, 4)}, dim=10),
    case("ddpm_q_sample", "linear", {"x0": normal(3, 1, 4, 4), "noise": normal(3, 1, 4, 4), "t": labels(1000, 3)},
         timesteps=1000, schedule="linear"),
    case("ddpm_q_sample", "linear_50_steps", {"x0": normal(4, 2, 3, 3), "noise": normal(4, 2, 3, 3), "t": labels(50, 4)},
         timesteps=50, schedule="linear"),
    case("ddpm_q_sample", "cosine", {"x0": normal(3, 2, 3, 3), "noise": normal(3, 2, 3, 3), "t": labels(1000, 3)},
         timesteps=1000, schedule="cosine"),
    case("ddpm_q_sample", "sigmoid", {"x0": normal(3, 2, 3, 3), "noise": normal(3, 2, 3, 3), "t": labels(1000, 3)},
         timesteps=1000, schedule="sigmoid"),
    case("ddpm_q_sample", "sigmoid_100_steps", {"x0": normal(5, 3, 4, 4), "noise": normal(5, 3, 4, 4),
                                                "t": labels(100, 5)}, timesteps=100, schedule="sigmoid"),
]


def case_name(c):
    return "%s_%s" % (c["op"], c["label"])


def build_case(c):
    """The tensors of one case, in file order: inputs, outputs, dout, gradients."""
    name = case_name(c)
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    inputs = {k: make(g) for k, make in c["inputs"].items()}
    op = OPS[c["op"]]
    grads = [n for n in op.grads if n in inputs]
    dout = None
    if grads and not op.loss:
        shape = reference(c["op"], inputs, c["attrs"], ())["out"].shape
        dout = torch.randn(shape, generator=g)
    results = reference(c["op"], inputs, c["attrs"], grads, dout)
    tensors = dict(inputs)
    for k, v in results.items():
        if not k.startswith("d"):
            tensors[k] = v.float()
    if dout is not None:
        tensors["dout"] = dout
    for n in grads:
        tensors["d" + n] = results["d" + n].float()
    return tensors, {"op": c["op"], **c["attrs"]}


def split_case(tensors, op):
    """Inputs, stored results and differentiated inputs, by the rule the runner
    uses: d<X> is a gradient when the case has a backward pass (a dout, or a
    loss) and X is one of its tensors; otherwise it is an input (an optimizer's dw)."""
    backward = "dout" in tensors or op.loss

    def is_output(n):
        return n == "out" or n.startswith("out_")

    def is_grad(n):
        return backward and n != "dout" and n.startswith("d") and n[1:] in tensors and not is_output(n[1:])

    inputs = {n: t for n, t in tensors.items() if not is_output(n) and not is_grad(n)}
    expected = {n: t for n, t in tensors.items() if is_output(n) or is_grad(n)}
    return inputs, expected, [n[1:] for n in tensors if is_grad(n)]


def relative_error(computed, ref):
    computed, ref = computed.double(), ref.double()
    if computed.shape != ref.shape:
        return float("inf")
    return ((computed - ref).norm() / max(ref.norm().item(), 1e-12)).item()


def check(folder, tolerance):
    files = sorted(Path(folder).rglob("*.safetensors"))
    if not files:
        print("no .safetensors files under %s" % folder)
        return 1
    worst_overall, failures = 0.0, 0
    for path in files:
        tensors, metadata = read_safetensors(path)
        op_name = metadata["op"]
        if op_name not in OPS:
            print("SKIP  %-40s  op '%s' unknown to this generator" % (path.stem, op_name))
            continue
        inputs, expected, grads = split_case(tensors, OPS[op_name])
        attrs = {k: v for k, v in metadata.items() if k not in ("op", "tol")}
        results = reference(op_name, {n: t for n, t in inputs.items() if n != "dout"}, attrs, grads,
                            inputs.get("dout"))
        errors = {n: relative_error(results[n], t) if n in results else float("inf") for n, t in expected.items()}
        worst = max(errors.values())
        worst_overall = max(worst_overall, worst)
        ok = worst <= tolerance
        failures += not ok
        print("%s  %-40s  max err %.1e  (%s)" % ("OK  " if ok else "DIFF", path.stem, worst,
                                               ", ".join("%s %.1e" % kv for kv in errors.items())))
    print("%d files, largest error %.2e, %d over %.0e" % (len(files), worst_overall, failures, tolerance))
    return 1 if failures else 0


def generate(out_dir, only):
    out_dir.mkdir(parents=True, exist_ok=True)
    names = set()
    total = 0
    for c in CASES:
        if only and c["op"] not in only:
            continue
        name = case_name(c)
        assert name not in names, "duplicate case " + name
        names.add(name)
        tensors, metadata = build_case(c)
        path = out_dir / (name + ".safetensors")
        write_safetensors(path, tensors, metadata)
        total += path.stat().st_size
    print("wrote %d cases (%.0f KB) to %s" % (len(names), total / 1024, out_dir))
    if not only:
        stale = [p.name for p in out_dir.glob("*.safetensors") if p.stem not in names]
        if stale:
            print("not written by this generator (remove if obsolete): " + ", ".join(sorted(stale)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the cases (default: this script's)")
    parser.add_argument("--only", nargs="+", metavar="OP", help="generate only these ops' cases")
    parser.add_argument("--check", metavar="DIR", help="recompute the references of the cases in DIR")
    parser.add_argument("--check-tol", type=float, default=1e-6, help="--check's largest acceptable error")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.check:
        return check(args.check, args.check_tol)
    unknown = set(args.only or ()) - set(OPS)
    if unknown:
        parser.error("unknown op(s): " + ", ".join(sorted(unknown)))
    generate(args.out, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
