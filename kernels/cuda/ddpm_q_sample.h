// CUDA per-timestep combination out[n] = a[t_n] x[n] + b[t_n] y[n] over samples
// x, y [N, inner]; y and b null: out[n] = a[t_n] x[n]. Timesteps outside [0, T)
// are flagged on the device, as the losses flag labels: each returns the first
// such sample, or -1.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per element (the reference).
std::int64_t per_timestep_combine_naive(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a,
                                        const Tensor* b, Tensor& out);
// A grid row per sample: its coefficients read once, float4 accesses when the rows are 16-byte aligned.
std::int64_t per_timestep_combine_rows(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a,
                                       const Tensor* b, Tensor& out);

}  // namespace cudl::cuda
