#include "kernels/cpu/dropout.h"

#include "core/rng.h"
#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

void dropout_forward_naive(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out,
                           Tensor& mask) {
  const float scale = 1.0f / (1.0f - p);
  const float* px = x.data<float>();
  float *po = out.data<float>(), *pm = mask.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    pm[i] = philox_uniform(seed, base_block, static_cast<std::uint64_t>(i)) < p ? 0.0f : scale;
    po[i] = px[i] * pm[i];
  }
}

void dropout_forward_omp(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out,
                         Tensor& mask) {
  const float scale = 1.0f / (1.0f - p);
  const std::int64_t n = x.numel(), blocks = (n + 3) / 4;
  const float* px = x.data<float>();
  float *po = out.data<float>(), *pm = mask.data<float>();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const PhiloxWords words = philox4x32_10(seed, base_block + static_cast<std::uint64_t>(b));
    for (std::int64_t k = 0; k < 4 && 4 * b + k < n; ++k) {
      const std::int64_t i = 4 * b + k;
      pm[i] = uniform_from_bits(words.w[k]) < p ? 0.0f : scale;
      po[i] = px[i] * pm[i];
    }
  }
}

void dropout_backward(const Tensor& dout, const Tensor& mask, Tensor& dx, bool parallel) {
  const std::int64_t n = dout.numel();
  const float *pg = dout.data<float>(), *pm = mask.data<float>();
  float* pd = dx.data<float>();
#pragma omp parallel for simd schedule(static) if (parallel && n >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) pd[i] = pg[i] * pm[i];
}

}  // namespace cudl::cpu
