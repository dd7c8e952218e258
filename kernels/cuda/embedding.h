// CUDA embedding lookups and their weight gradient, on cudl's stream. Indices are
// already checked to lie in [0, V); `padding` is the row without gradient, or -1.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cuda {

// Position of the first index outside [0, v), or -1: a device-side scan whose
// answer is read back (this synchronises the stream).
std::int64_t first_bad_index(const Tensor& idx, std::int64_t v);

// One thread per output element.
void embedding_forward_naive(const Tensor& idx, const Tensor& w, Tensor& out);
// A block per position copying its row, float4 when rows are 16-byte multiples.
void embedding_forward_rows(const Tensor& idx, const Tensor& w, Tensor& out);

// One thread per dout element, atomicAdd into dw: the order of the additions
// (and so the float rounding) varies from run to run.
void embedding_backward_atomic(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw);
// Deterministic: positions sorted by index (stable radix sort, cub), then a block
// per row of dw finds its positions by binary search and sums them in order;
// every element of dw is written once, no atomics.
void embedding_backward_sorted(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw);

}  // namespace cudl::cuda
