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
]

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
