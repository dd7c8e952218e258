#include "kernels/cpu/upsample_bilinear.h"

#include <algorithm>
#include <vector>

#include "kernels/bilinear_math.h"
#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

namespace {
struct Planes {
  std::int64_t planes, h, w;  // of the input (x or dx)
};
Planes planes_of(const Tensor& input) { return {input.size(0) * input.size(1), input.size(2), input.size(3)}; }

std::vector<LinearTaps> axis_taps(std::int64_t out, std::int64_t scale, std::int64_t in) {
  std::vector<LinearTaps> taps(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) taps[o] = linear_taps(o, scale, in);
  return taps;
}
}  // namespace

void upsample_bilinear2d_forward_naive(const Tensor& x, std::int64_t scale, Tensor& out) {
  // Named variables, not a structured binding: clang cannot capture bindings in OpenMP regions.
  const Planes dims = planes_of(x);
  const std::int64_t planes = dims.planes, h = dims.h, w = dims.w;
  const std::int64_t oh_n = h * scale, ow_n = w * scale;
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow) {
        const LinearTaps th = linear_taps(oh, scale, h), tw = linear_taps(ow, scale, w);
        const float* plane = px + p * h * w;
        po[(p * oh_n + oh) * ow_n + ow] =
            th.l0 * (tw.l0 * plane[th.i0 * w + tw.i0] + tw.l1 * plane[th.i0 * w + tw.i1]) +
            th.l1 * (tw.l0 * plane[th.i1 * w + tw.i0] + tw.l1 * plane[th.i1 * w + tw.i1]);
      }
}

void upsample_bilinear2d_backward_naive(const Tensor& dout, std::int64_t scale, Tensor& dx) {
  const Planes dims = planes_of(dx);
  const std::int64_t planes = dims.planes, h = dims.h, w = dims.w;
  const std::int64_t oh_n = h * scale, ow_n = w * scale;
  const float* pg = dout.data<float>();
  std::vector<double> sum(static_cast<std::size_t>(dx.numel()), 0.0);
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow) {
        const LinearTaps th = linear_taps(oh, scale, h), tw = linear_taps(ow, scale, w);
        const double g = pg[(p * oh_n + oh) * ow_n + ow];
        double* plane = sum.data() + p * h * w;
        plane[th.i0 * w + tw.i0] += g * th.l0 * tw.l0;
        plane[th.i0 * w + tw.i1] += g * th.l0 * tw.l1;
        plane[th.i1 * w + tw.i0] += g * th.l1 * tw.l0;
        plane[th.i1 * w + tw.i1] += g * th.l1 * tw.l1;
      }
  float* pd = dx.data<float>();
  for (std::int64_t i = 0; i < dx.numel(); ++i) pd[i] = static_cast<float>(sum[i]);
}

void upsample_bilinear2d_forward_omp(const Tensor& x, std::int64_t scale, Tensor& out) {
  // Named variables, not a structured binding: clang cannot capture bindings in OpenMP regions.
  const Planes dims = planes_of(x);
  const std::int64_t planes = dims.planes, h = dims.h, w = dims.w;
  const std::int64_t oh_n = h * scale, ow_n = w * scale;
  const std::vector<LinearTaps> cols = axis_taps(ow_n, scale, w);
  const float* px = x.data<float>();
  float* po = out.data<float>();
#pragma omp parallel for schedule(static) if (out.numel() >= kParallelMin)
  for (std::int64_t row = 0; row < planes * oh_n; ++row) {
    const std::int64_t p = row / oh_n, oh = row % oh_n;
    const LinearTaps th = linear_taps(oh, scale, h);
    const float *r0 = px + (p * h + th.i0) * w, *r1 = px + (p * h + th.i1) * w;
    float* o = po + row * ow_n;
    for (std::int64_t ow = 0; ow < ow_n; ++ow) {
      const LinearTaps& tw = cols[ow];
      o[ow] = th.l0 * (tw.l0 * r0[tw.i0] + tw.l1 * r0[tw.i1]) + th.l1 * (tw.l0 * r1[tw.i0] + tw.l1 * r1[tw.i1]);
    }
  }
}

void upsample_bilinear2d_backward_separable(const Tensor& dout, std::int64_t scale, Tensor& dx) {
  const Planes dims = planes_of(dx);
  const std::int64_t planes = dims.planes, h = dims.h, w = dims.w;
  const std::int64_t oh_n = h * scale, ow_n = w * scale;
  const std::vector<LinearTaps> cols = axis_taps(ow_n, scale, w);
  const float* pg = dout.data<float>();
  std::vector<float> reduced(static_cast<std::size_t>(planes * oh_n * w));  // dout summed along W
#pragma omp parallel for schedule(static) if (dout.numel() >= kParallelMin)
  for (std::int64_t row = 0; row < planes * oh_n; ++row) {
    const float* g = pg + row * ow_n;
    float* r = reduced.data() + row * w;
    std::fill(r, r + w, 0.0f);
    for (std::int64_t ow = 0; ow < ow_n; ++ow) {
      r[cols[ow].i0] += cols[ow].l0 * g[ow];
      r[cols[ow].i1] += cols[ow].l1 * g[ow];
    }
  }
  float* pd = dx.data<float>();
#pragma omp parallel for schedule(static) if (dout.numel() >= kParallelMin)
  for (std::int64_t row = 0; row < planes * h; ++row) {
    const std::int64_t p = row / h, ih = row % h;
    float* d = pd + row * w;
    std::fill(d, d + w, 0.0f);
    const OutputWindow win = output_window(ih, scale, oh_n);
    for (std::int64_t oh = win.first; oh < win.end; ++oh) {
      const float weight = linear_weight(oh, ih, scale, h);
      if (weight == 0.0f) continue;
      const float* r = reduced.data() + (p * oh_n + oh) * w;
      for (std::int64_t iw = 0; iw < w; ++iw) d[iw] += weight * r[iw];
    }
  }
}

}  // namespace cudl::cpu
