// CPU batched GEMM for matmul (kernels/batched_gemm.h describes the batch).
#pragma once

#include "kernels/batched_gemm.h"

namespace cudl::cpu {

// gemm_naive per product (double accumulation within a product).
void batched_gemm_naive(const BatchedGemm& g);
// gemm_blas per product; products spread over OpenMP threads when there are at
// least as many as threads and the BLAS does not start threads of its own there,
// otherwise one after another with the BLAS's threads.
void batched_gemm_blas(const BatchedGemm& g);

}  // namespace cudl::cpu
