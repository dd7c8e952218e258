// CPU temporal softmax loss over rows = N*T steps of V scores; labels already checked.
#pragma once

#include "core/tensor.h"

namespace cudl::cpu {

// `divisor`: N or N*T. Naive: double math, one step after another; omp: float
// math, steps over OpenMP threads (the total still in double).
void temporal_softmax_loss_naive(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor, Tensor& loss,
                                 Tensor& dx);
void temporal_softmax_loss_omp(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor, Tensor& loss,
                               Tensor& dx);

}  // namespace cudl::cpu
