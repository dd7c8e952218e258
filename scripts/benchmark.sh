#!/usr/bin/env bash
# Builds cudl (Release), times every registry op with cudl_bench, times the PyTorch
# peers when torch is importable, and rewrites benchmarks/RESULTS.md.
#   scripts/benchmark.sh            full run (< 20 min on 2 cores)
#   scripts/benchmark.sh --quick    a few minutes: small cases, fewer repetitions
#   scripts/benchmark.sh --devices cpu|cuda|cpu,cuda
#     default: cuda on a machine with a GPU (RESULTS.md's CPU section stays the
#     reference 2-core machine's), else cpu
# Raw outputs are kept in build-bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
devices=cpu
if nvidia-smi -L >/dev/null 2>&1; then devices=cuda; fi
while (($#)); do
  case "$1" in
    --quick) mode=quick ;;
    --devices) devices="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--devices cpu,cuda]" >&2; exit 2 ;;
  esac
  shift
done

# Compile the CUDA backend only when CUDA is timed (nvcc for sm_90 is slow).
cuda=OFF
if [[ $devices == *cuda* ]]; then cuda=ON; fi
build=build-bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCUDL_CUDA=$cuda -DCUDL_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target cudl_bench
out="$build/results"
mkdir -p "$out"

if [[ $mode == quick ]]; then
  # CPU cases up to 3 GFLOP (SGEMM 1024^3 is 2.1), one short run each (no noise figure).
  bench_args=(--max_cpu_gflop=3 --max_cpu_naive_gflop=0.5 --benchmark_min_time=0.02 --benchmark_repetitions=1)
  torch_args=(--quick)
else
  bench_args=(--benchmark_min_time=0.1 --benchmark_repetitions=5)
  torch_args=()
fi
# Other processes skew CPU timings: the load average goes into RESULTS.md.
load=$(cut -d' ' -f1 /proc/loadavg)
"$build/benchmarks/cudl_bench" --devices="$devices" "${bench_args[@]}" --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/cudl_bench.json" --benchmark_out_format=json

results_args=(--bench "$out/cudl_bench.json" --mode "$mode" --load "$load")
# Debian's torch lives in the system Python, not in a virtualenv that may shadow it.
python=/usr/bin/python3
if "$python" -c "import torch" 2>/dev/null; then
  "$python" benchmarks/peers/torch_ops.py "${torch_args[@]}" --devices "$devices" -o "$out/torch.json"
  results_args+=(--torch "$out/torch.json")
else
  echo "benchmark: torch not importable by $python, skipping the PyTorch peers"
fi
"$python" benchmarks/make_results.py "${results_args[@]}" --results benchmarks/RESULTS.md
