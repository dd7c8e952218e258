// CPU copies behind the shape ops (kernels/shape.h): permute, and the 2-D block
// copy that concat, slice and slice_backward reduce to.
#pragma once

#include <cstdint>

#include "kernels/permute_geometry.h"

namespace cudl::cpu {

// One output element at a time, full index math (`g` not simplified).
void permute_naive(const PermuteGeometry& g, const float* x, float* out);
// On the simplified geometry: runs of the contiguous last dim copied whole, or,
// when the last dim moves, 32 x 32 tiles transposed so that both the reads and
// the writes of a tile stay within a few cache lines; OpenMP over runs / tiles.
void permute_tiled(const PermuteGeometry& g, const float* x, float* out);

// dst[r * dst_ld + c] = src[r * src_ld + c] for r < rows, c < cols.
void copy_rows_naive(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows,
                     std::int64_t cols);
// The same, a memcpy per row, rows over OpenMP threads.
void copy_rows_omp(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows,
                   std::int64_t cols);

}  // namespace cudl::cpu
