#include "kernels/cpu/temporal_softmax_loss.h"

#include "kernels/cpu/parallel.h"
#include "kernels/loss_math.h"

namespace cudl::cpu {

namespace {
// Each step is cross_entropy_row with its mask weight folded into the scale.
template <typename T, bool Parallel>
void compute(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor, Tensor& loss, Tensor& dx) {
  const std::int64_t classes = x.size(2), rows = x.numel() / classes;
  const float *px = x.data<float>(), *pm = mask.data<float>();
  const std::int64_t* labels = y.data<std::int64_t>();
  float* pd = dx.data<float>();
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (Parallel && x.numel() >= kParallelMin)
  for (std::int64_t r = 0; r < rows; ++r)
    total += pm[r] * cross_entropy_row<T>(px + r * classes, classes, labels[r], T(pm[r]) / T(divisor),
                                          pd + r * classes);
  loss.data<float>()[0] = static_cast<float>(total / divisor);
}
}  // namespace

void temporal_softmax_loss_naive(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor, Tensor& loss,
                                 Tensor& dx) {
  compute<double, false>(x, y, mask, divisor, loss, dx);
}

void temporal_softmax_loss_omp(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor, Tensor& loss,
                               Tensor& dx) {
  compute<float, true>(x, y, mask, divisor, loss, dx);
}

}  // namespace cudl::cpu
