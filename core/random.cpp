#include "core/random.h"

namespace cudl {

void fill_uniform(Tensor& t, Generator& gen, float low, float high) {
  CUDL_CHECK(t.dtype() == DType::F32, "fill_uniform: expected a float32 tensor, got ", t.str());
  const std::int64_t n = t.numel();
  const std::uint64_t base = gen.reserve(static_cast<std::uint64_t>(n));
  float* p = t.data<float>();
  if (t.is_cuda()) {
#if CUDL_WITH_CUDA
    cuda::fill_uniform(t.device().index, p, n, gen.seed(), base, low, high);
#endif
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) p[i] = low + (high - low) * philox_uniform(gen.seed(), base, i);
}

void fill_normal(Tensor& t, Generator& gen, float mean, float stddev) {
  CUDL_CHECK(t.dtype() == DType::F32, "fill_normal: expected a float32 tensor, got ", t.str());
  const std::int64_t n = t.numel();
  const std::uint64_t base = gen.reserve(static_cast<std::uint64_t>(n));
  float* p = t.data<float>();
  if (t.is_cuda()) {
#if CUDL_WITH_CUDA
    cuda::fill_normal(t.device().index, p, n, gen.seed(), base, mean, stddev);
#endif
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) p[i] = mean + stddev * philox_normal(gen.seed(), base, i);
}

Tensor randn(const Shape& shape, Generator& gen, Device device) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  fill_normal(t, gen);
  return t;
}

Tensor rand(const Shape& shape, Generator& gen, Device device) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  fill_uniform(t, gen);
  return t;
}

}  // namespace cudl
