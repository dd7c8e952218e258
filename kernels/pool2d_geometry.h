// The sizes of one max_pool2d problem, shared by the CPU and CUDA kernels.
#pragma once

#include <cstdint>

#include "core/host_device.h"
#include "core/tensor.h"
#include "kernels/max_pool2d.h"

namespace cudl {

struct Pool2dGeometry {
  std::int64_t planes, h, w;  // x viewed as [N*C, H, W]
  std::int64_t kh, kw, stride;
  std::int64_t oh, ow;
};

inline Pool2dGeometry pool2d_geometry(const Shape& x_shape, const Pool2dParams& p) {
  return {x_shape[0] * x_shape[1], x_shape[2], x_shape[3], p.kernel_h, p.kernel_w, p.stride,
          1 + (x_shape[2] - p.kernel_h) / p.stride, 1 + (x_shape[3] - p.kernel_w) / p.stride};
}

// Offset in its plane of the first maximum of window (oh, ow) in row-major window
// order, shared by the CPU and CUDA kernels so that ties go the same way on both.
// A NaN propagates as in PyTorch (and cuDNN's CUDNN_PROPAGATE_NAN): the window's last
// NaN wins, wherever it lies. KH/KW of 0 mean "the size from g", known only at run time.
template <int KH, int KW>
CUDL_HOST_DEVICE std::int64_t window_argmax(const float* plane, const Pool2dGeometry& g, std::int64_t oh,
                                            std::int64_t ow) {
  const std::int64_t kh = KH ? KH : g.kh, kw = KW ? KW : g.kw;
  std::int64_t best = oh * g.stride * g.w + ow * g.stride;
  float best_value = plane[best];
  for (std::int64_t i = 0; i < kh; ++i)
    for (std::int64_t j = 0; j < kw; ++j) {
      const std::int64_t idx = (oh * g.stride + i) * g.w + ow * g.stride + j;
      const float v = plane[idx];
      if (v > best_value || v != v) best = idx, best_value = v;  // v != v: NaN
    }
  return best;
}

// The outputs o (along one axis, of `outputs`) whose window [o*stride, o*stride + k)
// covers input position i: first..last, empty when first > last (an input in the
// edge that the last window drops).
struct CoveringOutputs {
  std::int64_t first, last;
};
CUDL_HOST_DEVICE CoveringOutputs covering_outputs(std::int64_t i, std::int64_t k, std::int64_t stride,
                                                  std::int64_t outputs) {
  return {i < k ? 0 : (i - k + stride) / stride, i / stride < outputs ? i / stride : outputs - 1};
}

}  // namespace cudl
