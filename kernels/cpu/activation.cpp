#include "kernels/cpu/activation.h"

#include "kernels/activation_math.h"
#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

void activation_forward_naive(Activation a, const Tensor& x, float negative_slope, Tensor& out) {
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i)
    po[i] = static_cast<float>(
        with_activation(a, [&](auto kind) { return activation_value<kind.value, double>(px[i], negative_slope); }));
}

void activation_backward_naive(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx) {
  const float *pg = dout.data<float>(), *px = x.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i)
    pd[i] = static_cast<float>(pg[i] * with_activation(a, [&](auto kind) {
                                 return activation_derivative<kind.value, double>(px[i], negative_slope);
                               }));
}

void activation_forward_omp(Activation a, const Tensor& x, float negative_slope, Tensor& out) {
  const float* px = x.data<float>();
  float* po = out.data<float>();
  const std::int64_t n = x.numel();
  with_activation(a, [&](auto kind) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (std::int64_t i = 0; i < n; ++i) po[i] = activation_value<kind.value>(px[i], negative_slope);
  });
}

void activation_backward_omp(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx) {
  const float *pg = dout.data<float>(), *px = x.data<float>();
  float* pd = dx.data<float>();
  const std::int64_t n = x.numel();
  with_activation(a, [&](auto kind) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (std::int64_t i = 0; i < n; ++i) pd[i] = pg[i] * activation_derivative<kind.value>(px[i], negative_slope);
  });
}

}  // namespace cudl::cpu
