// CPU softmax over the last dim; x viewed as [rows, cols].
#pragma once

#include "core/tensor.h"

namespace cudl::cpu {

// Plain loops, max-shifted, accumulated in double.
void softmax_forward_naive(const Tensor& x, Tensor& out);
void softmax_backward_naive(const Tensor& dout, const Tensor& out, Tensor& dx);
// Rows spread over OpenMP threads; float math in SIMD-friendly loops.
void softmax_forward_omp(const Tensor& x, Tensor& out);
void softmax_backward_omp(const Tensor& dout, const Tensor& out, Tensor& dx);

}  // namespace cudl::cpu
