#!/usr/bin/env bash
# Training throughput beside a fixed competing load (issue #14): the img/s of one
# bounded `cudl train` epoch on its own, then beside BUSY busy-loop processes,
# for three OpenMP wait policies: libgomp's default spin (GOMP_SPINCOUNT=300000),
# cudl's bounded spin (nothing set: tools/main.cpp sets it) and passive. Fair degradation is about cpus/(cpus + BUSY) of
# the quiet figure; far less means threads spin or pools fight.
#   benchmarks/under_load.sh [BUSY (default: nproc)] [IMAGES (default 6400)]
# Each line gives the 1-minute load average before the run: on a machine shared
# with other users, their load adds to BUSY, so quote it with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
busy=${1:-$(nproc)}
images=${2:-6400}
cudl=${CUDL:-build/cpu/cudl}
[[ -x $cudl ]] || { echo "no $cudl: build it first (cmake --build build/cpu --target cudl_cli)"; exit 1; }
scratch=$(mktemp -d)
pids=()
stop_load() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_load; rm -rf "$scratch"' EXIT

# img/s of the training epoch (evaluation excluded), as `cudl train` prints it.
images_per_second() {  # label, env assignments...
  local label=$1; shift
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local out; out=$(env "$@" "$cudl" train convnet --device cpu --subset "$images" --val 1000 --epochs 1 \
    --out "$scratch/$label" 2>&1) || { echo "$out"; exit 1; }
  printf '%-24s load %5s  %s img/s\n' "$label" "$load" "$(grep -o '[0-9]* img/s' <<<"$out" | tail -1 | cut -d' ' -f1)"
}

echo "cpus $(nproc), busy loops $busy, $images images, $cudl"
for policy in libgomp cudl passive; do
  case $policy in
    libgomp) env=(GOMP_SPINCOUNT=300000) ;;
    cudl) env=() ;;
    passive) env=(OMP_WAIT_POLICY=passive) ;;
  esac
  images_per_second "quiet-$policy" "${env[@]}"
  for ((i = 0; i < busy; ++i)); do
    (while :; do :; done) &
    pids+=($!)
  done
  sleep 2  # let the scheduler spread the load
  images_per_second "loaded-$policy" "${env[@]}"
  stop_load
done
