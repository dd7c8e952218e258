#!/usr/bin/env python3
"""Writes benchmarks/RESULTS.md from cudl_bench's JSON (and the PyTorch peer's).

    make_results.py --bench bench.json [--torch torch.json] [--results benchmarks/RESULTS.md]

RESULTS.md keeps one section per device kind ("cpu", "gpu"): this run replaces the
sections of the devices it measured and leaves the others (a CPU-only run keeps the
last GPU section). Per benchmark it reports the median over repetitions, the
throughput (GFLOP/s for compute-bound ops, GB/s for the rest) and the speed relative
to the peer measured in the same run: the naive implementation on the CPU, the
vendor library (cuBLAS/cuDNN) on the GPU. Ratios are peer time / this time, so
above 1 means faster than the peer.
"""
import argparse
import datetime
import json
import os
import pathlib
import re
import subprocess

# Below this many FLOP per byte moved an op is memory-bound: report GB/s, not GFLOP/s.
COMPUTE_BOUND_INTENSITY = 4.0
SECTION = re.compile(r"<!-- section:(\w+) -->\n.*?<!-- end:\1 -->\n", re.S)


def parse_label(label):
    """'x=2x3 w=4x3 | pad=1' -> ({'x': [2, 3], 'w': [4, 3]}, 'pad=1')."""
    shapes_text, _, attrs = label.partition(" | ")
    shapes = {}
    for token in shapes_text.split():
        name, _, dims = token.partition("=")
        shapes[name] = [int(d) for d in dims.split("x")] if dims else []
    return shapes, attrs


def load_bench(path):
    """One row per benchmark: its median (or only) run, with the cv when repeated."""
    data = json.loads(pathlib.Path(path).read_text())
    rows, cvs = {}, {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        op, case, direction, impl = b["run_name"].split("/")[:4]
        key = (op, case, direction, impl)
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        if b.get("aggregate_name") == "cv":
            cvs[key] = b["real_time"]  # a fraction, unscaled
            continue
        if b["run_type"] == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if b["run_type"] == "iteration" and key in rows:
            continue  # repetitions without aggregates: keep the first
        shapes, attrs = parse_label(b.get("label", ""))
        rows[key] = {"op": op, "case": case, "direction": direction, "impl": impl,
                     "device": "cpu" if impl.startswith("cpu_") else "gpu",
                     "seconds": b["real_time"] * scale, "flops_per_s": b.get("FLOP/s", 0.0),
                     "bytes_per_s": b.get("B/s", 0.0), "shapes": shapes, "attrs": attrs}
    for key, cv in cvs.items():
        if key in rows:
            rows[key]["cv"] = cv
    return data.get("context", {}), list(rows.values())


def peer_impl(row, by_key):
    """The implementation this row is compared with (None when there is none)."""
    if row["device"] == "cpu":
        return "cpu_naive"
    vendors = [k[3] for k in by_key if k[:3] == (row["op"], row["case"], row["direction"])
               and not k[3].startswith(("cpu_", "cuda_"))]
    return vendors[0] if vendors else None


def ratio_text(row, by_key):
    peer = peer_impl(row, by_key)
    if peer == row["impl"]:
        return "peer"
    peer_row = by_key.get((row["op"], row["case"], row["direction"], peer))
    return fmt_ratio(peer_row["seconds"] / row["seconds"]) if peer_row else ""


def fmt_ratio(ratio):
    return f"{ratio:.2f}×" if ratio >= 0.01 else "<0.01×"


def fmt_time(seconds):
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_throughput(row):
    flops, bytes_ = row["flops_per_s"], row["bytes_per_s"]
    if flops > 0 and (bytes_ == 0 or flops / bytes_ >= COMPUTE_BOUND_INTENSITY):
        return f"{flops * 1e-9:.1f} GFLOP/s"
    return f"{bytes_ / 2**30:.1f} GB/s" if bytes_ > 0 else ""


def ops_table(rows, by_key, device):
    peer_name = "cpu_naive" if device == "cpu" else "cuBLAS/cuDNN"
    lines = [f"| op | case | direction | impl | median | noise (cv) | throughput | speed vs {peer_name} |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        cv = f"{r['cv'] * 100:.0f}%" if "cv" in r else ""
        lines.append(f"| {r['op']} | {r['case']} | {r['direction']} | {r['impl']} | {fmt_time(r['seconds'])} | "
                     f"{cv} | {fmt_throughput(r)} | {ratio_text(r, by_key)} |")
    return "\n".join(lines)


def torch_table(rows, torch_results, device):
    torch_device = "cpu" if device == "cpu" else "cuda"
    lines = ["| op | case | direction | impl | cudl median | torch median | speed vs torch |",
             "| --- | --- | --- | --- | ---: | ---: | ---: |"]
    matched = 0
    for t in torch_results:
        if t["device"] != torch_device:
            continue
        for r in rows:
            same_shapes = all(r["shapes"].get(name) == shape for name, shape in t["inputs"].items()
                              if name in r["shapes"]) and r["shapes"].get("x") == t["inputs"].get("x")
            if (r["op"], r["direction"]) != (t["op"], t["direction"]) or not same_shapes or r["impl"].endswith("naive"):
                continue
            matched += 1
            lines.append(f"| {r['op']} | {r['case']} | {r['direction']} | {r['impl']} | {fmt_time(r['seconds'])} | "
                         f"{fmt_time(t['median_s'])} | {fmt_ratio(t['median_s'] / r['seconds'])} |")
    return "\n".join(lines) if matched else ""


def cpu_model():
    """'AMD EPYC (2 cores, AVX-512)' from /proc/cpuinfo (VMs often hide the exact model)."""
    info = pathlib.Path("/proc/cpuinfo").read_text()
    names = re.findall(r"^model name\s*:\s*(.*)$", info, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", info, re.M)
    simd = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"))
                 if flags and flag in flags.group(1).split()), "")
    details = ", ".join(filter(None, [f"{len(names)} cores", simd]))
    return f"{names[0] if names else 'unknown CPU'} ({details})"


def commit():
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def threading_settings():
    """', OMP_WAIT_POLICY=passive' etc.: the environment that changes how threads wait and how many run."""
    names = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "BLIS_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")
    return "".join(f", `{n}={os.environ[n]}`" for n in names if n in os.environ)


