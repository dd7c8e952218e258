// CUDA copies behind the shape ops (kernels/shape.h), queued on cudl's stream of
// `device`: permute, and the 2-D block copy of concat, slice and slice_backward.
#pragma once

#include <cstdint>

#include "kernels/permute_geometry.h"

namespace cudl::cuda {

// One thread per output element, full index math (`g` not simplified).
void permute_naive(const PermuteGeometry& g, const float* x, float* out, int device);
// On the simplified geometry: a batch of 2-D transposes goes through 32 x 32
// shared-memory tiles (coalesced reads and writes); anything else (the last dim
// stays last) is the strided gather, whose warps then read runs of the input.
void permute_tiled(const PermuteGeometry& g, const float* x, float* out, int device);

// dst[r * dst_ld + c] = src[r * src_ld + c] for r < rows, c < cols.
void copy_rows_naive(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows,
                     std::int64_t cols, int device);
// The same with a row per block (grid-stride), float4 accesses when both sides'
// rows are 16-byte aligned.
void copy_rows_vec4(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows,
                    std::int64_t cols, int device);

}  // namespace cudl::cuda
