#!/usr/bin/python3
"""PyTorch peer timings for cudl's benchmarks (read by benchmarks/make_results.py).

Times the same computations as cudl_bench's cases with torch on the CPU (2 threads,
like cudl) and, when a GPU is present, with CUDA (TF32 off, cudnn.benchmark on).
Each entry names the op and input shapes as cudl's registry does, so results can be
matched by shape:  {"op", "inputs": {"x": [..], ...}, "attrs", "direction",
"device", "impl", "median_s", "times"}.

    /usr/bin/python3 benchmarks/peers/torch_ops.py [--quick] [--devices cpu,cuda] -o torch.json
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# (op, inputs {name: shape}, attrs, the torch call building the output from the tensors)
CASES = [
    ("linear", {"x": [1024, 1024], "w": [1024, 1024], "b": [1024]}, {},
     lambda t, a: F.linear(t["x"], t["w"], t["b"])),
    ("conv2d", {"x": [64, 64, 28, 28], "w": [64, 64, 3, 3], "b": [64]}, {"stride": 1, "pad": 1},
     lambda t, a: F.conv2d(t["x"], t["w"], t["b"], stride=a["stride"], padding=a["pad"])),
    ("conv2d", {"x": [100, 3, 31, 31], "w": [25, 3, 3, 3], "b": [25]}, {"stride": 2, "pad": 1},
     lambda t, a: F.conv2d(t["x"], t["w"], t["b"], stride=a["stride"], padding=a["pad"])),
    ("max_pool2d", {"x": [100, 3, 32, 32]}, {"kernel": 2, "stride": 2},
     lambda t, a: F.max_pool2d(t["x"], a["kernel"], a["stride"])),
    ("layer_norm", {"x": [4096, 1024], "gamma": [1024], "beta": [1024]}, {"eps": 1e-5},
     lambda t, a: F.layer_norm(t["x"], t["x"].shape[-1:], t["gamma"], t["beta"], a["eps"])),
    ("softmax", {"x": [4096, 1024]}, {}, lambda t, a: torch.softmax(t["x"], dim=-1)),
    # The registry's large norm and softmax cases, for a like-for-like comparison.
    ("layer_norm", {"x": [4096, 4096], "gamma": [4096], "beta": [4096]}, {"eps": 1e-5},
     lambda t, a: F.layer_norm(t["x"], t["x"].shape[-1:], t["gamma"], t["beta"], a["eps"])),
    ("batch_norm", {"x": [4096, 1024], "gamma": [1024], "beta": [1024]}, {"eps": 1e-5},
     lambda t, a: F.batch_norm(t["x"], None, None, t["gamma"], t["beta"], training=True, eps=a["eps"])),
    ("softmax", {"x": [1024, 16384]}, {}, lambda t, a: torch.softmax(t["x"], dim=-1)),
    # The autograd plumbing ops (permute is a copy in cudl, hence contiguous()).
    ("matmul", {"a": [64, 512, 512], "b": [64, 512, 512]}, {}, lambda t, a: torch.matmul(t["a"], t["b"])),
    ("matmul", {"a": [4, 4, 64, 32], "b": [4, 4, 64, 32]}, {"trans_b": 1},
     lambda t, a: torch.matmul(t["a"], t["b"].transpose(-2, -1))),
    ("permute", {"x": [32, 64, 8, 64]}, {"dims": "0,2,1,3"}, lambda t, a: t["x"].permute(0, 2, 1, 3).contiguous()),
    ("upsample_bilinear2d", {"x": [16, 64, 16, 16]}, {"scale": 2},
     lambda t, a: F.interpolate(t["x"], scale_factor=a["scale"], mode="bilinear", align_corners=False)),
]

# scaled_dot_product_attention as the registry's cases: (N, H, S, T, Dh, causal),
# fp32. torch's is_causal is the same tril(ones(S, T)) mask as cudl's causal.
ATTENTION_CASES = [(2, 4, 256, 256, 64, False), (2, 4, 256, 256, 64, True), (2, 4, 128, 128, 128, False),
                   (4, 8, 1024, 1024, 64, False), (4, 8, 1024, 1024, 128, True), (2, 8, 4096, 4096, 64, True),
                   (2, 8, 4096, 4096, 128, False)]
for n, h, s, t, dh, causal in ATTENTION_CASES:
    CASES.append(("scaled_dot_product_attention", {"q": [n, h, s, dh], "k": [n, h, t, dh], "v": [n, h, t, dh]},
                  {"causal": int(causal)},
                  lambda t, a: F.scaled_dot_product_attention(t["q"], t["k"], t["v"], is_causal=bool(a["causal"]))))


def sdpa_backends(device):
    """(name, context manager) for each SDPA backend of this torch that takes fp32
    on `device`: flash needs fp16/bf16, so on CUDA that leaves efficient and math."""
    if not hasattr(F, "scaled_dot_product_attention"):
        return []  # torch < 2.0
    if device != "cuda":
        return [("torch_default", None)]
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel  # torch >= 2.3
        return [("torch_" + name, lambda b=b: sdpa_kernel([b]))
                for name, b in (("efficient", SDPBackend.EFFICIENT_ATTENTION), ("math", SDPBackend.MATH))]
    except ImportError:
        ctx = torch.backends.cuda.sdp_kernel
        return [("torch_efficient", lambda: ctx(enable_flash=False, enable_math=False, enable_mem_efficient=True)),
                ("torch_math", lambda: ctx(enable_flash=False, enable_math=True, enable_mem_efficient=False))]


# Timed on the GPU only (too slow for 2 CPU threads): the registry's large GEMM and conv
# cases and the training shapes, the ones gemm_tiled's targets are stated against.
GPU_CASES = [
    ("linear", {"x": [4096, 4096], "w": [4096, 4096], "b": [4096]}, {},
     lambda t, a: F.linear(t["x"], t["w"], t["b"])),
    ("linear", {"x": [128, 784], "w": [100, 784], "b": [100]}, {},
     lambda t, a: F.linear(t["x"], t["w"], t["b"])),
    ("conv2d", {"x": [64, 64, 56, 56], "w": [64, 64, 3, 3], "b": [64]}, {"stride": 1, "pad": 1},
     lambda t, a: F.conv2d(t["x"], t["w"], t["b"], stride=a["stride"], padding=a["pad"])),
    ("max_pool2d", {"x": [64, 64, 112, 112]}, {"kernel": 2, "stride": 2},
     lambda t, a: F.max_pool2d(t["x"], a["kernel"], a["stride"])),
]


def timed(fn, sync, min_time, repetitions):
    """Median over `repetitions` of the mean time of a batch lasting at least `min_time`."""
    fn()
    sync()
    start = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - start, 1e-7)
    iters = max(1, int(min_time / once))
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        times.append((time.perf_counter() - start) / iters)
    return times


def measure(device, min_time, repetitions):
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    results = []
    for op, shapes, attrs, build in CASES + (GPU_CASES if device == "cuda" else []):
        tensors = {name: torch.randn(shape, generator=gen).to(device).requires_grad_()
                   for name, shape in shapes.items()}
        if op == "scaled_dot_product_attention":
            results += measure_attention(device, shapes, attrs, build, tensors, gen, sync, min_time, repetitions)
            continue
        for direction in ("forward", "backward"):
            if direction == "forward":
                def fn():
                    with torch.no_grad():
                        build(tensors, attrs)
            else:
                out = build(tensors, attrs)
                dout = torch.randn(out.shape, generator=gen).to(device)
                # retain_graph: the same graph is replayed, so only backward is timed
                def fn():
                    torch.autograd.grad(out, list(tensors.values()), dout, retain_graph=True)
            times = timed(fn, sync, min_time, repetitions)
            results.append({"op": op, "inputs": shapes, "attrs": attrs, "direction": direction,
                            "device": device, "impl": "torch", "median_s": statistics.median(times),
                            "times": times})
            print(f"torch {device:4} {op:10} {direction:8} {list(shapes.values())[0]}  "
                  f"{statistics.median(times) * 1e3:9.3f} ms", file=sys.stderr)
    return results


def measure_attention(device, shapes, attrs, build, tensors, gen, sync, min_time, repetitions):
    """One entry per SDPA backend and direction; impl names the backend that ran."""
    import contextlib
    results = []
    for impl, context in sdpa_backends(device):
        with (context() if context else contextlib.nullcontext()):
            for direction in ("forward", "backward"):
                try:
                    if direction == "forward":
                        def fn():
                            with torch.no_grad():
                                build(tensors, attrs)
                    else:
                        out = build(tensors, attrs)
                        dout = torch.randn(out.shape, generator=gen).to(device)

                        def fn():
                            torch.autograd.grad(out, list(tensors.values()), dout, retain_graph=True)
                    times = timed(fn, sync, min_time, repetitions)
                except RuntimeError as e:  # the backend refuses these inputs (or runs out of memory)
                    print(f"torch {device} sdpa {impl} {direction} {shapes['q']}: skipped ({e})", file=sys.stderr)
                    continue
                results.append({"op": "scaled_dot_product_attention", "inputs": shapes, "attrs": attrs,
                                "direction": direction, "device": device, "impl": impl,
                                "median_s": statistics.median(times), "times": times})
                print(f"torch {device:4} sdpa {impl:16} {direction:8} {shapes['q']} causal={attrs['causal']}  "
                      f"{statistics.median(times) * 1e3:9.3f} ms", file=sys.stderr)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--quick", action="store_true", help="shorter runs (fewer repetitions)")
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (cudl uses the machine's 2)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    # Compare FP32 with FP32: no TF32 tensor cores behind matmul or cuDNN.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True

    min_time, repetitions = (0.05, 3) if args.quick else (0.2, 5)
    devices = [d for d in args.devices.split(",") if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
    results = []
    for device in devices:
        results += measure(device, min_time, repetitions)
    context = {"torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
               "cuda_device": torch.cuda.get_device_name(0) if "cuda" in devices else None}
    with open(args.output, "w") as f:
        json.dump({"context": context, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
