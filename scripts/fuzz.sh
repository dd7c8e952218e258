#!/usr/bin/env bash
# Runs the libFuzzer harnesses of tests/fuzz, one per core at a time (FUZZ_JOBS to change).
#   scripts/fuzz.sh [SECONDS] [NAME...]   (default: 60 s each, every harness)
# Builds them first in build/fuzz (clang, ASan + UBSan, only the library and the
# harnesses). Each grows build/fuzz/corpus/<name> from the seeds in
# tests/fuzz/corpus/<name>; a finding stops the script with status 1 and leaves
# the input in build/fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(npy safetensors idx cifar checkpoint golden_case png emoji_test vocab hdf5)

if [[ ! -f build/fuzz/CMakeCache.txt ]]; then
  cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCUDL_CUDA=OFF -DCUDL_FUZZ=ON -DCUDL_BUILD_TESTS=OFF \
    -DCUDL_BUILD_BENCHMARKS=OFF -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang >build/fuzz.configure.log 2>&1 ||
    { cat build/fuzz.configure.log; exit 1; }
fi
cmake --build build/fuzz -j"$(nproc)" --target cudl_fuzzers >build/fuzz.build.log 2>&1 || { tail -40 build/fuzz.build.log; exit 1; }

mkdir -p build/fuzz/findings
# One harness per core at a time (each is single-threaded): the 60-s CI pass takes
# 10 harnesses x 60 s / nproc of wall time instead of 10 minutes.
fuzz_one() {  # name
  local name=$1 work=build/fuzz/corpus/$1 log=build/fuzz/fuzz_$1.log
  mkdir -p "$work"
  # One OpenMP thread: the readers are single-threaded and the harnesses share the cores.
  # lsan.supp: a leak inside libhdf5 itself (see the file).
  if ! OMP_NUM_THREADS=1 LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp:print_suppressions=0 "build/fuzz/tests/fuzz/fuzz_$name" "$work" "tests/fuzz/corpus/$name" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/findings/$name-" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz_$name: FINDING (input in build/fuzz/findings/, log $log)"
    return 1
  fi
  echo "fuzz_$name: $(grep -E '^#[0-9]+' "$log" | tail -1)"
}
parallel=${FUZZ_JOBS:-$(nproc)}
failed=0
for ((i = 0; i < ${#names[@]}; i += parallel)); do
  pids=()
  for name in "${names[@]:i:parallel}"; do
    fuzz_one "$name" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || exit 1
done
