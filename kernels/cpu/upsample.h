// CPU nearest-neighbour upsampling of NCHW by an integer `scale` on both axes.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cpu {

// Plain loops over every output (forward) or input (backward) element.
void upsample_nearest2d_forward_naive(const Tensor& x, std::int64_t scale, Tensor& out);
void upsample_nearest2d_backward_naive(const Tensor& dout, std::int64_t scale, Tensor& dx);
// Input rows spread over OpenMP threads: forward builds each output row once and
// copies it to the other scale-1 rows; backward adds the scale rows column-wise.
void upsample_nearest2d_forward_omp(const Tensor& x, std::int64_t scale, Tensor& out);
void upsample_nearest2d_backward_omp(const Tensor& dout, std::int64_t scale, Tensor& dx);

}  // namespace cudl::cpu
