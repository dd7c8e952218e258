// CPU losses: `loss` [1] gets the mean, `dx` its gradient. `y` holds the int64
// labels (already checked to lie in [0, C)) or the float target.
#pragma once

#include "core/tensor.h"
#include "kernels/loss_math.h"

namespace cudl::cpu {

// Plain loops in double (the reference).
void loss_naive(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx);
// Rows or elements spread over OpenMP threads, float math per row.
void loss_omp(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx);

}  // namespace cudl::cpu
