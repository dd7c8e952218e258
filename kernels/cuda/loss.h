// CUDA losses: `loss` [1] gets the mean, `dx` its gradient, queued on the
// device's stream. Labels are validated on the device (see loss.cu): when a
// label lies outside [0, C), `on_bad_label(first such row, its label)` runs at
// the next sync point (a copy to the host, synchronize()) and throws there.
#pragma once

#include <cstdint>
#include <functional>

#include "core/tensor.h"
#include "kernels/loss_math.h"

namespace cudl::cuda {

using BadLabel = std::function<void(std::int64_t row, std::int64_t label)>;

// One thread per row (class scores) or element, then one thread sums the losses.
void loss_naive(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx, const BadLabel& on_bad_label);
// One warp per row of class scores; elementwise losses grid-stride with block
// reductions; the partial sums are reduced by one block.
void loss_fused(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx, const BadLabel& on_bad_label);

}  // namespace cudl::cuda
