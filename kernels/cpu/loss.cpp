#include "kernels/cpu/loss.h"
#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

namespace {

// The naive and the OpenMP variant differ only in the math type T and whether
// the loop is split over threads; the total is accumulated in double either way.
template <typename T, bool Parallel>
void compute_loss(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx) {
  const float* px = x.data<float>();
  float* pd = dx.data<float>();
  double total = 0.0;
  if (has_labels(kind)) {
    const std::int64_t rows = x.size(0), classes = x.size(1);
    const std::int64_t* labels = y.data<std::int64_t>();
    const T scale = T(1) / T(rows);
#pragma omp parallel for schedule(static) reduction(+ : total) if (Parallel && x.numel() >= kParallelMin)
    for (std::int64_t i = 0; i < rows; ++i) {
      const float* xr = px + i * classes;
      float* dr = pd + i * classes;
      total += kind == LossKind::CrossEntropy ? cross_entropy_row<T>(xr, classes, labels[i], scale, dr)
                                              : svm_row<T>(xr, classes, labels[i], scale, dr);
    }
    loss.data<float>()[0] = static_cast<float>(total / rows);
  } else {
    const std::int64_t n = x.numel();
    const float* target = y.data<float>();
    const T scale = T(1) / T(n);
#pragma omp parallel for schedule(static) reduction(+ : total) if (Parallel && x.numel() >= kParallelMin)
    for (std::int64_t i = 0; i < n; ++i)
      total += kind == LossKind::BceWithLogits ? bce_with_logits_element<T>(px[i], target[i], scale, pd + i)
                                               : mse_element<T>(px[i], target[i], scale, pd + i);
    loss.data<float>()[0] = static_cast<float>(total / n);
  }
}
}  // namespace

void loss_naive(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx) {
  compute_loss<double, false>(kind, x, y, loss, dx);
}

void loss_omp(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx) {
  compute_loss<float, true>(kind, x, y, loss, dx);
}

}  // namespace cudl::cpu
