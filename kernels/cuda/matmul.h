// CUDA batched GEMM for matmul (kernels/batched_gemm.h describes the batch),
// queued on cudl's stream of `device`.
#pragma once

#include "kernels/batched_gemm.h"

namespace cudl::cuda {

// gemm_naive (one thread per element of C) per product.
void batched_gemm_naive(const BatchedGemm& g, int device);
// gemm_tiled_batched: the whole batch in one launch (grid z is the product).
void batched_gemm_tiled(const BatchedGemm& g, int device);
// cublasSgemmStridedBatched (fp32 math: the context disables TF32).
void batched_gemm_cublas(const BatchedGemm& g, int device);

}  // namespace cudl::cuda
