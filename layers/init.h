// Parameter initialisation, as torch.nn's defaults.
//
// Linear, Conv2d and ConvTranspose2d initialise their weight with
// kaiming_uniform_(a = sqrt(5)), whose bound gain * sqrt(3 / fan_in) with
// gain = sqrt(2 / (1 + a^2)) simplifies to 1 / sqrt(fan_in), and their bias with
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)). fan_in is weight.size(1) times the kernel
// area (torch's _calculate_fan_in_and_fan_out), so for ConvTranspose2d it is
// out_channels / groups * KH * KW. Values come from a Philox Generator: the same
// seed gives the same parameters on the CPU and the GPU.
#pragma once

#include <cmath>

#include "core/check.h"
#include "core/random.h"

namespace cudl {

inline Tensor uniform_parameter(const Shape& shape, float bound, Generator& gen, Device device) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  fill_uniform(t, gen, -bound, bound);
  return t;
}

inline float default_init_bound(std::int64_t fan_in) { return 1.0f / std::sqrt(static_cast<float>(fan_in)); }

// torch.nn.init.xavier_uniform_'s bound sqrt(6 / (fan_in + fan_out)) for a weight of
// 2 or more dims, with torch's fans: size(1) and size(0) times the kernel area (so a
// ConvTranspose2d weight [in, out, k, k] has fan_in out*k*k).
inline float xavier_uniform_bound(const Shape& weight_shape) {
  CUDL_CHECK(weight_shape.size() >= 2, "xavier_uniform: expected a weight of 2 or more dims, got ",
             shape_str(weight_shape));
  std::int64_t receptive = 1;
  for (std::size_t d = 2; d < weight_shape.size(); ++d) receptive *= weight_shape[d];
  const std::int64_t fan_in = weight_shape[1] * receptive, fan_out = weight_shape[0] * receptive;
  return std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
}

}  // namespace cudl
