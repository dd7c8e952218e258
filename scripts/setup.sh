#!/usr/bin/env bash
# Installs everything cudl needs to build, test and train from Debian's packages.
# Idempotent: packages already present are skipped, so a second run costs seconds.
#   scripts/setup.sh            build + test + data dependencies
#   scripts/setup.sh --torch    also Debian's PyTorch (golden generator, CPU peer benchmarks)
#                               and SciPy + mpmath (tests/data generators)
set -euo pipefail

packages=(cmake g++ make pkg-config zlib1g-dev libpng-dev nlohmann-json3-dev
          libeigen3-dev libgtest-dev libbenchmark-dev libopenblas-dev libblis-dev libblis-openmp-dev
          dataset-fashion-mnist python3 python3-numpy
          libfreetype-dev libhdf5-dev fonts-noto-color-emoji fonts-dejavu-core unicode-data
          clang libclang-rt-14-dev libomp-14-dev)  # clang: the libFuzzer harnesses (tests/fuzz)
if [[ "${1:-}" == "--torch" ]]; then packages+=(python3-torch python3-scipy python3-mpmath); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all dependencies present"
