#include <algorithm>

#include "core/check.h"
#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/shape.h"

namespace cudl::cuda {

namespace {
__global__ void permute_gather_kernel(PermuteGeometry g, const float* __restrict__ x, float* __restrict__ out) {
  CUDL_GRID_STRIDE_LOOP(o, g.numel) out[o] = x[permute_source(g, o)];
}

// A 32 x 32 tile of one 2-D transpose: a block of 32 x 8 threads reads 32 input
// rows' worth of contiguous values into shared memory (row + 1 padding: the
// column-wise reads that follow hit 32 different banks), then writes them out
// along the output's contiguous dim. Grid: x over column tiles, y over row
// tiles, z (grid-stride) over the outer combinations.
constexpr int kTile = 32, kTileRows = 8;
__global__ void permute_transpose_kernel(TransposeGeometry t, const float* __restrict__ x, float* __restrict__ out) {
  __shared__ float tile[kTile][kTile + 1];
  const long long c0 = blockIdx.x * (long long)kTile, r0 = blockIdx.y * (long long)kTile;
  for (long long o = blockIdx.z; o < t.outer.numel; o += gridDim.z) {
    std::int64_t in_base, out_base;
    transpose_bases(t, o, in_base, out_base);
    // tile[r][c] = x[(r0 + r) * in_row_stride + c0 + c]: consecutive threads, consecutive c.
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const long long row = r0 + r, col = c0 + threadIdx.x;
      if (row < t.rows && col < t.cols) tile[r][threadIdx.x] = x[in_base + row * t.in_row_stride + col];
    }
    __syncthreads();
    // out[(c0 + c) * out_col_stride + r0 + r] = tile[r][c]: consecutive threads, consecutive r.
    for (int c = threadIdx.y; c < kTile; c += kTileRows) {
      const long long col = c0 + c, row = r0 + threadIdx.x;
      if (row < t.rows && col < t.cols) out[out_base + col * t.out_col_stride + row] = tile[threadIdx.x][c];
    }
    __syncthreads();  // the tile is read out before the next combination overwrites it
  }
}

__global__ void copy_rows_naive_kernel(const float* src, long long src_ld, float* dst, long long dst_ld,
                                       long long rows, long long cols) {
  CUDL_GRID_STRIDE_LOOP(i, rows * cols) {
    const long long r = i / cols, c = i - r * cols;
    dst[r * dst_ld + c] = src[r * src_ld + c];
  }
}

// VEC: src, dst, both row lengths and cols are multiples of 4 floats from 16-byte aligned bases.
template <bool VEC>
__global__ void copy_rows_kernel(const float* __restrict__ src, long long src_ld, float* __restrict__ dst,
                                 long long dst_ld, long long rows, long long cols) {
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* s = src + r * src_ld;
    float* d = dst + r * dst_ld;
    if (VEC) {
      for (long long c = threadIdx.x; c < cols / 4; c += blockDim.x)
        reinterpret_cast<float4*>(d)[c] = reinterpret_cast<const float4*>(s)[c];
    } else {
      for (long long c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
    }
  }
}
}  // namespace

void permute_naive(const PermuteGeometry& g, const float* x, float* out, int device) {
  launch_grid_stride(permute_gather_kernel, g.numel, stream(device), g, x, out);
}

void permute_tiled(const PermuteGeometry& g, const float* x, float* out, int device) {
  TransposeGeometry t;
  if (!as_transposes(g, t)) return launch_grid_stride(permute_gather_kernel, g.numel, stream(device), g, x, out);
  if (g.numel == 0) return;
  const long long col_tiles = (t.cols + kTile - 1) / kTile, row_tiles = (t.rows + kTile - 1) / kTile;
  CUDL_CHECK(col_tiles <= 0x7fffffffLL && row_tiles <= 65535, "permute: a ", t.rows, " x ", t.cols,
             " transpose needs more than 65535 row tiles");
  const dim3 grid(static_cast<unsigned>(col_tiles), static_cast<unsigned>(row_tiles),
                  static_cast<unsigned>(std::min<long long>(t.outer.numel, 65535)));
  permute_transpose_kernel<<<grid, dim3(kTile, kTileRows), 0, stream(device)>>>(t, x, out);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void copy_rows_naive(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows,
                     std::int64_t cols, int device) {
  launch_grid_stride(copy_rows_naive_kernel, rows * cols, stream(device), src, src_ld, dst, dst_ld, rows, cols);
}

void copy_rows_vec4(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows,
                    std::int64_t cols, int device) {
  if (rows == 0 || cols == 0) return;
  const bool vec = aligned16(src) && aligned16(dst) && src_ld % 4 == 0 && dst_ld % 4 == 0 && cols % 4 == 0;
  const long long per_row = vec ? cols / 4 : cols;
  const int threads = per_row >= 256 ? 256 : per_row >= 128 ? 128 : per_row >= 64 ? 64 : 32;
  const unsigned blocks = static_cast<unsigned>(std::min<long long>(rows, 65535LL * 8));
  if (vec)
    copy_rows_kernel<true><<<blocks, threads, 0, stream(device)>>>(src, src_ld, dst, dst_ld, rows, cols);
  else
    copy_rows_kernel<false><<<blocks, threads, 0, stream(device)>>>(src, src_ld, dst, dst_ld, rows, cols);
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
