// CPU bilinear upsampling of NCHW by an integer `scale` (kernels/upsample_bilinear.h).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cpu {

// Four taps per output element.
void upsample_bilinear2d_forward_naive(const Tensor& x, std::int64_t scale, Tensor& out);
// Each output's four weighted values scattered into dx, summed in double.
void upsample_bilinear2d_backward_naive(const Tensor& dout, std::int64_t scale, Tensor& dx);
// Output rows over OpenMP threads, column taps computed once per call.
void upsample_bilinear2d_forward_omp(const Tensor& x, std::int64_t scale, Tensor& out);
// Separable, deterministic: each dout row is first reduced along W into a
// [planes, out_h, W] buffer (a row per thread), then each dx row gathers the
// weighted buffer rows that read it; O(scale) work per element instead of O(scale^2).
void upsample_bilinear2d_backward_separable(const Tensor& dout, std::int64_t scale, Tensor& dx);

}  // namespace cudl::cpu
