#!/usr/bin/env bash
# GPU verification in one command, for a machine with an NVIDIA GPU:
#   1. what is there (GPU, driver, nvcc, where libcudnn lives)
#   2. a CUDA build with all cores
#   3. the whole test suite with the GPU active (GPU tests must not be skipped)
#   4. the suite's CUDA tests under compute-sanitizer (memcheck)
#   5. the benchmarks (scripts/benchmark.sh), which write benchmarks/RESULTS.md
# The report goes to $REPORT_DIR (default build/gpu-report): report.md plus logs.
# Missing build dependencies are taken from .gpu-deps/*.deb when present
# (made by scripts/gpu_deps.sh on a machine with Debian's registry).
set -uo pipefail
cd "$(dirname "$0")/.."
report_dir=${REPORT_DIR:-build/gpu-report}
mkdir -p "$report_dir"
report=$report_dir/report.md
jobs=$(nproc)
step() { echo "==> $*"; echo -e "\n## $*" >>"$report"; }

echo "# cudl GPU verification, $(date -u +%F), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >"$report"
step "machine"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  nvcc --version 2>&1 | tail -n 1
  echo "libcudnn: $(ldconfig -p 2>/dev/null | grep -m1 libcudnn.so || find / -name 'libcudnn.so*' 2>/dev/null | head -n 1)"
  echo "cores: $jobs"
} | tee -a "$report"

if compgen -G ".gpu-deps/*.deb" >/dev/null; then
  step "unpacking .gpu-deps into /tmp/cudl-deps"
  for deb in .gpu-deps/*.deb; do dpkg -x "$deb" /tmp/cudl-deps; done
  export CMAKE_PREFIX_PATH=/tmp/cudl-deps/usr:/tmp/cudl-deps/usr/lib/x86_64-linux-gnu/cmake
  export CPATH=/tmp/cudl-deps/usr/include:/tmp/cudl-deps/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}
  export LIBRARY_PATH=/tmp/cudl-deps/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}
  export LD_LIBRARY_PATH=/tmp/cudl-deps/usr/lib/x86_64-linux-gnu:/tmp/cudl-deps/usr/lib/x86_64-linux-gnu/openblas-pthread:/tmp/cudl-deps/usr/lib/x86_64-linux-gnu/blis-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

step "build (CUDA, Release, -j$jobs)"
cmake -S . -B build/gpu -DCUDL_CUDA=ON -DCMAKE_BUILD_TYPE=Release >"$report_dir/configure.log" 2>&1 &&
  cmake --build build/gpu -j"$jobs" >"$report_dir/build.log" 2>&1
build_status=$?
echo "build exit status: $build_status" | tee -a "$report"
[[ $build_status -eq 0 ]] || { tail -n 40 "$report_dir/build.log"; exit 1; }
build/gpu/cudl info | tee -a "$report"

step "test suite with the GPU active"
ctest --test-dir build/gpu -j4 --output-on-failure >"$report_dir/ctest.log" 2>&1
ctest_status=$?
tail -n 15 "$report_dir/ctest.log" | tee -a "$report"
skipped=$(grep -c "(Skipped)" "$report_dir/ctest.log" || true)
echo "skipped with a GPU present: $skipped (should be 0)" | tee -a "$report"

step "compute-sanitizer memcheck over the CUDA tests"
compute-sanitizer --tool memcheck --leak-check full --error-exitcode 99 \
  build/gpu/tests/cudl_tests --gtest_filter='*Cuda*:*CUDA*:*Gpu*:*GPU*' >"$report_dir/memcheck.log" 2>&1
memcheck_status=$?
grep -E "ERROR SUMMARY|PASSED|FAILED" "$report_dir/memcheck.log" | tail -n 5 | tee -a "$report"
echo "memcheck exit status: $memcheck_status" | tee -a "$report"

step "benchmarks"
if [[ -x scripts/benchmark.sh ]]; then
  scripts/benchmark.sh >"$report_dir/benchmark.log" 2>&1
  echo "benchmark exit status: $? (table in benchmarks/RESULTS.md)" | tee -a "$report"
fi

echo "report: $report"
[[ $ctest_status -eq 0 && $memcheck_status -eq 0 && $skipped -eq 0 ]]
