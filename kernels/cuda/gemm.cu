#include <cstdint>

#include "core/check.h"
#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "core/tensor.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_plan.h"

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
// transposed, so that a thread's values of one k are contiguous), and each
// thread accumulates a TM x TN sub-tile in registers from TM + TN shared loads
// per k: the 64 FMAs per 16 loads are what makes it compute-bound.
//
// Pipelining: the next step's global loads are issued into registers before the
// current step's arithmetic, and stored into the other of two shared buffers after
// it, so one barrier per step suffices (cp.async would skip the registers, but A
// is transposed on the way into shared memory, which cp.async cannot do at 16 bytes).
//
// A thread's 8 rows are two runs of 4 (ty*4 and BM/2 + ty*4) and its 8 columns two
// runs of 4 (tx*4 and BN/2 + tx*4), sub_tile_offset in gemm_plan.h: the 16-byte shared
// loads of 8 consecutive threads then cover 128 consecutive bytes (no bank conflict),
// and their 16-byte stores of C are contiguous too.
constexpr int BN = 128, BK = 8, TM = 8, TN = 8;
constexpr int kPad = 4;  // floats added to each shared row: the transposing stores hit distinct banks

// Moves the R x BK slice (rows row0.., k k0..) of op(X) into a shared tile[BK][R + kPad],
// where op(X) is X (stored rows x k) or, when TRANS, X^T (X stored k x rows), zeros
// outside it. Each thread moves four consecutive elements per float4 slot: along R
// when TRANS, else along k. start() points the slots at the first slice; load() issues
// a slice's global reads into registers, so that they can be in flight while the block
// computes on the previous slice, and moves on to the next; store() writes them out.
// VEC: one float4 load when all four are inside (the caller guarantees 16-byte
// alignment of such groups).
template <int R, int THREADS, bool TRANS, bool VEC>
struct TileLoader {
  static constexpr int kLoads = R * BK / 4 / THREADS;  // float4s per thread
  static_assert(R * BK / 4 % THREADS == 0, "tile must split evenly over the threads");
  float4 v[kLoads];
  const float* next[kLoads];  // the slot's four elements in the next slice
  int next_k[kLoads];         // their (first) k
  int inside_r[kLoads];       // how many of the four lie inside along R (TRANS), or 4 / 0 for the row

  __device__ __forceinline__ void start(const float* __restrict__ x, long long ld, int rows, int row0, int k0) {
#pragma unroll
    for (int s = 0; s < kLoads; ++s) {
      const int l = threadIdx.x + s * THREADS;
      if (TRANS) {  // four consecutive rows of op(X) at one k
        const int kk = k0 + l / (R / 4), r = row0 + l % (R / 4) * 4;
        next[s] = x + kk * ld + r, next_k[s] = kk, inside_r[s] = min(max(rows - r, 0), 4);
      } else {  // four consecutive k of one row
        const int r = row0 + l / (BK / 4), kk = k0 + l % (BK / 4) * 4;
        next[s] = x + r * ld + kk, next_k[s] = kk, inside_r[s] = r < rows ? 4 : 0;
      }
    }
  }

  __device__ __forceinline__ void load(long long ld, int k_end) {
#pragma unroll
    for (int s = 0; s < kLoads; ++s) {
      const int inside = TRANS ? (next_k[s] < k_end ? inside_r[s] : 0) : min(max(k_end - next_k[s], 0), inside_r[s]);
      if (VEC && inside == 4) {
        v[s] = __ldg(reinterpret_cast<const float4*>(next[s]));
      } else {
        float e[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) e[q] = q < inside ? __ldg(next[s] + q) : 0.0f;
        v[s] = make_float4(e[0], e[1], e[2], e[3]);
      }
      next[s] += TRANS ? BK * ld : BK;
      next_k[s] += BK;
    }
  }

