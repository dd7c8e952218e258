// positional_encoding: out = x + pe[:S] for x [N, S, E], the sinusoidal table of
// "Attention is all you need": pe[p, 2i] = sin(p * 10000^(-2i/E)),
// pe[p, 2i+1] = cos(p * 10000^(-2i/E)). No dropout.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"
#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

// S must not exceed max_len (the table's length in the module that owns it).
Tensor positional_encoding_forward(const Tensor& x, std::int64_t max_len, Impl impl = Impl::Auto);
// The table is a constant, so dx = dout (returned as a copy on dout's device).
Tensor positional_encoding_backward(const Tensor& dout, Impl impl = Impl::Auto);

// pe[p, e] for model width `width`, in double: the angle p * 10000^(-2i/E)
// reaches thousands of radians, where a float angle would be off by ~1e-4.
CUDL_HOST_DEVICE double positional_encoding_value(std::int64_t p, std::int64_t e, std::int64_t width) {
  const double angle = static_cast<double>(p) * pow(10000.0, -static_cast<double>(e - e % 2) / static_cast<double>(width));
  return e % 2 == 0 ? sin(angle) : cos(angle);
}

}  // namespace cudl
