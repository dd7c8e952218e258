// CUDA sums over the dims flagged in `reduce`, times `scale` (1 for sum, 1/count
// for mean), queued on the device's stream. `out` holds the kept elements in order.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per output, a serial double sum over the full-rank index.
void reduce_sum_naive(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out);
// Collapsed dims, double sums. Innermost dim kept: one thread per output, so a
// warp reads consecutive elements. Innermost dim reduced: a block per output
// (block_reduce). Few outputs also split their range into parts (reduce_parts),
// whose sums are then added in order: the order of additions is the shape's alone.
void reduce_sum_fast(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out);

}  // namespace cudl::cuda
