// The host-side plan of gemm_tiled (kernels/cuda/gemm.cu), plain C++ so that the CPU
// tests check it: how a thread's sub-tile is laid out, and when K is split.
#pragma once

#include <algorithm>

#include "core/host_device.h"

namespace cudl::cuda {

// Where a thread's q-th row (or column, q < 8) of its 8 x 8 sub-tile lies in a tile of
// EXTENT rows (columns): two runs of four, half a tile apart. Eight consecutive threads'
// 16-byte shared loads (one wavefront) then cover 128 consecutive bytes: all 32 banks once.
template <int EXTENT>
CUDL_HOST_DEVICE constexpr int sub_tile_offset(int thread, int q) {
  return (q / 4) * (EXTENT / 2) + thread * 4 + q % 4;
}

struct SplitK {
  int splits;       // slices of K, each a separate block
  int k_per_split;  // a multiple of 8 (the K step), so slices keep float4 alignment
};

// A launch of `blocks` output tiles that leaves SMs idle (a skinny product, such as a
// weight gradient with K = batch) gets its K cut into slices: enough blocks for two waves,
// each slice at least 64 deep (8 K steps), at most 16 slices.
inline SplitK split_k_plan(long long blocks, long long k, int multiprocessors) {
  if (blocks >= multiprocessors || k < 128) return {1, static_cast<int>(k)};
  const long long wanted = (2LL * multiprocessors + blocks - 1) / blocks;
  const long long splits = std::max(1LL, std::min({wanted, k / 64, 16LL}));
  const long long per = ((k + splits - 1) / splits + 7) / 8 * 8;
  return {static_cast<int>((k + per - 1) / per), static_cast<int>(per)};  // no empty slice
}

}  // namespace cudl::cuda
