#!/usr/bin/env bash
# Reproduces the BLAS measurements in benchmarks/README.md: SGEMM GFLOP/s of
# OpenBLAS (its own kernel choice and forced core types) and BLIS, on 1 and 2
# threads, for several rounds. On a shared machine, compare rounds run while it
# was idle (each line gives the idle % of the second before it).
#   benchmarks/blas_choice.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
dir=build-bench/blas
mkdir -p "$dir"
lib=/usr/lib/x86_64-linux-gnu
inc=/usr/include/x86_64-linux-gnu
cc -O2 benchmarks/sgemm_probe.c -I"$inc/openblas-pthread" "$lib/openblas-pthread/libopenblas.so" -o "$dir/probe_openblas"
cc -O2 benchmarks/sgemm_probe.c -I"$inc/blis-openmp" "$lib/blis-openmp/libblis.so" -o "$dir/probe_blis"

idle() {  # idle percentage of all CPUs over one second
  local a b
  read -r -a a < /proc/stat; sleep 1; read -r -a b < /proc/stat
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $((100 * (b[4] + b[5] - a[4] - a[5]) / total))
}

echo "config threads | n=256 512 1024 2048 GFLOP/s"
for ((r = 1; r <= rounds; ++r)); do
  for t in 1 2; do
    for core in auto Haswell SkylakeX; do
      coretype=(); [[ $core != auto ]] && coretype=(OPENBLAS_CORETYPE=$core)
      echo "idle $(idle)% openblas-$core t=$t | $(env "${coretype[@]}" OPENBLAS_NUM_THREADS=$t "$dir/probe_openblas" | cut -d' ' -f2 | tr '\n' ' ')"
    done
    echo "idle $(idle)% blis t=$t | $(BLIS_NUM_THREADS=$t "$dir/probe_blis" | cut -d' ' -f2 | tr '\n' ' ')"
  done
done
