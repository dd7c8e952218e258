// Row-major single-precision GEMM on the GPU, with the interface of the CPU one
// (kernels/cpu/gemm.h): C = alpha * op(A) * op(B) + beta * C, op(A) M x K,
// op(B) K x N; queued on `stream`, which must be the current device's cudl stream
// (cuda::stream): split-K takes its workspace from the stream-ordered caching
// allocator. beta == 0 never reads C.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace cudl::cuda {

// One thread per element of C (the reference).
void gemm_naive(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                std::int64_t ldc, cudaStream_t stream);

// Shared-memory block tiling (128x128 or 64x128 by 8, double-buffered) with an 8x8
// register tile per thread, float4 loads of each operand and stores of C where its
// alignment allows, and split-K (a fixed-order sum of slices) for products with too few
// tiles to fill the GPU; any sizes.
void gemm_tiled(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                std::int64_t ldc, cudaStream_t stream);

// `batch` independent products of the same sizes: product i reads a + (i % a_period)*stride_a
// (a_period 0: i itself), b + i*stride_b and writes c + i*stride_c (a stride of 0 shares the
// operand). a_period lets a grouped convolution run images x groups products in one launch.
void gemm_tiled_batched(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                        const float* a, std::int64_t lda, std::int64_t stride_a, const float* b, std::int64_t ldb,
                        std::int64_t stride_b, float beta, float* c, std::int64_t ldc, std::int64_t stride_c,
                        std::int64_t batch, cudaStream_t stream, std::int64_t a_period = 0);

}  // namespace cudl::cuda
