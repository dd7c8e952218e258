// CPU max pooling. Ties go to the first maximum in row-major window order.
#pragma once

#include "core/tensor.h"
#include "kernels/max_pool2d.h"

namespace cudl::cpu {

// Plain loops over every window.
void max_pool2d_forward_naive(const Tensor& x, const Pool2dParams& p, Tensor& out);
void max_pool2d_backward_naive(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx);
// OpenMP over the N*C planes. Windows with kernel == stride (non-overlapping)
// get a single-pass backward, and the common 2x2 window a loop unrolled at
// compile time.
void max_pool2d_forward_planes(const Tensor& x, const Pool2dParams& p, Tensor& out);
void max_pool2d_backward_planes(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx);

}  // namespace cudl::cpu
