// CPU embedding lookups and their weight gradient. Indices are already checked
// to lie in [0, V); `padding` is the row without gradient, or -1.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cpu {

// Position of the first index outside [0, v), or -1.
std::int64_t first_bad_index(const Tensor& idx, std::int64_t v);

void embedding_forward_naive(const Tensor& idx, const Tensor& w, Tensor& out);
// Rows copied whole, positions over OpenMP threads.
void embedding_forward_omp(const Tensor& idx, const Tensor& w, Tensor& out);

// Sums in double, position by position.
void embedding_backward_naive(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw);
// Positions counting-sorted by index (stable), then each row of dw summed by one
// thread from its own positions in order: deterministic, no atomics, and the
// same order as a sequential pass.
void embedding_backward_sorted(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw);

}  // namespace cudl::cpu
