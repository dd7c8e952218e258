// CUDA losses: `loss` [1] gets the mean, `dx` its gradient, queued on the
// device's stream. Labels are validated on the device (see loss.cu); each
// function returns the first row whose label lies outside [0, C), or -1.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/loss_math.h"

namespace cudl::cuda {

// One thread per row (class scores) or element, then one thread sums the losses.
std::int64_t loss_naive(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx);
// One warp per row of class scores; elementwise losses grid-stride with block
// reductions; the partial sums are reduced by one block.
std::int64_t loss_fused(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx);

}  // namespace cudl::cuda
