#include <cstdint>

#include "core/check.h"
#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/gemm.h"

namespace cudl::cuda {

namespace {

// ---- naive ----
__global__ void gemm_naive_kernel(bool trans_a, bool trans_b, long long m, long long n, long long k, float alpha,
                                  const float* a, long long lda, const float* b, long long ldb, float beta, float* c,
                                  long long ldc) {
  CUDL_GRID_STRIDE_LOOP(idx, m * n) {
    const long long i = idx / n, j = idx % n;
    float sum = 0.0f;
    for (long long p = 0; p < k; ++p)
      sum += (trans_a ? a[p * lda + i] : a[i * lda + p]) * (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
    float& out = c[i * ldc + j];
    out = alpha * sum + (beta == 0.0f ? 0.0f : beta * out);
  }
}

// ---- tiled ----
// A block computes a BM x BN tile of C, stepping through K by BK. Each step, the
// A and B tiles are staged in shared memory as [BK][BM] and [BK][BN] (A
// transposed, so that a thread's TM values of one k are contiguous), and each
// thread accumulates a TM x TN sub-tile in registers from TM + TN shared loads
// per k: the 64 FMAs per 16 loads are what makes it compute-bound. The next
// step's global loads are issued before the current step's arithmetic.
constexpr int BN = 128, BK = 8, TM = 8, TN = 8;

// Four consecutive elements (r, col..col+3) of a row-major rows x cols matrix,
// zero outside it. VEC: one float4 load when all four are inside (the caller
// guarantees 16-byte alignment of such groups).
template <bool VEC>
__device__ __forceinline__ float4 load4(const float* __restrict__ src, long long ld, int rows, int cols, int r,
                                        int col) {
  if (VEC && r < rows && col + 3 < cols) return __ldg(reinterpret_cast<const float4*>(src + r * ld + col));
  float v[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) v[q] = (r < rows && col + q < cols) ? __ldg(src + r * ld + col + q) : 0.0f;
  return make_float4(v[0], v[1], v[2], v[3]);
}

// Moves the R x BK slice (rows row0.., k k0..) of op(X) into a shared tile[BK][R],
// where op(X) is X (stored rows x k) or, when TRANS, X^T (X stored k x rows).
// load() only issues the global reads into registers, so that they can be in
// flight while the block computes on the previous slice; store() writes them out.
template <int R, int THREADS, bool TRANS, bool VEC>
struct TileLoader {
  static constexpr int kLoads = R * BK / 4 / THREADS;  // float4s per thread
  static_assert(R * BK / 4 % THREADS == 0, "tile must split evenly over the threads");
  float4 v[kLoads];

  __device__ __forceinline__ void load(const float* __restrict__ x, long long ld, int rows, int k, int row0, int k0) {
#pragma unroll
    for (int s = 0; s < kLoads; ++s) {
      const int l = threadIdx.x + s * THREADS;
      if (TRANS)  // four consecutive rows of op(X) at one k
        v[s] = load4<VEC>(x, ld, k, rows, k0 + l / (R / 4), row0 + l % (R / 4) * 4);
      else  // four consecutive k of one row
        v[s] = load4<VEC>(x, ld, rows, k, row0 + l / (BK / 4), k0 + l % (BK / 4) * 4);
    }
  }

  __device__ __forceinline__ void store(float (*tile)[R]) const {
#pragma unroll
    for (int s = 0; s < kLoads; ++s) {
      const int l = threadIdx.x + s * THREADS;
      if (TRANS) {
        *reinterpret_cast<float4*>(&tile[l / (R / 4)][l % (R / 4) * 4]) = v[s];
      } else {  // transposed into the tile
        const int r = l / (BK / 4), kk = l % (BK / 4) * 4;
        tile[kk][r] = v[s].x, tile[kk + 1][r] = v[s].y, tile[kk + 2][r] = v[s].z, tile[kk + 3][r] = v[s].w;
      }
    }
  }
};

template <int BM, bool TA, bool TB, bool VEC>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2)  // 2 blocks per SM: <= 128 registers
    gemm_tiled_kernel(int m, int n, int k, float alpha, const float* __restrict__ a, long long lda,
                      long long stride_a, const float* __restrict__ b, long long ldb, long long stride_b, float beta,
                      float* __restrict__ c, long long ldc, long long stride_c) {
  constexpr int THREADS = (BM / TM) * (BN / TN);
  __shared__ __align__(16) float as[BK][BM];
  __shared__ __align__(16) float bs[BK][BN];
  a += blockIdx.z * stride_a;
  b += blockIdx.z * stride_b;
  c += blockIdx.z * stride_c;
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  const int ty = threadIdx.x / (BN / TN), tx = threadIdx.x % (BN / TN);

  // op(A) is m x k (A^T stored k x m when TA); op(B)^T is n x k (B stored k x n unless TB).
  TileLoader<BM, THREADS, TA, VEC> a_tile;
  TileLoader<BN, THREADS, !TB, VEC> b_tile;
  a_tile.load(a, lda, m, k, row0, 0);
  b_tile.load(b, ldb, n, k, col0, 0);
  float acc[TM][TN] = {};
  for (int k0 = 0; k0 < k; k0 += BK) {
    a_tile.store(as);
    b_tile.store(bs);
    __syncthreads();
    if (k0 + BK < k) {
      a_tile.load(a, lda, m, k, row0, k0 + BK);
      b_tile.load(b, ldb, n, k, col0, k0 + BK);
    }
#pragma unroll
    for (int p = 0; p < BK; ++p) {
      float ra[TM], rb[TN];
#pragma unroll
      for (int i = 0; i < TM; i += 4) *reinterpret_cast<float4*>(&ra[i]) = *reinterpret_cast<const float4*>(&as[p][ty * TM + i]);
#pragma unroll
      for (int j = 0; j < TN; j += 4) *reinterpret_cast<float4*>(&rb[j]) = *reinterpret_cast<const float4*>(&bs[p][tx * TN + j]);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
    }
    __syncthreads();  // everyone is done reading the tiles before the next store
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int r = row0 + ty * TM + i;
    if (r >= m) break;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int col = col0 + tx * TN + j;
      if (col < n) {
        float& out = c[r * ldc + col];
        out = alpha * acc[i][j] + (beta == 0.0f ? 0.0f : beta * out);
      }
    }
  }
}

template <int BM, bool TA, bool TB>
void launch_tiled(bool vec, dim3 grid, cudaStream_t stream, int m, int n, int k, float alpha, const float* a,
                  long long lda, long long stride_a, const float* b, long long ldb, long long stride_b, float beta,
                  float* c, long long ldc, long long stride_c) {
  constexpr int threads = (BM / TM) * (BN / TN);
  if (vec)
    gemm_tiled_kernel<BM, TA, TB, true><<<grid, threads, 0, stream>>>(m, n, k, alpha, a, lda, stride_a, b, ldb,
                                                                       stride_b, beta, c, ldc, stride_c);
  else
    gemm_tiled_kernel<BM, TA, TB, false><<<grid, threads, 0, stream>>>(m, n, k, alpha, a, lda, stride_a, b, ldb,
                                                                        stride_b, beta, c, ldc, stride_c);
  CUDL_CUDA_CALL(cudaGetLastError());
}

template <int BM>
void dispatch_transposes(bool trans_a, bool trans_b, bool vec, dim3 grid, cudaStream_t stream, int m, int n, int k,
                         float alpha, const float* a, long long lda, long long stride_a, const float* b,
                         long long ldb, long long stride_b, float beta, float* c, long long ldc, long long stride_c) {
  auto go = [&](auto launch) {
    launch(vec, grid, stream, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c);
  };
  if (!trans_a && !trans_b) go(launch_tiled<BM, false, false>);
  else if (!trans_a && trans_b) go(launch_tiled<BM, false, true>);
  else if (trans_a && !trans_b) go(launch_tiled<BM, true, false>);
  else go(launch_tiled<BM, true, true>);
}

// float4 loads need every 4-element group 16-byte aligned: aligned base, and
// leading dimension and batch stride multiples of 4.
bool vector_loads_ok(const float* p, long long ld, long long stride) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0 && ld % 4 == 0 && stride % 4 == 0;
}

}  // namespace

