// CUDA bilinear upsampling of NCHW by an integer `scale` (kernels/upsample_bilinear.h).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per output element, four taps: a single pass that reads each input
// value from cache about scale^2 times, bound by the output writes. Both the
// naive and the fast variant run it; they differ in the backward pass.
void upsample_bilinear2d_forward(const Tensor& x, std::int64_t scale, Tensor& out);
// Deterministic gathers (no atomics), one thread per dx element. Naive: every
// output in the 3scale x 3scale window that can read the element, weighted.
void upsample_bilinear2d_backward_naive(const Tensor& dout, std::int64_t scale, Tensor& dx);
// Separable: dout reduced along W into [planes, out_h, W] first, then along H;
// 6 scale reads per dx element instead of 9 scale^2.
void upsample_bilinear2d_backward_separable(const Tensor& dout, std::int64_t scale, Tensor& dx);

}  // namespace cudl::cuda
