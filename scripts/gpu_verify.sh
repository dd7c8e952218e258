#!/usr/bin/env bash
# GPU verification in one call of the device tool (one H200, 16 cores, no network), in
# under 10 minutes, build included:
#   machine    what is there (GPU, driver, nvcc, cuDNN, compute-sanitizer, torch)
#   deps       .gpu-deps (scripts/gpu_deps.sh, run here): .deb files unpacked into /tmp/cudl-deps,
#              data files (Fashion-MNIST, ...) copied into /usr/share where missing (never over)
#   build      CUDA Release build of cudl_tests, cudl and cudl_bench with all cores
#   tests      the whole suite in parallel shards (gtest XML), and the golden cases; fails on a
#              failed test or a test skipped for want of a GPU (other skips are listed only)
#   memcheck   compute-sanitizer memcheck over the CUDA tests without the `large` cases, one
#              process per test under a time limit; errors inside cuDNN/cuBLAS are reported
#              apart and do not fail the run (--error-exitcode counts them too)
#   bench      cudl_bench on the GPU, the PyTorch peers, and RESULTS.md's GPU section
# Every step runs under its budget (the table below); the report lists each step's time.
#
#   scripts/gpu_verify.sh             on the GPU machine: device tool `run` with carry [".gpu-deps"],
#                                     command: scripts/gpu_verify.sh, timeout_s 600
#   scripts/gpu_verify.sh --dry-run   here, without a GPU: the same steps on the CPU build
#                                     (build/cpu), sanitizer and GPU benchmarks shown, not run;
#                                     DRY_RUN_BUILD=build/cuda rehearses on a configured CUDA
#                                     build instead (its CPU paths, GPU tests skipped)
# Output (at most 8 files, each trimmed to 8 MiB): $OUT when set, else build/gpu-report:
#   report.md build.log tests.log memcheck.log cudl_bench.json torch.json RESULTS.md
set -uo pipefail
cd "$(dirname "$0")/.."

dry_run=0
[[ ${1:-} == --dry-run ]] && dry_run=1
report_dir=${OUT:-${REPORT_DIR:-build/gpu-report}}
work=build/gpu-verify-work  # intermediate files that do not come back
rm -rf "$work"
mkdir -p "$report_dir" "$work"
report=$report_dir/report.md
cores=$(nproc)  # before OMP_NUM_THREADS is set: nproc honours it
jobs=$cores
summary="python3 scripts/gpu_verify_summary.py"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)

# Step budgets in seconds; they add up to 560, under the tool's 600 s. The build's is a
# guess for 16 cores (sm_90 only; gemm.cu's 32 kernels are the longest file); the first
# run's report gives each step's real time.
declare -A budget=([machine]=10 [deps]=20 [build]=220 [tests]=110 [memcheck]=100 [bench]=100)
memcheck_per_test=20 memcheck_parallel=8 test_shards=8

time_scale=1
if ((dry_run)); then
  build=${DRY_RUN_BUILD:-build/cpu}
  jobs=$((cores < 2 ? 1 : 2))
  test_shards=2
  time_scale=6
else
  build=build/gpu
fi
export OMP_NUM_THREADS=$(( jobs / test_shards > 0 ? jobs / test_shards : 1 ))

trim() { # keeps at most 8 MiB of a file: its head and its tail
  local f=$1 max=$((8 << 20))
  [[ -f $f ]] || return 0
  if (($(stat -c %s "$f") > max)); then
    { head -c $((max / 4)) "$f"; echo -e "\n[... trimmed ...]\n"; tail -c $((max / 2)) "$f"; } >"$f.tmp" && mv "$f.tmp" "$f"
  fi
}
step_started=0 step_name=""
begin() {
  step_name=$1
  step_started=$SECONDS
  echo "==> $step_name (budget ${budget[$step_name]} s)"
  echo -e "\n## $step_name (budget ${budget[$step_name]} s)" >>"$report"
}
end() { # end STATUS: one line in the report and in the step table
  local used=$((SECONDS - step_started))
  echo "$step_name: $1 in ${used}s (budget ${budget[$step_name]} s)" | tee -a "$report"
  table+="| $step_name | ${budget[$step_name]} | $used | $1 |"$'\n'
}
# run_for SECONDS CMD...: the command, stopped at its budget (exit status 124 then); the dry
# run's 2 shared cores get six times as long.
run_for() { local t=$(($1 * time_scale)); shift; timeout -k 5 "$((t > 1 ? t : 1))" "$@"; }
table="| step | budget s | used s | status |"$'\n'"| --- | --- | --- | --- |"$'\n'
failed=()

