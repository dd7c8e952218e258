// The sizes of one conv2d problem, derived once from x's and w's shapes and
// shared by the CPU and CUDA kernels (plain data, so it can be a kernel argument).
#pragma once

#include <cstdint>

#include "core/host_device.h"
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

// Calls tap(i, j, oh, ow) for every kernel tap (i, j) and output pixel (oh, ow) that read
// input pixel (ih, iw), i.e. oh*stride - pad + i == ih and likewise for w. The dx gathers
// (CPU naive, CUDA naive and col2im) share it, so they visit the same taps in the same order.
// Index: the signed type of the arithmetic (col2im uses int when the sizes fit: a GPU's
// 64-bit division is a long instruction sequence).
template <typename Index = std::int64_t, typename Tap>
CUDL_HOST_DEVICE void for_each_covering_tap(const Conv2dGeometry& g, Index ih, Index iw, Tap tap) {
  const Index kh = Index(g.kh), kw = Index(g.kw), pad = Index(g.pad), stride = Index(g.stride);
  const Index oh = Index(g.oh), ow = Index(g.ow);
  for (Index i = 0; i < kh; ++i) {
    const Index th = ih + pad - i;
    if (th < 0 || th % stride != 0 || th / stride >= oh) continue;
    for (Index j = 0; j < kw; ++j) {
      const Index tw = iw + pad - j;
      if (tw < 0 || tw % stride != 0 || tw / stride >= ow) continue;
      tap(i, j, th / stride, tw / stride);
    }
  }
}

}  // namespace cudl
