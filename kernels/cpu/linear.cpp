#include "kernels/cpu/linear.h"

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

namespace {
// Sizes of the [N, D] x [M, D] problem.
// Read into named variables, not a structured binding: clang cannot capture
// bindings in OpenMP regions (the libFuzzer build, tests/fuzz).
struct Dims {
  std::int64_t n, d, m;
};
Dims dims_of(const Tensor& x, const Tensor& w) { return {x.numel() / w.size(1), w.size(1), w.size(0)}; }
}  // namespace

void linear_forward_naive(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) {
  const Dims dims = dims_of(x, w);
  const std::int64_t n = dims.n, d = dims.d, m = dims.m;
  const float *px = x.data<float>(), *pw = w.data<float>(), *pb = b.data<float>();
  float* po = out.data<float>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j) {
      double sum = pb[j];
      for (std::int64_t k = 0; k < d; ++k) sum += static_cast<double>(px[i * d + k]) * pw[j * d + k];
      po[i * m + j] = static_cast<float>(sum);
    }
}

void linear_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db) {
  const Dims dims = dims_of(x, w);
  const std::int64_t n = dims.n, d = dims.d, m = dims.m;
  const float *pg = dout.data<float>(), *px = x.data<float>(), *pw = w.data<float>();
  gemm_naive(false, false, n, d, m, 1.0f, pg, m, pw, d, 0.0f, dx.data<float>(), d);  // dx = dout w
  gemm_naive(true, false, m, d, n, 1.0f, pg, m, px, d, 0.0f, dw.data<float>(), d);   // dw = dout^T x
  float* pdb = db.data<float>();
  for (std::int64_t j = 0; j < m; ++j) {
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += pg[i * m + j];
    pdb[j] = static_cast<float>(sum);
  }
}

void linear_forward_blas(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) {
  const Dims dims = dims_of(x, w);
  const std::int64_t n = dims.n, d = dims.d, m = dims.m;
  const float* pb = b.data<float>();
  float* po = out.data<float>();
  // Seed each row with the bias, then accumulate x w^T on top (beta = 1).
#pragma omp parallel for schedule(static) if (n * m >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j) po[i * m + j] = pb[j];
  gemm_blas(false, true, n, m, d, 1.0f, x.data<float>(), d, w.data<float>(), d, 1.0f, po, m);
}

void linear_backward_blas(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db) {
  const Dims dims = dims_of(x, w);
  const std::int64_t n = dims.n, d = dims.d, m = dims.m;
  const float* pg = dout.data<float>();
  gemm_blas(false, false, n, d, m, 1.0f, pg, m, w.data<float>(), d, 0.0f, dx.data<float>(), d);
  gemm_blas(true, false, m, d, n, 1.0f, pg, m, x.data<float>(), d, 0.0f, dw.data<float>(), d);
  float* pdb = db.data<float>();
#pragma omp parallel for schedule(static) if (n * m >= kParallelMin)
  for (std::int64_t j = 0; j < m; ++j) {
    float sum = 0.0f;
    for (std::int64_t i = 0; i < n; ++i) sum += pg[i * m + j];
    pdb[j] = sum;
  }
}

}  // namespace cudl::cpu
