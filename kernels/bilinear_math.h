// Linear interpolation along one axis of upsample_bilinear2d, shared by the CPU
// and CUDA kernels: PyTorch's align_corners=False mapping for an integer scale.
// Output o samples the input at src = (o + 0.5) / scale - 0.5, clamped below at 0,
// between samples i0 = floor(src) and i1 = min(i0 + 1, in - 1).
#pragma once

#include <cstdint>

#include "core/host_device.h"

namespace cudl {

struct LinearTaps {
  std::int64_t i0, i1;
  float l0, l1;  // weights of i0 and i1
};

CUDL_HOST_DEVICE LinearTaps linear_taps(std::int64_t o, std::int64_t scale, std::int64_t in) {
  float src = (1.0f / static_cast<float>(scale)) * (static_cast<float>(o) + 0.5f) - 0.5f;
  if (src < 0.0f) src = 0.0f;
  const std::int64_t i0 = static_cast<std::int64_t>(src);
  const float l1 = src - static_cast<float>(i0);
  return {i0, i0 < in - 1 ? i0 + 1 : i0, 1.0f - l1, l1};
}

// The weight of input sample i in output o (both taps, which coincide at the edge).
CUDL_HOST_DEVICE float linear_weight(std::int64_t o, std::int64_t i, std::int64_t scale, std::int64_t in) {
  const LinearTaps t = linear_taps(o, scale, in);
  return (t.i0 == i ? t.l0 : 0.0f) + (t.i1 == i ? t.l1 : 0.0f);
}

// The outputs [first, end) that can read input sample i: src within one sample of
// i means o within [(i - 1) scale, (i + 2) scale).
struct OutputWindow {
  std::int64_t first, end;
};
CUDL_HOST_DEVICE OutputWindow output_window(std::int64_t i, std::int64_t scale, std::int64_t out) {
  const std::int64_t first = (i - 1) * scale, end = (i + 2) * scale;
  return {first < 0 ? 0 : first, end > out ? out : end};
}

}  // namespace cudl
