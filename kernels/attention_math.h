// The pieces of scaled_dot_product_attention shared by the CPU kernels and the
// CUDA kernels: the problem's sizes and which key a query attends.
#pragma once

#include <cstdint>

#include "core/host_device.h"

namespace cudl {

// q [BH, S, Dh], k and v [BH, T, Dh] with BH = N * H; `mask` (nullable) is the
// [S, T] mask's data on the kernels' device.
struct AttentionDims {
  std::int64_t batch_heads, s, t, dh;
  float scale;
  bool causal;
  const float* mask;
};

// Key j is seen by query i unless causal hides it (j > i, torch's tril(ones(S, T)))
// or the mask holds 0 there.
CUDL_HOST_DEVICE bool attends(const AttentionDims& d, std::int64_t i, std::int64_t j) {
  return !(d.causal && j > i) && (d.mask == nullptr || d.mask[i * d.t + j] != 0.0f);
}

// Causal attention hides every key past the last query of a block: the number of
// keys that queries [0, row_end) can see.
CUDL_HOST_DEVICE std::int64_t visible_keys(const AttentionDims& d, std::int64_t row_end) {
  return d.causal && row_end < d.t ? row_end : d.t;
}

}  // namespace cudl
