#include "kernels/cpu/shape.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

void permute_naive(const PermuteGeometry& g, const float* x, float* out) {
  for (std::int64_t o = 0; o < g.numel; ++o) out[o] = x[permute_source(g, o)];
}

namespace {
constexpr std::int64_t kTile = 32;
}  // namespace

void permute_tiled(const PermuteGeometry& g, const float* x, float* out) {
  TransposeGeometry t;
  if (!as_transposes(g, t)) {
    const std::int64_t run = g.shape[g.ndim - 1], runs = g.numel / run;
#pragma omp parallel for schedule(static) if (g.numel >= kParallelMin)
    for (std::int64_t r = 0; r < runs; ++r)
      std::memcpy(out + r * run, x + permute_source(g, r * run), static_cast<std::size_t>(run) * sizeof(float));
    return;
  }
  const std::int64_t row_tiles = (t.rows + kTile - 1) / kTile, col_tiles = (t.cols + kTile - 1) / kTile;
  const std::int64_t tiles = t.outer.numel * row_tiles * col_tiles;
#pragma omp parallel for schedule(static) if (g.numel >= kParallelMin)
  for (std::int64_t tile = 0; tile < tiles; ++tile) {
    const std::int64_t o = tile / (row_tiles * col_tiles), rc = tile % (row_tiles * col_tiles);
    const std::int64_t r0 = rc / col_tiles * kTile, c0 = rc % col_tiles * kTile;
    std::int64_t in_base, out_base;
    transpose_bases(t, o, in_base, out_base);
    const float* src = x + in_base;
    float* dst = out + out_base;
    const std::int64_t r1 = std::min(r0 + kTile, t.rows), c1 = std::min(c0 + kTile, t.cols);
    for (std::int64_t c = c0; c < c1; ++c)
      for (std::int64_t r = r0; r < r1; ++r) dst[c * t.out_col_stride + r] = src[r * t.in_row_stride + c];
  }
}

void copy_rows_naive(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows,
                     std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) dst[r * dst_ld + c] = src[r * src_ld + c];
}

void copy_rows_omp(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows,
                   std::int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (std::int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * dst_ld, src + r * src_ld, static_cast<std::size_t>(cols) * sizeof(float));
}

}  // namespace cudl::cpu
