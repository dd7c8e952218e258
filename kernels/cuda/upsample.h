// CUDA nearest-neighbour upsampling of NCHW by an integer `scale` on both axes.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per output element (forward) or input element (backward), full
// NCHW index arithmetic per element.
void upsample_nearest2d_forward_naive(const Tensor& x, std::int64_t scale, Tensor& out);
void upsample_nearest2d_backward_naive(const Tensor& dout, std::int64_t scale, Tensor& dx);
// One thread per input element owning its scale x scale output block: x (or dx)
// is touched once, one division per block, and a warp's row segments are
// contiguous so accesses stay coalesced.
void upsample_nearest2d_forward_block(const Tensor& x, std::int64_t scale, Tensor& out);
void upsample_nearest2d_backward_block(const Tensor& dout, std::int64_t scale, Tensor& dx);

}  // namespace cudl::cuda
