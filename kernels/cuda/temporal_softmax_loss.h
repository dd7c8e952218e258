// CUDA temporal softmax loss over rows = N*T steps of V scores, queued on the
// device's stream. Labels are validated by the kernels: each function returns
// the first step (flattened n*T + t) whose label lies outside [0, V), or -1.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per step, then one thread sums the steps' losses (the reference).
std::int64_t temporal_softmax_loss_naive(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor,
                                         Tensor& loss, Tensor& dx);
// One warp per step with an online max/sum, then one block sums.
std::int64_t temporal_softmax_loss_warp(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor,
                                        Tensor& loss, Tensor& dx);

}  // namespace cudl::cuda