def oversubscription_warning(device, load):
    """Lines warning that CPU timings were taken with more runnable work than cores."""
    cores = os.cpu_count() or 1
    if device != "cpu" or not load or float(load) <= cores:
        return []
    return [f"**The machine was oversubscribed** (load average {load} on {cores} cores): short multi-threaded "
            "calls spent most of their time waiting for a core, so their times and ratios overstate the cost; "
            "long calls are slowed by about the share of the CPU the other work took.", ""]


def section(device, context, rows, torch_data, mode, load):
    by_key = {(r["op"], r["case"], r["direction"], r["impl"]): r for r in rows}
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if device == "cpu":
        title = f"CPU: {cpu_model()}, {context.get('cudl_cpu_threads', '?')} threads, BLAS {context.get('cudl_blas', '?')}"
    else:
        title = f"GPU: {context.get('cudl_cuda_device', 'unknown GPU')}"
    parts = [f"<!-- section:{device} -->", f"## {title}", "",
             f"{date}, commit `{commit()}`, {mode} run"
             f"{f', load average {load} at the start' if load else ''}{threading_settings()}; "
             f"{'medians of the repetitions' if any('cv' in r for r in rows) else 'one run per benchmark'}. "
             f"Speed ratios are peer time / this time (above 1 = faster).", "",
             *oversubscription_warning(device, load),
             ops_table(rows, by_key, device), ""]
    comparison = torch_table(rows, torch_data["results"], device) if torch_data else ""
    if comparison:
        ctx = torch_data["context"]
        parts += [f"### PyTorch {ctx.get('torch', '')} on the same machine "
                  f"({'CPU, %s threads' % ctx.get('cpu_threads') if device == 'cpu' else ctx.get('cuda_device')})", "",
                  "Same shapes, matched by input shapes; torch's linear is `F.linear` (SGEMM + bias). "
                  "Ratios are torch time / cudl time (above 1 = cudl faster).", "", comparison, ""]
    parts.append(f"<!-- end:{device} -->")
    return "\n".join(parts) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", required=True, help="cudl_bench --benchmark_out JSON")
    parser.add_argument("--torch", help="benchmarks/peers/torch_ops.py JSON")
    parser.add_argument("--results", default="benchmarks/RESULTS.md")
    parser.add_argument("--mode", default="full", help="'full' or 'quick', noted in the section")
    parser.add_argument("--load", help="the 1-minute load average when the run started")
    args = parser.parse_args()

    context, rows = load_bench(args.bench)
    torch_data = json.loads(pathlib.Path(args.torch).read_text()) if args.torch else None
    path = pathlib.Path(args.results)
    old = path.read_text() if path.exists() else ""
    sections = {m.group(1): m.group(0) for m in SECTION.finditer(old)}
    for device in ("cpu", "gpu"):
        device_rows = [r for r in rows if r["device"] == device]
        if device_rows:
            sections[device] = section(device, context, device_rows, torch_data, args.mode, args.load)
    header = ("# cudl benchmark results\n\n"
              "Written by `scripts/benchmark.sh` (see benchmarks/README.md). Each device's section comes from "
              "the last run that measured it.\n\n")
    path.write_text(header + "\n".join(sections[d] for d in ("cpu", "gpu") if d in sections))
    print(f"make_results: wrote {path} ({', '.join(d for d in ('cpu', 'gpu') if d in sections)})")


if __name__ == "__main__":
    main()
