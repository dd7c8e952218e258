#include "kernels/cpu/max_pool2d.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.h"
#include "kernels/pool2d_geometry.h"

namespace cudl::cpu {

using std::int64_t;

// ---- naive ----
void max_pool2d_forward_naive(const Tensor& x, const Pool2dParams& p, Tensor& out) {
  const Pool2dGeometry g = pool2d_geometry(x.shape(), p);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (int64_t plane = 0; plane < g.planes; ++plane)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const float* window = px + (plane * g.h + oh * g.stride) * g.w + ow * g.stride;
        float best = window[0];
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            const float v = window[i * g.w + j];
            if (v > best || std::isnan(v)) best = v;  // a NaN propagates
          }
        po[(plane * g.oh + oh) * g.ow + ow] = best;
      }
}

void max_pool2d_backward_naive(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx) {
  const Pool2dGeometry g = pool2d_geometry(x.shape(), p);
  const float *px = x.data<float>(), *pg = dout.data<float>();
  float* pdx = dx.data<float>();
  std::fill(pdx, pdx + dx.numel(), 0.0f);
  for (int64_t plane = 0; plane < g.planes; ++plane)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        // Strictly greater: the first maximum in row-major order wins ties; the last NaN
        // wins over everything (PyTorch's rule).
        int64_t best = (plane * g.h + oh * g.stride) * g.w + ow * g.stride;
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t idx = (plane * g.h + oh * g.stride + i) * g.w + ow * g.stride + j;
            if (px[idx] > px[best] || std::isnan(px[idx])) best = idx;
          }
        pdx[best] += pg[(plane * g.oh + oh) * g.ow + ow];
      }
}

// ---- planes in parallel ----
namespace {
template <int KH, int KW>
void forward_planes(const float* x, float* out, const Pool2dGeometry& g) {
#pragma omp parallel for schedule(static) if (g.planes * g.h * g.w >= kParallelMin)
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* in = x + plane * g.h * g.w;
    float* o = out + plane * g.oh * g.ow;
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) o[oh * g.ow + ow] = in[window_argmax<KH, KW>(in, g, oh, ow)];
  }
}

// Each plane belongs to one thread, so overlapping windows accumulate without races.
void backward_planes(const float* dout, const float* x, float* dx, const Pool2dGeometry& g) {
#pragma omp parallel for schedule(static) if (g.planes * g.h * g.w >= kParallelMin)
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* in = x + plane * g.h * g.w;
    const float* d = dout + plane * g.oh * g.ow;
    float* out = dx + plane * g.h * g.w;
    std::fill(out, out + g.h * g.w, 0.0f);
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) out[window_argmax<0, 0>(in, g, oh, ow)] += d[oh * g.ow + ow];
  }
}

// kernel == stride: the windows tile the plane without overlapping, so each one
// is written in a single pass (the routed gradient and zeros), and only the
// bottom rows and right columns that no window covers are cleared apart.
template <int K>
void backward_tiling_planes(const float* dout, const float* x, float* dx, const Pool2dGeometry& g) {
  const int64_t k = K ? K : g.kh;
#pragma omp parallel for schedule(static) if (g.planes * g.h * g.w >= kParallelMin)
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* in = x + plane * g.h * g.w;
    const float* d = dout + plane * g.oh * g.ow;
    float* out = dx + plane * g.h * g.w;
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const int64_t best = window_argmax<K, K>(in, g, oh, ow);
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < k; ++j) {
            const int64_t idx = (oh * k + i) * g.w + ow * k + j;
            out[idx] = idx == best ? d[oh * g.ow + ow] : 0.0f;
          }
      }
      for (int64_t i = 0; i < k; ++i) std::fill(out + (oh * k + i) * g.w + g.ow * k, out + (oh * k + i + 1) * g.w, 0.0f);
    }
    std::fill(out + g.oh * k * g.w, out + g.h * g.w, 0.0f);
  }
}
}  // namespace

void max_pool2d_forward_planes(const Tensor& x, const Pool2dParams& p, Tensor& out) {
  const Pool2dGeometry g = pool2d_geometry(x.shape(), p);
  if (g.kh == 2 && g.kw == 2)
    forward_planes<2, 2>(x.data<float>(), out.data<float>(), g);
  else
    forward_planes<0, 0>(x.data<float>(), out.data<float>(), g);
}

void max_pool2d_backward_planes(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx) {
  const Pool2dGeometry g = pool2d_geometry(x.shape(), p);
  const float *pg = dout.data<float>(), *px = x.data<float>();
  float* pdx = dx.data<float>();
  const bool tiling = g.kh == g.stride && g.kw == g.stride;
  if (tiling && g.kh == 2)
    backward_tiling_planes<2>(pg, px, pdx, g);
  else if (tiling)
    backward_tiling_planes<0>(pg, px, pdx, g);
  else
    backward_planes(pg, px, pdx, g);
}

}  // namespace cudl::cpu
