#!/usr/bin/env bash
# The test command: installs what is missing, then builds and tests every configuration.
#   1. CPU-only build (-DCUDL_CUDA=OFF), whole test suite
#   2. `cmake --install` + a separate project that find_package(cudl)s it
#   3. CUDA build (when nvcc is present): the GPU tests, device fallback and CLI tests;
#      GPU tests run when a GPU is usable and report themselves SKIPPED with the reason
#      otherwise
#   4. CPU-only build under AddressSanitizer + UndefinedBehaviorSanitizer, whole suite
#   5. libFuzzer harnesses of every file reader (clang), 60 s each: scripts/fuzz.sh
# Build trees go to build/<config>; re-running reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)
export CTEST_OUTPUT_ON_FAILURE=1

# ctest lists skipped tests without their reason; print each distinct reason once.
explain_skips() {  # build dir
  local log=$1/Testing/Temporary/LastTest.log
  [[ -f $log ]] || return 0
  local reasons
  reasons=$(grep -A1 -E '^[^ ]+:[0-9]+: Skipped$' "$log" | grep -vE '^(--|[^ ]+:[0-9]+: Skipped)$' | sort | uniq -c || true)
  [[ -n $reasons ]] && printf 'skipped tests in %s, by reason:\n%s\n' "$1" "$reasons"
  return 0
}

configure_and_build() {  # dir, cmake args...
  local dir=$1; shift
  echo "==> building $dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs"
}
mkdir -p build

configure_and_build build/cpu -DCUDL_CUDA=OFF
ctest --test-dir build/cpu -j"$jobs"
explain_skips build/cpu

echo "==> install and find_package(cudl) from another project"
rm -rf build/install build/consumer
cmake --install build/cpu --prefix build/install >/dev/null
cmake -S tests/install_consumer -B build/consumer -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/consumer -j"$jobs" >/dev/null
build/consumer/consumer

if command -v nvcc >/dev/null 2>&1 || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  configure_and_build build/cuda -DCUDL_CUDA=ON
  # The CPU tests ran in stage 1 on the same sources; here the tests whose code
  # differs in a CUDA build: the GPU tests (skipped with the reason on a machine
  # without one), the device fallback and the CLI. A GPU machine runs everything
  # (scripts/gpu_verify.sh).
  ctest --test-dir build/cuda -j"$jobs" -R 'Cuda|CUDA|Gpu|Flash|Device|Cli|golden_cases'
  explain_skips build/cuda
else
  echo "==> no nvcc: CUDA build skipped"
fi

# -g1: line tables only, enough for the sanitizers' stack traces, and a quarter
# less compile time than -g (26 s -> 20 s for kernels/elementwise.cpp).
configure_and_build build/asan -DCUDL_CUDA=OFF -DCUDL_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUDL_BUILD_BENCHMARKS=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
# One OpenMP thread per test process here: ctest runs $jobs processes at once, and
# their threads would wait at each other's barriers (stage 1 runs the threaded paths).
OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -j"$jobs"
explain_skips build/asan

# 5. libFuzzer on every file reader, 60 s each from the seed corpora (tests/fuzz)
echo "==> fuzzing the file readers"
scripts/fuzz.sh 60
