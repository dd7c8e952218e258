#include "kernels/cpu/gemm.h"

#include "kernels/cpu/parallel.h"

#include <cblas.h>
#if CUDL_BLAS_BLIS
#include <blis.h>
#include <omp.h>

#include <cstdlib>
#endif

namespace cudl::cpu {

namespace {
#if CUDL_BLAS_BLIS
// BLIS runs single-threaded unless BLIS_NUM_THREADS (or OMP_NUM_THREADS) says
// otherwise; give it the threads cudl's own OpenMP kernels use, from the same pool.
void configure_blas_threads() {
  static const bool done = [] {
    if (std::getenv("BLIS_NUM_THREADS") == nullptr) bli_thread_set_num_threads(omp_get_max_threads());
    return true;
  }();
  (void)done;
}
#else
void configure_blas_threads() {}
#endif
}  // namespace

void gemm_naive(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = 0.0;  // accumulate in double: this is the reference
      for (std::int64_t p = 0; p < k; ++p) {
        const float av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += static_cast<double>(av) * bv;
      }
      float& out = c[i * ldc + j];
      out = static_cast<float>(alpha * sum + (beta == 0.0f ? 0.0 : static_cast<double>(beta) * out));
    }
  }
}

void gemm_blas(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
               const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  configure_blas_threads();
#if CUDL_BLAS_BLIS
  // Small products run on one thread: BLIS's threads meet at spinning barriers,
  // and a few microseconds of work do not pay for them; on a loaded machine a
  // descheduled partner makes each barrier cost a time slice (a captioner step
  // of 450x64x64 products ran 3x slower threaded than on one thread at load 8).
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(m * n * k >= kBlasParallelMin ? omp_get_max_threads() : 1, &rntm);
  bli_sgemm_ex(trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m, n, k,
               &alpha, const_cast<float*>(a), lda, 1, const_cast<float*>(b), ldb, 1, &beta, c, ldc, 1, nullptr, &rntm);
#else
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
#endif
}

bool gemm_blas_threads_nest() {
#if CUDL_BLAS_OPENBLAS
  static const bool nests = openblas_get_parallel() == 1 && openblas_get_num_threads() > 1;  // 1: pthreads
  return nests;
#else
  return false;
#endif
}

}  // namespace cudl::cpu
