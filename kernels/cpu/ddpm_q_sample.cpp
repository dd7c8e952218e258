#include "kernels/cpu/ddpm_q_sample.h"

#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

void per_timestep_combine_naive(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a, const Tensor* b,
                                Tensor& out) {
  const std::int64_t count = x.numel(), inner = count / x.size(0);
  const float *px = x.data<float>(), *pa = a.data<float>();
  const float *py = y ? y->data<float>() : nullptr, *pb = b ? b->data<float>() : nullptr;
  const std::int64_t* pt = t.data<std::int64_t>();
  float* po = out.data<float>();
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t step = pt[i / inner];
    double value = double(pa[step]) * px[i];
    if (py) value += double(pb[step]) * py[i];
    po[i] = static_cast<float>(value);
  }
}

void per_timestep_combine_rows(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a, const Tensor* b,
                               Tensor& out) {
  const std::int64_t n = x.size(0), inner = x.numel() / n;
  const float *px = x.data<float>(), *pa = a.data<float>();
  const float *py = y ? y->data<float>() : nullptr, *pb = b ? b->data<float>() : nullptr;
  const std::int64_t* pt = t.data<std::int64_t>();
  float* po = out.data<float>();
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
  for (std::int64_t s = 0; s < n; ++s) {
    const float ca = pa[pt[s]];
    const float* xs = px + s * inner;
    float* os = po + s * inner;
    if (py) {
      const float cb = pb[pt[s]];
      const float* ys = py + s * inner;
#pragma omp simd
      for (std::int64_t i = 0; i < inner; ++i) os[i] = ca * xs[i] + cb * ys[i];
    } else {
#pragma omp simd
      for (std::int64_t i = 0; i < inner; ++i) os[i] = ca * xs[i];
    }
  }
}

}  // namespace cudl::cpu
