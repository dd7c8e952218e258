#include <algorithm>

#include "core/check.h"
#include "core/cuda/context.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/matmul.h"

namespace cudl::cuda {

namespace {
// A launch covers at most this many products (gemm_tiled_batched's grid z).
constexpr std::int64_t kMaxBatchPerLaunch = 65535;

// Runs `launch(first, count, beta)` over the batch in chunks of at most `per_launch`
// products. Products summed into one C run one at a time, each adding to the last
// (beta 1), which keeps the sum free of atomics and deterministic.
template <typename Launch>
void for_batch_chunks(const BatchedGemm& g, std::int64_t per_launch, Launch launch) {
  if (g.m == 0 || g.n == 0) return;
  if (g.sums_into_c()) {
    for (std::int64_t i = 0; i < g.batch; ++i) launch(i, 1, i == 0 ? 0.0f : 1.0f);
    return;
  }
  for (std::int64_t first = 0; first < g.batch; first += per_launch)
    launch(first, std::min(per_launch, g.batch - first), 0.0f);
}
}  // namespace

void batched_gemm_naive(const BatchedGemm& g, int device) {
  cudaStream_t s = stream(device);
  for_batch_chunks(g, 1, [&](std::int64_t i, std::int64_t, float beta) {
    gemm_naive(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, g.a + i * g.stride_a, g.lda, g.b + i * g.stride_b, g.ldb,
               beta, g.c + i * g.stride_c, g.ldc, s);
  });
}

void batched_gemm_tiled(const BatchedGemm& g, int device) {
  cudaStream_t s = stream(device);
  for_batch_chunks(g, kMaxBatchPerLaunch, [&](std::int64_t first, std::int64_t count, float beta) {
    gemm_tiled_batched(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, g.a + first * g.stride_a, g.lda, g.stride_a,
                       g.b + first * g.stride_b, g.ldb, g.stride_b, beta, g.c + first * g.stride_c, g.ldc, g.stride_c,
                       count, s);
  });
}

// cuBLAS is column-major: row-major C = op(A) op(B) is column-major
// C^T = op(B)^T op(A)^T, i.e. the same call with the operands swapped.
void batched_gemm_cublas(const BatchedGemm& g, int device) {
  constexpr std::int64_t int_max = 0x7fffffff;
  CUDL_CHECK(g.m <= int_max && g.n <= int_max && g.k <= int_max && g.lda <= int_max && g.ldb <= int_max &&
                 g.ldc <= int_max,
             "matmul (cublas): sizes must fit in int32, got m ", g.m, ", n ", g.n, ", k ", g.k);
  Context& ctx = context(device);
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  for_batch_chunks(g, int_max, [&](std::int64_t first, std::int64_t count, float beta) {
    const float alpha = 1.0f;
    CUDL_CUDA_CALL(cublasSgemmStridedBatched(
        ctx.cublas(), op_b, op_a, static_cast<int>(g.n), static_cast<int>(g.m), static_cast<int>(g.k), &alpha,
        g.b + first * g.stride_b, static_cast<int>(g.ldb), g.stride_b, g.a + first * g.stride_a,
        static_cast<int>(g.lda), g.stride_a, &beta, g.c + first * g.stride_c, static_cast<int>(g.ldc), g.stride_c,
        static_cast<int>(count)));
  });
}

}  // namespace cudl::cuda
