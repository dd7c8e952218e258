#!/usr/bin/env bash
# The main job: installs what is missing, builds cudl and trains the default
# ConvNet on Fashion-MNIST, on the GPU when one is usable and on the CPU
# otherwise. The CUDA backend is built when nvcc is present and a GPU answers
# nvidia-smi; on a machine without a GPU it would only cost build time.
# Extra arguments go to `cudl train` (see `build/release/cudl train --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p build
cuda=OFF
if nvidia-smi -L >/dev/null 2>&1; then cuda=AUTO; fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCUDL_CUDA=$cuda -DCUDL_BUILD_TESTS=OFF -DCUDL_BUILD_BENCHMARKS=OFF \
  >build/release.configure.log 2>&1 || { cat build/release.configure.log; exit 1; }
cmake --build build/release -j"$(nproc)" --target cudl_cli
exec build/release/cudl train convnet "$@"
