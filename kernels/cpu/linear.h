// CPU linear. x is viewed as [N, D] (all leading dims flattened).
#pragma once

#include "core/tensor.h"

namespace cudl::cpu {

// Plain loops, one dot product per output, accumulated in double.
void linear_forward_naive(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out);
void linear_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db);
// BLAS GEMMs: out = x w^T; dx = dout w; dw = dout^T x; db summed with OpenMP.
void linear_forward_blas(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out);
void linear_backward_blas(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db);

}  // namespace cudl::cpu
