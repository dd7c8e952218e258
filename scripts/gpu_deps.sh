#!/usr/bin/env bash
# Run on a machine with Debian's registry (not the GPU machine, which reaches
# nothing): downloads the .deb files that scripts/gpu_verify.sh needs but the
# GPU image lacks, into .gpu-deps/ (git-ignored). Carry that folder to the GPU
# machine (the device tool's `carry`).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
cd .gpu-deps
apt-get download libgtest-dev googletest libbenchmark-dev libbenchmark1debian libopenblas-dev libopenblas0-pthread \
  libopenblas-pthread-dev libopenblas0 libblis-dev libblis4 libblis4-openmp libblis-openmp-dev nlohmann-json3-dev \
  libpng-dev libpng16-16 zlib1g-dev libgomp1 2>&1 | tail -n 3
ls -1 *.deb | wc -l | xargs echo "debs:"
