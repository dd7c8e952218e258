// timestep_embedding: the sinusoidal embedding of integer diffusion steps that
// conditions a denoiser on t (FORMAT.md row timestep_embedding):
//   half = dim / 2, f_i = exp(-i ln(10000) / (half - 1)),
//   out[n] = [sin(t_n f_0) .. sin(t_n f_{half-1}), cos(t_n f_0) .. cos(t_n f_{half-1})].
// Forward only: t is data, never differentiated.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"
#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

// t [N] int64 -> [N, dim] float32 on t's device; dim even and >= 4 (half - 1 > 0).
Tensor timestep_embedding(const Tensor& t, std::int64_t dim, Impl impl = Impl::Auto);

// The angle t f_i, in double: t reaches 1000 and more, where a float angle
// would be off by ~1e-4 radians. The C functions by their global names: cudl::exp(Var)
// and friends would hide them wherever autograd is included first.
CUDL_HOST_DEVICE double timestep_angle(std::int64_t t, std::int64_t i, std::int64_t half) {
  return static_cast<double>(t) * ::exp(-static_cast<double>(i) * ::log(10000.0) / static_cast<double>(half - 1));
}

// Column j of a step's embedding.
CUDL_HOST_DEVICE double timestep_embedding_value(std::int64_t t, std::int64_t j, std::int64_t half) {
  return j < half ? ::sin(timestep_angle(t, j, half)) : ::cos(timestep_angle(t, j - half, half));
}

}  // namespace cudl
