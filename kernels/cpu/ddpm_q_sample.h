// CPU per-timestep combination out[n] = a[t_n] x[n] + b[t_n] y[n] over samples
// x, y [N, inner]; y and b null: out[n] = a[t_n] x[n]. t is already checked.
#pragma once

#include "core/tensor.h"

namespace cudl::cpu {

// Every element looks up its sample's coefficients, in double (the reference).
void per_timestep_combine_naive(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a, const Tensor* b,
                                Tensor& out);
// Coefficients once per sample, then a vectorised pass over its elements; samples over OpenMP threads.
void per_timestep_combine_rows(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a, const Tensor* b,
                               Tensor& out);

}  // namespace cudl::cpu
