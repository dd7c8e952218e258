#include "core/random.h"

namespace cudl {

namespace {

// t[i] = shift_scaled(offset, scale, element i's standard draw), from a fresh range of gen's counters.
template <Draw D>
void fill_scaled(const char* op, Tensor& t, Generator& gen, float offset, float scale) {
  CUDL_CHECK(t.dtype() == DType::F32, op, ": expected a float32 tensor, got ", t.str());
  const std::int64_t n = t.numel();
  const std::uint64_t base = gen.reserve(static_cast<std::uint64_t>(n));
  float* p = t.data<float>();
  if (t.is_cuda()) {
#if CUDL_WITH_CUDA
    cuda::fill_random(t.device().index, p, n, gen.seed(), base, D, offset, scale);
#endif
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) p[i] = shift_scaled(offset, scale, standard_draw<D>(gen.seed(), base, i));
}

}  // namespace

void fill_uniform(Tensor& t, Generator& gen, float low, float high) {
  fill_scaled<Draw::Uniform>("fill_uniform", t, gen, low, high - low);
}

void fill_normal(Tensor& t, Generator& gen, float mean, float stddev) {
  fill_scaled<Draw::Normal>("fill_normal", t, gen, mean, stddev);
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