void gemm_naive(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                std::int64_t ldc, cudaStream_t stream) {
  if (m == 0 || n == 0) return;
  gemm_naive_kernel<<<grid_for(m * n), 256, 0, stream>>>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                                                          ldc);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void gemm_tiled_batched(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                        const float* a, std::int64_t lda, std::int64_t stride_a, const float* b, std::int64_t ldb,
                        std::int64_t stride_b, float beta, float* c, std::int64_t ldc, std::int64_t stride_c,
                        std::int64_t batch, cudaStream_t stream) {
  if (m == 0 || n == 0 || batch == 0) return;
  constexpr std::int64_t int_max = 0x7fffffff;
  CUDL_CHECK(m <= int_max && n <= int_max && k <= int_max, "gemm_tiled: sizes must fit in int32, got m ", m, ", n ",
             n, ", k ", k);
  CUDL_CHECK(batch <= 65535, "gemm_tiled: at most 65535 batched products, got ", batch);
  // Narrow problems (conv layers with 64 filters) would leave half of a 128-row tile idle.
  const int bm = m <= 64 ? 64 : 128;
  CUDL_CHECK((m + bm - 1) / bm <= 65535, "gemm_tiled: m = ", m, " needs more than 65535 row tiles");
  const dim3 grid(static_cast<unsigned>((n + BN - 1) / BN), static_cast<unsigned>((m + bm - 1) / bm),
                  static_cast<unsigned>(batch));
  const bool vec = vector_loads_ok(a, lda, stride_a) && vector_loads_ok(b, ldb, stride_b);
  if (bm == 64)
    dispatch_transposes<64>(trans_a, trans_b, vec, grid, stream, int(m), int(n), int(k), alpha, a, lda, stride_a, b,
                            ldb, stride_b, beta, c, ldc, stride_c);
  else
    dispatch_transposes<128>(trans_a, trans_b, vec, grid, stream, int(m), int(n), int(k), alpha, a, lda, stride_a, b,
                             ldb, stride_b, beta, c, ldc, stride_c);
}

void gemm_tiled(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                std::int64_t ldc, cudaStream_t stream) {
  gemm_tiled_batched(trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1, stream);
}

}  // namespace cudl::cuda
