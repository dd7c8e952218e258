// Row-major single-precision GEMM on the CPU: C = alpha * op(A) * op(B) + beta * C,
// op(A) is M x K, op(B) is K x N. `gemm_naive` is the textbook triple loop (the
// reference); `gemm_blas` calls the tuned BLAS chosen at build time (CUDL_BLAS).
#pragma once

#include <cstdint>

namespace cudl::cpu {

void gemm_naive(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                std::int64_t ldc);

void gemm_blas(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
               const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc);

// Whether a gemm_blas call made inside an OpenMP parallel region starts threads of
// its own (a pthreads OpenBLAS does; an OpenMP BLAS runs single-threaded there).
// Callers that could run independent GEMMs on OpenMP threads do so only when it
// does not, rather than oversubscribing the cores.
bool gemm_blas_threads_nest();

}  // namespace cudl::cpu
