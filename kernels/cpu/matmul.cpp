#include "kernels/cpu/matmul.h"

#include <omp.h>

#include "kernels/cpu/gemm.h"

namespace cudl::cpu {

namespace {
using GemmFn = void (*)(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                        const float*, std::int64_t, float, float*, std::int64_t);

void run_product(GemmFn gemm, const BatchedGemm& g, std::int64_t i, float beta) {
  gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, g.a + i * g.stride_a, g.lda, g.b + i * g.stride_b, g.ldb, beta,
       g.c + i * g.stride_c, g.ldc);
}

// Products summed into one C must follow each other: each adds to the last.
void run_summed(GemmFn gemm, const BatchedGemm& g) {
  for (std::int64_t i = 0; i < g.batch; ++i) run_product(gemm, g, i, i == 0 ? 0.0f : 1.0f);
}
}  // namespace

void batched_gemm_naive(const BatchedGemm& g) {
  if (g.sums_into_c()) return run_summed(gemm_naive, g);
  for (std::int64_t i = 0; i < g.batch; ++i) run_product(gemm_naive, g, i, 0.0f);
}

void batched_gemm_blas(const BatchedGemm& g) {
  if (g.sums_into_c()) return run_summed(gemm_blas, g);
  const bool per_thread = g.batch >= omp_get_max_threads() && !gemm_blas_threads_nest();
#pragma omp parallel for schedule(static) if (per_thread)
  for (std::int64_t i = 0; i < g.batch; ++i) run_product(gemm_blas, g, i, 0.0f);
}

}  // namespace cudl::cpu
