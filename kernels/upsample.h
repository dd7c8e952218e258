// Nearest-neighbour upsampling of NCHW by an integer factor on both axes.
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

Tensor upsample_nearest2d_forward(const Tensor& x, std::int64_t scale, Impl impl = Impl::Auto);
// Sums each scale x scale block of dout.
Tensor upsample_nearest2d_backward(const Tensor& dout, std::int64_t scale, Impl impl = Impl::Auto);

}  // namespace cudl
