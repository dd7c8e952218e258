#!/usr/bin/env bash
# Run on a machine with Debian's registry (not the GPU machine, which reaches nothing):
# gathers into .gpu-deps/ (git-ignored) what scripts/gpu_verify.sh needs there but the GPU
# image lacks, and the device tool carries (`carry: [".gpu-deps"]`):
#   *.deb           the build's libraries (unpacked there into /tmp/cudl-deps)
#   share/PATH      data the tests read from /usr/share/PATH (its files are copied there
#                   when missing): add a branch's own paths below, in GPU_DEPS_SHARE
# The device tool carries at most 64 MiB with the working tree: the total is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The captioning and diffusion data: emoji-test.txt, the Noto colour emoji and the
# DejaVu font the caption grids are drawn with.
share=${GPU_DEPS_SHARE:-"datasets/fashion-mnist unicode/emoji fonts/truetype/noto fonts/truetype/dejavu"}
blas=${CUDL_BLAS:-blis}
mkdir -p .gpu-deps
debs=(libgtest-dev googletest libbenchmark-dev libbenchmark1debian nlohmann-json3-dev libpng-dev libpng16-16
      zlib1g-dev libgomp1 libfreetype-dev libfreetype6 libeigen3-dev libhdf5-dev libhdf5-103-1 libsz2 libaec0)
if [[ $blas == openblas ]]; then
  debs+=(libopenblas-dev libopenblas0-pthread libopenblas-pthread-dev libopenblas0)
else
  debs+=(libblis-dev libblis4 libblis4-openmp libblis-openmp-dev)
fi
(cd .gpu-deps && apt-get download "${debs[@]}" 2>&1 | tail -n 3)
for path in $share; do
  if [[ -d /usr/share/$path ]]; then
    mkdir -p ".gpu-deps/share/$(dirname "$path")"
    rm -rf ".gpu-deps/share/$path"
    cp -r "/usr/share/$path" ".gpu-deps/share/$path"
  else
    echo "gpu_deps: /usr/share/$path is missing here (scripts/setup.sh installs it)" >&2
  fi
done
echo "debs: $(ls -1 .gpu-deps/*.deb | wc -l); carried in all: $(du -sh .gpu-deps | cut -f1) (limit 64 MiB with the tree)"
