// CPU sums over the dims flagged in `reduce`, times `scale` (1 for sum, 1/count
// for mean). `out` holds the kept elements in order (any shape of that size).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace cudl::cpu {

// One output at a time over the full-rank index, in double (the reference).
void reduce_sum_naive(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out);
// Collapsed dims, double accumulators, OpenMP over outputs: innermost dim
// reduced, a SIMD sum per contiguous run of each output; innermost dim kept,
// blocks of adjacent outputs each adding SIMD rows. Few outputs (a full sum, a
// bias gradient) also split their reduced range into parts (reduce_parts).
void reduce_sum_omp(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out);

}  // namespace cudl::cpu
