#include "kernels/cpu/embedding.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

std::int64_t first_bad_index(const Tensor& idx, std::int64_t v) {
  const std::int64_t* p = idx.data<std::int64_t>();
  for (std::int64_t i = 0; i < idx.numel(); ++i)
    if (p[i] < 0 || p[i] >= v) return i;
  return -1;
}

void embedding_forward_naive(const Tensor& idx, const Tensor& w, Tensor& out) {
  const std::int64_t d = w.size(1);
  const std::int64_t* pi = idx.data<std::int64_t>();
  const float* pw = w.data<float>();
  float* po = out.data<float>();
  for (std::int64_t p = 0; p < idx.numel(); ++p)
    for (std::int64_t j = 0; j < d; ++j) po[p * d + j] = pw[pi[p] * d + j];
}

void embedding_forward_omp(const Tensor& idx, const Tensor& w, Tensor& out) {
  const std::int64_t d = w.size(1);
  const std::int64_t* pi = idx.data<std::int64_t>();
  const float* pw = w.data<float>();
  float* po = out.data<float>();
#pragma omp parallel for schedule(static) if (out.numel() >= kParallelMin)
  for (std::int64_t p = 0; p < idx.numel(); ++p)
    std::memcpy(po + p * d, pw + pi[p] * d, static_cast<std::size_t>(d) * sizeof(float));
}

void embedding_backward_naive(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw) {
  const std::int64_t d = dw.size(1);
  const std::int64_t* pi = idx.data<std::int64_t>();
  const float* pg = dout.data<float>();
  std::vector<double> sum(static_cast<std::size_t>(dw.numel()), 0.0);
  for (std::int64_t p = 0; p < idx.numel(); ++p)
    if (pi[p] != padding)
      for (std::int64_t j = 0; j < d; ++j) sum[pi[p] * d + j] += pg[p * d + j];
  float* pd = dw.data<float>();
  for (std::int64_t i = 0; i < dw.numel(); ++i) pd[i] = static_cast<float>(sum[i]);
}

void embedding_backward_sorted(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw) {
  const std::int64_t v = dw.size(0), d = dw.size(1), n = idx.numel();
  const std::int64_t* pi = idx.data<std::int64_t>();
  // row_start[r] .. row_start[r + 1]: the positions of row r in `positions`, ascending.
  std::vector<std::int64_t> row_start(static_cast<std::size_t>(v + 1), 0), positions(static_cast<std::size_t>(n));
  for (std::int64_t p = 0; p < n; ++p) ++row_start[pi[p] + 1];
  for (std::int64_t r = 0; r < v; ++r) row_start[r + 1] += row_start[r];
  std::vector<std::int64_t> next(row_start.begin(), row_start.end() - 1);
  for (std::int64_t p = 0; p < n; ++p) positions[next[pi[p]]++] = p;

  const float* pg = dout.data<float>();
  float* pd = dw.data<float>();
#pragma omp parallel for schedule(dynamic, 16) if (dw.numel() + n * d >= kParallelMin)
  for (std::int64_t r = 0; r < v; ++r) {
    float* row = pd + r * d;
    std::fill(row, row + d, 0.0f);
    if (r == padding) continue;
    for (std::int64_t k = row_start[r]; k < row_start[r + 1]; ++k) {
      const float* g = pg + positions[k] * d;
      for (std::int64_t j = 0; j < d; ++j) row[j] += g[j];
    }
  }
}

}  // namespace cudl::cpu