echo "# cudl GPU verification$( ((dry_run)) && echo " (dry run, CPU build)"), $(date -u +%F), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >"$report"

# ---- machine ----
begin machine
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1 | head -n 2
  echo "nvcc: $(nvcc --version 2>/dev/null | tail -n 1 || echo missing)"
  cudnn=$(ldconfig -p 2>/dev/null | grep libcudnn.so | sed -n 1p)
  echo "libcudnn: ${cudnn:-not in ldconfig}"
  echo "compute-sanitizer: $("$sanitizer" --version 2>/dev/null | tail -n 1 | grep . || echo "missing ($sanitizer)")"
  echo "torch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.cuda.is_available())' 2>/dev/null || echo 'not importable')"
  echo "cores: $cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | sed 's/^/    /' | tee -a "$report"
end ok

# ---- deps ----
begin deps
if compgen -G ".gpu-deps/*.deb" >/dev/null && ((dry_run)); then
  # Rehearsed into a scratch folder; the CPU build keeps this machine's own packages.
  for deb in .gpu-deps/*.deb; do dpkg -x "$deb" "$work/deps" || echo "    cannot unpack $deb"; done
  echo "unpacked $(ls .gpu-deps/*.deb | wc -l) .deb files into $work/deps (not used by the dry run's build)" | tee -a "$report"
elif compgen -G ".gpu-deps/*.deb" >/dev/null; then
  for deb in .gpu-deps/*.deb; do dpkg -x "$deb" /tmp/cudl-deps; done
  export CMAKE_PREFIX_PATH=/tmp/cudl-deps/usr:/tmp/cudl-deps/usr/lib/x86_64-linux-gnu/cmake
  export CPATH=/tmp/cudl-deps/usr/include:/tmp/cudl-deps/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}
  export LIBRARY_PATH=/tmp/cudl-deps/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}
  export LD_LIBRARY_PATH=/tmp/cudl-deps/usr/lib/x86_64-linux-gnu:/tmp/cudl-deps/usr/lib/x86_64-linux-gnu/openblas-pthread:/tmp/cudl-deps/usr/lib/x86_64-linux-gnu/blis-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "unpacked $(ls .gpu-deps/*.deb | wc -l) .deb files into /tmp/cudl-deps" | tee -a "$report"
else
  echo "no .gpu-deps/*.deb (the build needs the machine's own packages)" | tee -a "$report"
fi
# Data the tests read from fixed /usr/share paths: files missing there are copied in (the
# GPU machine runs as root), none overwritten; the dry run only counts them.
if [[ -d .gpu-deps/share ]]; then
  missing=0 total=0
  while IFS= read -r f; do
    total=$((total + 1))
    [[ -e /usr/share/${f#.gpu-deps/share/} ]] || missing=$((missing + 1))
  done < <(find .gpu-deps/share -type f)
  if ((dry_run)); then
    echo "    /usr/share: $missing of $total carried files missing here (would be copied)" | tee -a "$report"
  else
    cp -rn .gpu-deps/share/. /usr/share/ && echo "    /usr/share: copied $missing of $total carried files" | tee -a "$report"
  fi
  (cd .gpu-deps/share && find . -mindepth 2 -maxdepth 2 -type d | sed 's|^\./|    carried: /usr/share/|') | tee -a "$report"
fi
end ok

# ---- build ----
begin build
if ((dry_run)); then
  configure=(cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release)
  [[ -n ${DRY_RUN_BUILD:-} ]] || configure+=(-DCUDL_CUDA=OFF)
else
  configure=(cmake -S . -B "$build" -DCUDL_CUDA=ON -DCMAKE_BUILD_TYPE=Release)
  # No system cuDNN: take PyTorch's (the nvidia-cudnn wheel has headers and libcudnn.so.9).
  if ! ldconfig -p 2>/dev/null | grep -q libcudnn.so && [[ ! -e /usr/include/cudnn.h ]]; then
    wheel=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null)
    if [[ -n $wheel && -e $wheel/include/cudnn.h ]]; then
      configure+=(-DCUDNN_INCLUDE_DIR="$wheel/include" -DCUDNN_LIBRARY="$(ls "$wheel"/lib/libcudnn.so* | head -n 1)")
      export LD_LIBRARY_PATH=$wheel/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
      echo "cuDNN from the PyTorch wheel: $wheel" | tee -a "$report"
    fi
  fi
fi
{ run_for "${budget[build]}" "${configure[@]}" &&
  run_for $((budget[build] - (SECONDS - step_started))) cmake --build "$build" -j"$jobs" --target cudl_tests cudl_cli cudl_bench; } \
  >"$report_dir/build.log" 2>&1
build_status=$?
grep -E "error|warning: .*spill" "$report_dir/build.log" | head -n 20 | tee -a "$report"
trim "$report_dir/build.log"
if ((build_status != 0)); then
  end "FAILED (exit $build_status)"
  tail -n 30 "$report_dir/build.log"
  echo -e "\n$table" >>"$report"
  exit 1
fi
end ok
"$build/cudl" info 2>&1 | sed 's/^/    /' | tee -a "$report"

# ---- tests ----
begin tests
tests_bin=$build/tests/cudl_tests
for ((i = 0; i < test_shards; ++i)); do
  GTEST_TOTAL_SHARDS=$test_shards GTEST_SHARD_INDEX=$i run_for "${budget[tests]}" "$tests_bin" \
    --gtest_output=xml:"$work/shard_$i.xml" >"$work/shard_$i.log" 2>&1 &
done
run_for "${budget[tests]}" "$build/cudl" golden tests/golden >"$work/golden.log" 2>&1
golden_status=$?
wait
cat "$work"/shard_*.log "$work/golden.log" >"$report_dir/tests.log"
trim "$report_dir/tests.log"
tail -n 3 "$work/golden.log" | sed 's/^/    golden: /' | tee -a "$report"
if ((dry_run)); then
  $summary tests "$work"/shard_*.xml | tee -a "$report"
else
  $summary tests --gpu "$work"/shard_*.xml | tee -a "$report"
fi
tests_status=${PIPESTATUS[0]}
if ((tests_status == 0 && golden_status == 0)); then end ok; else end FAILED; failed+=(tests); fi

# ---- memcheck ----
begin memcheck
"$tests_bin" --gtest_list_tests >"$work/list.txt" 2>/dev/null
$summary select "$work/list.txt" >"$work/memcheck_tests.txt"
selected=$(tr ':' '\n' <"$work/memcheck_tests.txt" | grep -c .)
batches=$(wc -l <"$work/memcheck_tests.txt")
echo "$selected CUDA tests (no large cases) in $batches processes, $memcheck_per_test s a test, $memcheck_parallel processes at a time" | tee -a "$report"
memcheck_one() { # FILTER (a few tests joined by ':'): one process, its time limit per test
  local tests first
  tests=$(($(tr -cd ':' <<<"$1" | wc -c) + 1))
  first=${1%%:*}
  timeout -k 5 $((memcheck_per_test * tests)) "$sanitizer" --tool memcheck --leak-check full --error-exitcode 99 \
    "$tests_bin" --gtest_filter="$1" >"$work/memcheck/${first//\//_}+$tests.log" 2>&1
}
export -f memcheck_one
export work tests_bin memcheck_per_test sanitizer
mkdir -p "$work/memcheck"
if ((dry_run)); then
  $summary uncovered "$work/memcheck_tests.txt" "$work"/shard_*.xml | tee -a "$report"
  memcheck_status=${PIPESTATUS[0]}
  echo "    would run: $sanitizer --tool memcheck --leak-check full --error-exitcode 99 $tests_bin --gtest_filter=TEST" | tee -a "$report"
  head -n 2 "$work/memcheck_tests.txt" | cut -c1-200 | sed 's/^/      e.g. --gtest_filter=/' | tee -a "$report"
  cp "$work/memcheck_tests.txt" "$report_dir/memcheck.log"
else
  run_for "${budget[memcheck]}" xargs -a "$work/memcheck_tests.txt" -P "$memcheck_parallel" -I{} bash -c 'memcheck_one "$1"' _ {}
  for f in "$work"/memcheck/*.log; do echo "#### $(basename "$f")"; cat "$f"; done >"$report_dir/memcheck.log"
  trim "$report_dir/memcheck.log"
  ran=$(ls "$work"/memcheck/*.log 2>/dev/null | wc -l)
  echo "processes started: $ran of $batches (the rest did not fit the budget)" | tee -a "$report"
  $summary memcheck "$work"/memcheck/*.log | tee -a "$report"
  memcheck_status=${PIPESTATUS[0]}
fi
if ((memcheck_status == 0)); then end ok; else end FAILED; failed+=(memcheck); fi

# ---- bench ----
begin bench
load=$(cut -d' ' -f1 /proc/loadavg)
if ((dry_run)); then
  devices=cpu
  bench_args=(--max_cpu_gflop=0.01 --max_cpu_naive_gflop=0.001 --benchmark_min_time=0.01 --benchmark_repetitions=1
              --benchmark_filter=linear)
  results=$work/RESULTS.md  # the rehearsal leaves benchmarks/RESULTS.md alone
  cp benchmarks/RESULTS.md "$results"
else
  devices=cuda
  # ~550 GPU benchmarks: three short repetitions each fit about 50 s.
  bench_args=(--benchmark_min_time=0.02 --benchmark_repetitions=3)
  results=benchmarks/RESULTS.md
fi
bench_left() { echo $((budget[bench] - (SECONDS - step_started))); }
run_for $(($(bench_left) - 35)) "$build/benchmarks/cudl_bench" --devices="$devices" "${bench_args[@]}" \
  --benchmark_report_aggregates_only=true --benchmark_out="$report_dir/cudl_bench.json" --benchmark_out_format=json \
  >"$work/bench.log" 2>&1
bench_status=$?
results_args=(--bench "$report_dir/cudl_bench.json" --mode quick --load "$load" --results "$results")
if python3 -c "import torch" 2>/dev/null; then
  PYTHONUNBUFFERED=1 run_for $(($(bench_left) - 5)) python3 benchmarks/peers/torch_ops.py --quick --devices "$devices" \
    -o "$report_dir/torch.json" >>"$work/bench.log" 2>&1 && results_args+=(--torch "$report_dir/torch.json")
else
  echo "torch not importable: no PyTorch peers" | tee -a "$report"
fi
if ((bench_status == 0)); then  # a stopped cudl_bench leaves its JSON unfinished
  python3 benchmarks/make_results.py "${results_args[@]}" 2>&1 | tee -a "$report"
  cp "$results" "$report_dir/RESULTS.md"
fi
tail -n 5 "$work/bench.log" | sed 's/^/    /' >>"$report"
echo "cudl_bench exit status $bench_status; $(grep -c '"name"' "$report_dir/cudl_bench.json" 2>/dev/null || echo 0) entries" | tee -a "$report"
if ((bench_status == 0)); then end ok; else end "FAILED (exit $bench_status)"; failed+=(bench); fi

echo -e "\n## steps\n\n$table\ntotal: ${SECONDS}s" >>"$report"
echo -e "\n$table\ntotal: ${SECONDS}s; report: $report"
if ((${#failed[@]})); then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "all steps passed"
