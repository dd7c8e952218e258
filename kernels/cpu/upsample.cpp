#include "kernels/cpu/upsample.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>

namespace cudl::cpu {

namespace {

// The input viewed as rows: planes * H rows of W values.
// Read into named variables, not a structured binding: clang cannot capture
// bindings in OpenMP regions (the libFuzzer build, tests/fuzz).
struct InputRows {
  std::int64_t rows, width;
};
InputRows input_rows(const Tensor& x) { return {x.size(0) * x.size(1) * x.size(2), x.size(3)}; }
}  // namespace

void upsample_nearest2d_forward_naive(const Tensor& x, std::int64_t scale, Tensor& out) {
  const std::int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t oh = 0; oh < h * scale; ++oh)
      for (std::int64_t ow = 0; ow < w * scale; ++ow)
        po[(p * h * scale + oh) * w * scale + ow] = px[(p * h + oh / scale) * w + ow / scale];
}

void upsample_nearest2d_backward_naive(const Tensor& dout, std::int64_t scale, Tensor& dx) {
  const std::int64_t planes = dx.size(0) * dx.size(1), h = dx.size(2), w = dx.size(3);
  const float* pg = dout.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t ih = 0; ih < h; ++ih)
      for (std::int64_t iw = 0; iw < w; ++iw) {
        double sum = 0.0;
        for (std::int64_t i = 0; i < scale; ++i)
          for (std::int64_t j = 0; j < scale; ++j)
            sum += pg[(p * h * scale + ih * scale + i) * w * scale + iw * scale + j];
        pd[(p * h + ih) * w + iw] = static_cast<float>(sum);
      }
}

// Input row r (plane p, row h) maps to output rows r*scale .. r*scale + scale-1.
void upsample_nearest2d_forward_omp(const Tensor& x, std::int64_t scale, Tensor& out) {
  const InputRows input = input_rows(x);
  const std::int64_t rows = input.rows, w = input.width;
  const std::int64_t out_w = w * scale;
  const float* px = x.data<float>();
  float* po = out.data<float>();
#pragma omp parallel for schedule(static) if (out.numel() >= kParallelMin)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = px + r * w;
    float* first = po + r * scale * out_w;
    for (std::int64_t iw = 0; iw < w; ++iw)
      for (std::int64_t j = 0; j < scale; ++j) first[iw * scale + j] = in[iw];
    for (std::int64_t i = 1; i < scale; ++i) std::copy(first, first + out_w, first + i * out_w);
  }
}

void upsample_nearest2d_backward_omp(const Tensor& dout, std::int64_t scale, Tensor& dx) {
  const InputRows input = input_rows(dx);
  const std::int64_t rows = input.rows, w = input.width;
  const std::int64_t out_w = w * scale;
  const float* pg = dout.data<float>();
  float* pd = dx.data<float>();
#pragma omp parallel for schedule(static) if (dout.numel() >= kParallelMin)
  for (std::int64_t r = 0; r < rows; ++r) {
    float* d = pd + r * w;
    std::fill(d, d + w, 0.0f);
    for (std::int64_t i = 0; i < scale; ++i) {
      const float* g = pg + (r * scale + i) * out_w;
      for (std::int64_t iw = 0; iw < w; ++iw)
        for (std::int64_t j = 0; j < scale; ++j) d[iw] += g[iw * scale + j];
    }
  }
}

}  // namespace cudl::cpu
