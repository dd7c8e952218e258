#include "kernels/cpu/softmax.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cudl::cpu {

void softmax_forward_naive(const Tensor& x, Tensor& out) {
  const std::int64_t cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* xr = px + i * cols;
    float* orow = po + i * cols;
    double max = -std::numeric_limits<double>::infinity(), sum = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) max = std::max<double>(max, xr[j]);
    for (std::int64_t j = 0; j < cols; ++j) sum += std::exp(xr[j] - max);
    for (std::int64_t j = 0; j < cols; ++j) orow[j] = static_cast<float>(std::exp(xr[j] - max) / sum);
  }
}

void softmax_backward_naive(const Tensor& dout, const Tensor& out, Tensor& dx) {
  const std::int64_t cols = out.size(-1), rows = cols == 0 ? 0 : out.numel() / cols;
  const float *pg = dout.data<float>(), *po = out.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t i = 0; i < rows; ++i) {
    double dot = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) dot += static_cast<double>(pg[i * cols + j]) * po[i * cols + j];
    for (std::int64_t j = 0; j < cols; ++j)
      pd[i * cols + j] = static_cast<float>(po[i * cols + j] * (pg[i * cols + j] - dot));
  }
}

void softmax_forward_omp(const Tensor& x, Tensor& out) {
  const std::int64_t cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
  const float* px = x.data<float>();
  float* po = out.data<float>();
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* xr = px + i * cols;
    float* orow = po + i * cols;
    float max = -std::numeric_limits<float>::infinity(), sum = 0.0f;
#pragma omp simd reduction(max : max)
    for (std::int64_t j = 0; j < cols; ++j) max = std::max(max, xr[j]);
    // exp goes to `out` first so that it is evaluated once per element.
    for (std::int64_t j = 0; j < cols; ++j) {
      orow[j] = std::exp(xr[j] - max);
      sum += orow[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (std::int64_t j = 0; j < cols; ++j) orow[j] *= inv;
  }
}

void softmax_backward_omp(const Tensor& dout, const Tensor& out, Tensor& dx) {
  const std::int64_t cols = out.size(-1), rows = cols == 0 ? 0 : out.numel() / cols;
  const float *pg = dout.data<float>(), *po = out.data<float>();
  float* pd = dx.data<float>();
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (std::int64_t i = 0; i < rows; ++i) {
    const float *g = pg + i * cols, *o = po + i * cols;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (std::int64_t j = 0; j < cols; ++j) dot += g[j] * o[j];
    float* d = pd + i * cols;
#pragma omp simd
    for (std::int64_t j = 0; j < cols; ++j) d[j] = o[j] * (g[j] - dot);
  }
}

}  // namespace cudl::cpu
