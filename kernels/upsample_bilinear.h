// Bilinear upsampling of NCHW by an integer factor on both axes:
// F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

Tensor upsample_bilinear2d_forward(const Tensor& x, std::int64_t scale, Impl impl = Impl::Auto);
// dx [N, C, H, W] from dout [N, C, H*scale, W*scale], as torch's backward;
// deterministic on every implementation.
Tensor upsample_bilinear2d_backward(const Tensor& dout, std::int64_t scale, Impl impl = Impl::Auto);

}  // namespace cudl