  __device__ __forceinline__ void store(float (*tile)[R + kPad]) const {
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

// The products of one launch: `batch` of them, each cut along K into `splits` slices
// (blockIdx.z = product * splits + slice). With splits > 1 each slice writes its
// partial product (alpha 1, beta 0) to c = the workspace, [product][slice][m][n], and
// sum_splits_kernel finishes. Operand A of product z is a + (z % a_period) * stride_a,
// so grouped convolutions batch images x groups in one launch with shared weights.
struct BatchLayout {
  long long stride_a, stride_b, stride_c;
  int a_period, splits, k_per_split;
};

template <int BM, bool TA, bool TB, bool VEC_A, bool VEC_B>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2)  // 2 blocks per SM: <= 128 registers
    gemm_tiled_kernel(int m, int n, int k, float alpha, const float* __restrict__ a, long long lda,
                      const float* __restrict__ b, long long ldb, float beta, float* __restrict__ c, long long ldc,
                      BatchLayout layout, bool vec_c) {
  constexpr int THREADS = (BM / TM) * (BN / TN);
  __shared__ __align__(16) float as[2][BK][BM + kPad];
  __shared__ __align__(16) float bs[2][BK][BN + kPad];
  const int product = blockIdx.z / layout.splits, slice = blockIdx.z % layout.splits;
  a += (product % layout.a_period) * layout.stride_a;
  b += product * layout.stride_b;
  c += blockIdx.z * layout.stride_c;  // per product, or per slice of the workspace
  const int k_begin = slice * layout.k_per_split, k_end = min(k, k_begin + layout.k_per_split);
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  const int ty = threadIdx.x / (BN / TN), tx = threadIdx.x % (BN / TN);

  // op(A) is m x k (A^T stored k x m when TA); op(B)^T is n x k (B stored k x n unless TB).
  TileLoader<BM, THREADS, TA, VEC_A> a_tile;
  TileLoader<BN, THREADS, !TB, VEC_B> b_tile;
  a_tile.start(a, lda, m, row0, k_begin);
  b_tile.start(b, ldb, n, col0, k_begin);
  a_tile.load(lda, k_end);
  b_tile.load(ldb, k_end);
  a_tile.store(as[0]);
  b_tile.store(bs[0]);
  __syncthreads();
  float acc[TM][TN] = {};
  int buffer = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool more = k0 + BK < k_end;
    if (more) {
      a_tile.load(lda, k_end);
      b_tile.load(ldb, k_end);
    }
#pragma unroll
    for (int p = 0; p < BK; ++p) {
      float ra[TM], rb[TN];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        *reinterpret_cast<float4*>(&ra[4 * h]) =
            *reinterpret_cast<const float4*>(&as[buffer][p][sub_tile_offset<BM>(ty, 4 * h)]);
        *reinterpret_cast<float4*>(&rb[4 * h]) =
            *reinterpret_cast<const float4*>(&bs[buffer][p][sub_tile_offset<BN>(tx, 4 * h)]);
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
    }
    if (more) {  // the other buffer: its last readers passed the previous barrier
      a_tile.store(as[buffer ^ 1]);
      b_tile.store(bs[buffer ^ 1]);
    }
    __syncthreads();
    buffer ^= 1;
  }

  if (layout.splits > 1) alpha = 1.0f, beta = 0.0f;
  c += col0 + tx * 4;  // the thread's first column; its second run is BN/2 further
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int r = row0 + sub_tile_offset<BM>(ty, i);
    if (r >= m) continue;
    float* row = c + r * ldc;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int col = col0 + sub_tile_offset<BN>(tx, 4 * h);
      float* out = row + h * (BN / 2);
      const float* v = &acc[i][4 * h];
      if (vec_c && col + 3 < n) {
        float4 o = make_float4(alpha * v[0], alpha * v[1], alpha * v[2], alpha * v[3]);
        if (beta != 0.0f) {
          const float4 old = *reinterpret_cast<const float4*>(out);
          o.x += beta * old.x, o.y += beta * old.y, o.z += beta * old.z, o.w += beta * old.w;
        }
        *reinterpret_cast<float4*>(out) = o;
      } else {
#pragma unroll
        for (int q = 0; q < 4; ++q)
          if (col + q < n) out[q] = alpha * v[q] + (beta == 0.0f ? 0.0f : beta * out[q]);
      }
    }
  }
}

// c[product] = alpha * (the sum of its slices, in slice order) + beta * c[product].
__global__ void sum_splits_kernel(const float* __restrict__ partial, int m, int n, int splits, long long batch,
                                  float alpha, float beta, float* __restrict__ c, long long ldc, long long stride_c) {
  const long long per_product = static_cast<long long>(m) * n;
  CUDL_GRID_STRIDE_LOOP(idx, batch * per_product) {
    const long long product = idx / per_product, e = idx % per_product;
    const float* p = partial + product * splits * per_product + e;
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s) sum += p[s * per_product];
    float& out = c[product * stride_c + e / n * ldc + e % n];
    out = alpha * sum + (beta == 0.0f ? 0.0f : beta * out);
  }
}

template <int BM, bool TA, bool TB>
void launch_tiled(bool vec_a, bool vec_b, dim3 grid, cudaStream_t stream, int m, int n, int k, float alpha,
                  const float* a, long long lda, const float* b, long long ldb, float beta, float* c, long long ldc,
                  const BatchLayout& layout, bool vec_c) {
  constexpr int threads = (BM / TM) * (BN / TN);
  auto go = [&](auto kernel) {
    kernel<<<grid, threads, 0, stream>>>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, layout, vec_c);
  };
  if (vec_a && vec_b) go(gemm_tiled_kernel<BM, TA, TB, true, true>);
  else if (vec_a) go(gemm_tiled_kernel<BM, TA, TB, true, false>);
  else if (vec_b) go(gemm_tiled_kernel<BM, TA, TB, false, true>);
  else go(gemm_tiled_kernel<BM, TA, TB, false, false>);
  CUDL_CUDA_CALL(cudaGetLastError());
}

