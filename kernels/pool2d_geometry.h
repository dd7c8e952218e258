// The sizes of one max_pool2d problem, shared by the CPU and CUDA kernels.
#pragma once

#include <cstdint>

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

}  // namespace cudl
