// CPU sums over the dims flagged in `reduce`, times `scale` (1 for sum, 1/count
// for mean). `out` holds the kept elements in order (any shape of that size).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace cudl::cpu {

// One output at a time over the full-rank index, in double (the reference).
void reduce_sum_naive(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out);
// Collapsed dims, double accumulators. Innermost dim reduced: OpenMP over
// outputs, a SIMD sum per contiguous run; few outputs (a full sum) split their
// range into a fixed number of parts, added in order. Innermost dim kept: OpenMP
// over blocks of adjacent outputs, each reduced as a SIMD row.
void reduce_sum_omp(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out);

}  // namespace cudl::cpu
