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

#include "core/random.h"

namespace cudl {

inline Tensor uniform_parameter(const Shape& shape, float bound, Generator& gen, Device device) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  fill_uniform(t, gen, -bound, bound);
  return t;
}

inline float default_init_bound(std::int64_t fan_in) { return 1.0f / std::sqrt(static_cast<float>(fan_in)); }

}  // namespace cudl