template <int BM>
void dispatch_transposes(bool trans_a, bool trans_b, bool vec_a, bool vec_b, dim3 grid, cudaStream_t stream, int m,
                         int n, int k, float alpha, const float* a, long long lda, const float* b, long long ldb,
                         float beta, float* c, long long ldc, const BatchLayout& layout, bool vec_c) {
  auto go = [&](auto launch) {
    launch(vec_a, vec_b, grid, stream, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, layout, vec_c);
  };
  if (!trans_a && !trans_b) go(launch_tiled<BM, false, false>);
  else if (!trans_a && trans_b) go(launch_tiled<BM, false, true>);
  else if (trans_a && !trans_b) go(launch_tiled<BM, true, false>);
  else go(launch_tiled<BM, true, true>);
}

// float4 accesses need every 4-element group 16-byte aligned: aligned base, and
// leading dimension and batch stride multiples of 4.
bool vector_access_ok(const float* p, long long ld, long long stride) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0 && ld % 4 == 0 && stride % 4 == 0;
}

int multiprocessors() {
  int device = 0, count = 0;
  CUDL_CUDA_CALL(cudaGetDevice(&device));
  CUDL_CUDA_CALL(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count;
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
                        std::int64_t batch, cudaStream_t stream, std::int64_t a_period) {
  if (m == 0 || n == 0 || batch == 0) return;
  constexpr std::int64_t int_max = 0x7fffffff;
  CUDL_CHECK(m <= int_max && n <= int_max && k <= int_max, "gemm_tiled: sizes must fit in int32, got m ", m, ", n ",
             n, ", k ", k);
  CUDL_CHECK(batch <= 65535, "gemm_tiled: at most 65535 batched products, got ", batch);
  if (a_period <= 0) a_period = batch;
  if (a_period == 1) stride_a = 0;  // one A for all: its stride must not veto float4 loads
  // Narrow problems (conv layers with 64 filters) would leave half of a 128-row tile idle.
  const int bm = m <= 64 ? 64 : 128;
  CUDL_CHECK((m + bm - 1) / bm <= 65535, "gemm_tiled: m = ", m, " needs more than 65535 row tiles");
  const long long tiles = (n + BN - 1) / BN * ((m + bm - 1) / bm);
  const SplitK plan = split_k_plan(tiles * batch, k, multiprocessors());
  BatchLayout layout{stride_a, stride_b, stride_c, int(a_period), 1, int(k)};
  const dim3 grid(static_cast<unsigned>((n + BN - 1) / BN), static_cast<unsigned>((m + bm - 1) / bm),
                  static_cast<unsigned>(batch));
  const bool vec_a = vector_access_ok(a, lda, stride_a), vec_b = vector_access_ok(b, ldb, stride_b);
  const bool vec_c = vector_access_ok(c, ldc, stride_c);
  auto run = [&](float* out, long long ld_out, const BatchLayout& l, dim3 g, bool vec_out) {
    if (bm == 64)
      dispatch_transposes<64>(trans_a, trans_b, vec_a, vec_b, g, stream, int(m), int(n), int(k), alpha, a, lda, b,
                              ldb, beta, out, ld_out, l, vec_out);
    else
      dispatch_transposes<128>(trans_a, trans_b, vec_a, vec_b, g, stream, int(m), int(n), int(k), alpha, a, lda, b,
                               ldb, beta, out, ld_out, l, vec_out);
  };
  if (plan.splits <= 1) {
    run(c, ldc, layout, grid, vec_c);
    return;
  }
  // Split-K: each slice's partial product to a workspace, then a fixed-order sum.
  int device = 0;
  CUDL_CUDA_CALL(cudaGetDevice(&device));
  Tensor partial = Tensor::empty({batch * plan.splits * m * n}, DType::F32, Device::cuda(device));
  layout.splits = plan.splits;
  layout.k_per_split = plan.k_per_split;
  layout.stride_c = m * n;
  const dim3 split_grid(grid.x, grid.y, static_cast<unsigned>(batch * plan.splits));
  CUDL_CHECK(split_grid.z <= 65535, "gemm_tiled: split-K needs at most 65535 slices, got ", split_grid.z);
  run(partial.data<float>(), n, layout, split_grid, n % 4 == 0);
  sum_splits_kernel<<<grid_for(batch * m * n), 256, 0, stream>>>(partial.data<float>(), int(m), int(n), plan.splits,
                                                                 batch, alpha, beta, c, ldc, stride_c);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void gemm_tiled(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                std::int64_t ldc, cudaStream_t stream) {
  gemm_tiled_batched(trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1, stream);
}

}  // namespace cudl::cuda
