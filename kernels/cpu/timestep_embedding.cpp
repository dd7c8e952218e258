#include "kernels/cpu/timestep_embedding.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/timestep_embedding.h"

namespace cudl::cpu {

void timestep_embedding_naive(const Tensor& t, Tensor& out) {
  const std::int64_t n = out.size(0), dim = out.size(1), half = dim / 2;
  const std::int64_t* pt = t.data<std::int64_t>();
  float* po = out.data<float>();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t j = 0; j < dim; ++j) po[b * dim + j] = static_cast<float>(timestep_embedding_value(pt[b], j, half));
}

void timestep_embedding_sincos(const Tensor& t, Tensor& out) {
  const std::int64_t n = out.size(0), dim = out.size(1), half = dim / 2;
  std::vector<double> freqs(static_cast<std::size_t>(half));
  for (std::int64_t i = 0; i < half; ++i) freqs[i] = timestep_angle(1, i, half);
  const std::int64_t* pt = t.data<std::int64_t>();
  float* po = out.data<float>();
  const double* f = freqs.data();
#pragma omp parallel for schedule(static) if (n * half >= kParallelMin / 16)  // a sine and a cosine per pair
  for (std::int64_t b = 0; b < n; ++b) {
    const double step = static_cast<double>(pt[b]);
    float* row = po + b * dim;
    for (std::int64_t i = 0; i < half; ++i) {
      const double angle = step * f[i];
      row[i] = static_cast<float>(std::sin(angle));
      row[half + i] = static_cast<float>(std::cos(angle));
    }
  }
}

}  // namespace cudl::cpu
