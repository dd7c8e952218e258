// The sizes of one conv2d problem, derived once from x's and w's shapes and
// shared by the CPU and CUDA kernels (plain data, so it can be a kernel argument).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/conv2d.h"

namespace cudl {

struct Conv2dGeometry {
  std::int64_t n, c, h, w;  // input x [N,C,H,W]
  std::int64_t f, kh, kw;   // weight [F,C/groups,KH,KW]
  std::int64_t oh, ow;      // output [N,F,OH,OW]
  std::int64_t stride, pad, groups;
  std::int64_t cg, fg;      // channels and filters per group
  std::int64_t col_rows;    // rows of one group's im2col matrix: cg*kh*kw
};

// x_shape [N,C,H,W], w_shape [F,C/groups,KH,KW]; the shapes must already be checked.
inline Conv2dGeometry conv2d_geometry(const Shape& x_shape, const Shape& w_shape, const Conv2dParams& p) {
  Conv2dGeometry g{};
  g.n = x_shape[0], g.c = x_shape[1], g.h = x_shape[2], g.w = x_shape[3];
  g.f = w_shape[0], g.kh = w_shape[2], g.kw = w_shape[3];
  g.stride = p.stride, g.pad = p.pad, g.groups = p.groups;
  g.oh = 1 + (g.h + 2 * g.pad - g.kh) / g.stride;
  g.ow = 1 + (g.w + 2 * g.pad - g.kw) / g.stride;
  g.cg = g.c / g.groups, g.fg = g.f / g.groups;
  g.col_rows = g.cg * g.kh * g.kw;
  return g;
}

}  // namespace cudl
