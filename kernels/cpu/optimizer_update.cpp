#include "kernels/cpu/optimizer_update.h"

#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

double sum_of_squares_naive(const float* x, std::int64_t n) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

double sum_of_squares_parallel(const float* x, std::int64_t n) {
  double sum = 0.0;
#pragma omp parallel for simd reduction(+ : sum) schedule(static) if (n >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

void scale_naive(float* x, std::int64_t n, float scale) {
  for (std::int64_t i = 0; i < n; ++i) x[i] *= scale;
}

void scale_parallel(float* x, std::int64_t n, float scale) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) x[i] *= scale;
}

}  // namespace cudl::cpu
