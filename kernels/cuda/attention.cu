// Attention on CUDA: the naive reference (every [BH, S, T] intermediate in global
// memory) and FlashAttention-2 in fp32 SIMT (no tensor cores: results stay fp32).
//
// Flash backward: dK and dV are accumulated in registers by a block that owns a
// block of keys and walks the query blocks; dQ is a second kernel that owns a
// block of queries and walks the key blocks. The alternative, atomicAdd of dQ
// partials from the dK/dV kernel, saves recomputing the scores and dP once more
// (about 2 of the backward's 7 tile products) but adds floats in whatever order
// the blocks run, so dQ would differ from run to run; cudl keeps one input, one
// result, and no atomic contention on dQ rows shared by every key block.
#include <algorithm>

#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/reduce.cuh"

namespace cudl::cuda {

namespace {
// ---------------------------------------------------------------- naive ----
__global__ void scores_naive_kernel(const float* q, const float* k, AttentionDims d, float* scores) {
  CUDL_GRID_STRIDE_LOOP(idx, d.batch_heads * d.s * d.t) {
    const long long j = idx % d.t, row = idx / d.t, i = row % d.s, bh = row / d.s;
    float score = -INFINITY;
    if (attends(d, i, j)) {
      const float *qi = q + row * d.dh, *kj = k + (bh * d.t + j) * d.dh;
      float acc = 0.0f;
      for (long long c = 0; c < d.dh; ++c) acc += qi[c] * kj[c];
      score = acc * d.scale;
    }
    scores[idx] = score;
  }
}

// Scores -> probabilities in place, and each row's log-sum-exp (+inf for a row
// that attends nothing, whose probabilities are 0).
__global__ void softmax_rows_naive_kernel(float* p, long long rows, long long t, float* lse) {
  CUDL_GRID_STRIDE_LOOP(row, rows) {
    float* r = p + row * t;
    float max = -INFINITY, sum = 0.0f;
    for (long long j = 0; j < t; ++j) max = fmaxf(max, r[j]);
    if (max == -INFINITY) {
      for (long long j = 0; j < t; ++j) r[j] = 0.0f;
      lse[row] = INFINITY;
      continue;
    }
    for (long long j = 0; j < t; ++j) sum += expf(r[j] - max);
    for (long long j = 0; j < t; ++j) r[j] = expf(r[j] - max) / sum;
    lse[row] = max + logf(sum);
  }
}

// Scores -> exp(score - lse): hidden scores are -inf and lse +inf rows give 0.
__global__ void probabilities_naive_kernel(float* p, const float* lse, long long count, long long t) {
  CUDL_GRID_STRIDE_LOOP(idx, count) p[idx] = expf(p[idx] - lse[idx / t]);
}

// out[bh, i, :] = alpha * sum_j a[bh, i, j] * b[bh, j, :]  (a [BH, S, T], b [BH, T, Dh])
__global__ void rows_times_naive_kernel(const float* a, const float* b, float alpha, AttentionDims d, float* out) {
  CUDL_GRID_STRIDE_LOOP(idx, d.batch_heads * d.s * d.dh) {
    const long long c = idx % d.dh, row = idx / d.dh, bh = row / d.s;
    float acc = 0.0f;
    for (long long j = 0; j < d.t; ++j) acc += a[row * d.t + j] * b[(bh * d.t + j) * d.dh + c];
    out[idx] = alpha * acc;
  }
}

// out[bh, j, :] = alpha * sum_i a[bh, i, j] * b[bh, i, :]  (a [BH, S, T], b [BH, S, Dh])
__global__ void columns_times_naive_kernel(const float* a, const float* b, float alpha, AttentionDims d, float* out) {
  CUDL_GRID_STRIDE_LOOP(idx, d.batch_heads * d.t * d.dh) {
    const long long c = idx % d.dh, j = (idx / d.dh) % d.t, bh = idx / (d.dh * d.t);
    float acc = 0.0f;
    for (long long i = 0; i < d.s; ++i) acc += a[(bh * d.s + i) * d.t + j] * b[(bh * d.s + i) * d.dh + c];
    out[idx] = alpha * acc;
  }
}

// ds = p * (dout_i . v_j - D_i), D_i = dout_i . out_i (recomputed per score: naive).
__global__ void score_grad_naive_kernel(const float* p, const float* dout, const float* v, const float* out,
                                        AttentionDims d, float* ds) {
  CUDL_GRID_STRIDE_LOOP(idx, d.batch_heads * d.s * d.t) {
    const long long j = idx % d.t, row = idx / d.t, bh = row / d.s;
    const float *g = dout + row * d.dh, *vj = v + (bh * d.t + j) * d.dh, *o = out + row * d.dh;
    float dp = 0.0f, rowsum = 0.0f;
    for (long long c = 0; c < d.dh; ++c) {
      dp += g[c] * vj[c];
      rowsum += g[c] * o[c];
    }
    ds[idx] = p[idx] * (dp - rowsum);
  }
}

// ---------------------------------------------------------------- flash ----
// Every tile is covered by a 16 x 16 grid of threads: thread (ty, tx) owns rows
// ty + 16 r and columns tx + 16 c, so the 16 threads of a row are one half-warp
// and row reductions are four shuffles. Shared tiles of head-dim rows are padded
// to Dh + 1 floats: the 16 rows read at one d then fall in 16 different banks.
constexpr int kThreads = 256, kLanes = 16;

template <int Dh> struct FlashTiles;  // query and key rows per block
template <> struct FlashTiles<32> { static constexpr int kRows = 64, kKeys = 64, kBwdRows = 64, kBwdKeys = 64; };
template <> struct FlashTiles<64> { static constexpr int kRows = 64, kKeys = 64, kBwdRows = 64, kBwdKeys = 64; };
template <> struct FlashTiles<128> { static constexpr int kRows = 64, kKeys = 32, kBwdRows = 32, kBwdKeys = 32; };

__device__ __forceinline__ int lane_x() { return threadIdx.x % kLanes; }
__device__ __forceinline__ int lane_y() { return threadIdx.x / kLanes; }

template <typename Op> __device__ __forceinline__ float row_reduce(float v, Op op) {
  for (int mask = kLanes / 2; mask > 0; mask >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, mask));
  return v;
}
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Rows [row0, row0 + Rows) of a [rows, dh] matrix into a [Rows][Dh + 1] tile;
// rows past the matrix and columns past dh are 0, so they add nothing to a product.
template <int Rows, int Dh>
__device__ void load_tile(float* tile, const float* src, long long row0, long long rows, int dh) {
  for (int e = threadIdx.x; e < Rows * Dh; e += kThreads) {
    const int r = e / Dh, c = e % Dh;
    const long long row = row0 + r;
    tile[r * (Dh + 1) + c] = row < rows && c < dh ? src[row * dh + c] : 0.0f;
  }
}

// acc[r][c] += a[ty + 16 r, :] . b[tx + 16 c, :] over the head dim.
template <int R, int C, int Dh> __device__ void tile_dot(float (&acc)[R][C], const float* a, const float* b) {
  const int tx = lane_x(), ty = lane_y();
#pragma unroll 8
  for (int k = 0; k < Dh; ++k) {
    float av[R], bv[C];
#pragma unroll
    for (int r = 0; r < R; ++r) av[r] = a[(ty + kLanes * r) * (Dh + 1) + k];
#pragma unroll
    for (int c = 0; c < C; ++c) bv[c] = b[(tx + kLanes * c) * (Dh + 1) + k];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < C; ++c) acc[r][c] = fmaf(av[r], bv[c], acc[r][c]);
  }
}

// acc[r][e] += sum_j p[ty + 16 r, j] * m[j, tx + 16 e] for j < J; p's rows are `ldp` apart.
template <int R, int E, int J, int Dh>
__device__ void tile_accumulate(float (&acc)[R][E], const float* p, int ldp, const float* m) {
  const int tx = lane_x(), ty = lane_y();
#pragma unroll 4
  for (int j = 0; j < J; ++j) {
    float pv[R], mv[E];
#pragma unroll
    for (int r = 0; r < R; ++r) pv[r] = p[(ty + kLanes * r) * ldp + j];
#pragma unroll
    for (int e = 0; e < E; ++e) mv[e] = m[j * (Dh + 1) + tx + kLanes * e];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int e = 0; e < E; ++e) acc[r][e] = fmaf(pv[r], mv[e], acc[r][e]);
  }
}

// Writes rows [row0, row0 + 16 R) of acc * alpha into dst [rows, dh] (rows and columns that exist).
template <int R, int E>
__device__ void store_rows(const float (&acc)[R][E], float alpha, float* dst, long long row0, long long rows, int dh) {
  const int tx = lane_x(), ty = lane_y();
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const long long row = row0 + ty + kLanes * r;
    if (row >= rows) continue;
#pragma unroll
    for (int e = 0; e < E; ++e)
      if (tx + kLanes * e < dh) dst[row * dh + tx + kLanes * e] = acc[r][e] * alpha;
  }
}

// Whether key j of query i takes part (inside the matrices and attended).
__device__ __forceinline__ bool visible(const AttentionDims& d, long long i, long long j) {
  return i < d.s && j < d.t && attends(d, i, j);
}

template <int Dh> constexpr int forward_smem_floats() {
  using T = FlashTiles<Dh>;
  return (T::kRows + 2 * T::kKeys) * (Dh + 1) + T::kRows * (T::kKeys + 1);
}

// One block per (sample-head, block of kRows queries); the key blocks stream
// through shared memory with the online softmax (running max m, sum l, and the
// unnormalised output o, all rescaled when m grows).
template <int Dh>
__global__ void __launch_bounds__(kThreads)
    attention_forward_flash_kernel(const float* __restrict__ q, const float* __restrict__ k,
                                   const float* __restrict__ v, AttentionDims d, float* __restrict__ out,
                                   float* __restrict__ lse) {
  constexpr int Br = FlashTiles<Dh>::kRows, Bc = FlashTiles<Dh>::kKeys;
  constexpr int R = Br / kLanes, C = Bc / kLanes, E = Dh / kLanes, ld = Dh + 1;
  extern __shared__ float smem[];
  float *qs = smem, *ks = qs + Br * ld, *vs = ks + Bc * ld, *ps = vs + Bc * ld;
  const int tx = lane_x(), ty = lane_y(), dh = static_cast<int>(d.dh);
  const long long bh = blockIdx.x, i0 = static_cast<long long>(blockIdx.y) * Br;
  const float *qb = q + bh * d.s * d.dh, *kb = k + bh * d.t * d.dh, *vb = v + bh * d.t * d.dh;
  load_tile<Br, Dh>(qs, qb, i0, d.s, dh);

  float m[R], l[R], o[R][E];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int e = 0; e < E; ++e) o[r][e] = 0.0f;
  }
  const long long keys = visible_keys(d, min(i0 + Br, static_cast<long long>(d.s)));
  for (long long j0 = 0; j0 < keys; j0 += Bc) {
    __syncthreads();  // the previous key block's P V is done with ks, vs, ps
    load_tile<Bc, Dh>(ks, kb, j0, d.t, dh);
    load_tile<Bc, Dh>(vs, vb, j0, d.t, dh);
    __syncthreads();
    float s[R][C] = {};
    tile_dot<R, C, Dh>(s, qs, ks);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const long long i = i0 + ty + kLanes * r;
      float block_max = -INFINITY;
#pragma unroll
      for (int c = 0; c < C; ++c) {
        s[r][c] = visible(d, i, j0 + tx + kLanes * c) ? s[r][c] * d.scale : -INFINITY;
        block_max = fmaxf(block_max, s[r][c]);
      }
      const float m_new = fmaxf(m[r], row_reduce(block_max, Max{}));
      // Until the row attends some key, m stays -inf and everything stays 0
      // (exp(-inf - -inf) would be NaN).
      const bool seen = m_new != -INFINITY;
      const float alpha = seen ? expf(m[r] - m_new) : 1.0f;
      float block_sum = 0.0f;
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const float p = seen ? expf(s[r][c] - m_new) : 0.0f;
        ps[(ty + kLanes * r) * (Bc + 1) + tx + kLanes * c] = p;
        block_sum += p;
      }
      l[r] = l[r] * alpha + row_reduce(block_sum, Sum{});
      m[r] = m_new;
#pragma unroll
      for (int e = 0; e < E; ++e) o[r][e] *= alpha;
    }
    __syncthreads();
    tile_accumulate<R, E, Bc, Dh>(o, ps, Bc + 1, vs);
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const long long i = i0 + ty + kLanes * r;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;  // a row that attends nothing: out 0
#pragma unroll
    for (int e = 0; e < E; ++e) o[r][e] *= inv;
    if (tx == 0 && i < d.s) lse[bh * d.s + i] = l[r] > 0.0f ? m[r] + logf(l[r]) : INFINITY;
  }
  store_rows<R, E>(o, 1.0f, out + bh * d.s * d.dh, i0, d.s, dh);
}

// D_i = dout_i . out_i, one warp per row (FlashAttention-2's preprocessing).
__global__ void rowsum_dout_out_kernel(const float* __restrict__ dout, const float* __restrict__ out, long long rows,
                                       long long dh, float* __restrict__ rowsum) {
  using G = RowGroup<false>;
  for (long long i = G::first_row(); i < rows; i += G::row_stride()) {
    float acc = 0.0f;
    for (long long c = G::rank(); c < dh; c += G::size()) acc += dout[i * dh + c] * out[i * dh + c];
    acc = G::reduce(acc, Sum{}, 0.0f);
    if (G::rank() == 0) rowsum[i] = acc;
  }
}

template <int Dh> constexpr int key_grads_smem_floats() {
  using T = FlashTiles<Dh>;
  return 2 * (T::kBwdKeys + T::kBwdRows) * (Dh + 1) + 2 * T::kBwdKeys * (T::kBwdRows + 1) + 2 * T::kBwdRows;
}

// One block per (sample-head, block of keys): walks the query blocks that can see
// its keys; transposed tiles (keys as rows) so that dK and dV rows stay in the
// thread that accumulates them. dV += P^T dO, dK += scale dS^T Q.
template <int Dh>
__global__ void __launch_bounds__(kThreads)
    attention_key_grads_flash_kernel(const float* __restrict__ dout, const float* __restrict__ q,
                                     const float* __restrict__ k, const float* __restrict__ v,
                                     const float* __restrict__ lse, const float* __restrict__ rowsum, AttentionDims d,
                                     float* __restrict__ dk, float* __restrict__ dv) {
  constexpr int Br = FlashTiles<Dh>::kBwdRows, Bc = FlashTiles<Dh>::kBwdKeys;
  constexpr int R = Bc / kLanes, C = Br / kLanes, E = Dh / kLanes, ld = Dh + 1;
  extern __shared__ float smem[];
  float *ks = smem, *vs = ks + Bc * ld, *qs = vs + Bc * ld, *gs = qs + Br * ld;
  float *pt = gs + Br * ld, *dst = pt + Bc * (Br + 1), *lse_s = dst + Bc * (Br + 1), *rowsum_s = lse_s + Br;
  const int tx = lane_x(), ty = lane_y(), dh = static_cast<int>(d.dh);
  const long long bh = blockIdx.x, j0 = static_cast<long long>(blockIdx.y) * Bc;
  const float *qb = q + bh * d.s * d.dh, *gb = dout + bh * d.s * d.dh;
  load_tile<Bc, Dh>(ks, k + bh * d.t * d.dh, j0, d.t, dh);
  load_tile<Bc, Dh>(vs, v + bh * d.t * d.dh, j0, d.t, dh);

  float dk_acc[R][E] = {}, dv_acc[R][E] = {};
  // Causal: queries before j0 see none of these keys.
  for (long long i0 = d.causal ? (j0 / Br) * Br : 0; i0 < d.s; i0 += Br) {
    __syncthreads();  // the previous query block's products are done with qs, gs, pt, dst
    load_tile<Br, Dh>(qs, qb, i0, d.s, dh);
    load_tile<Br, Dh>(gs, gb, i0, d.s, dh);
    for (int e = threadIdx.x; e < Br; e += kThreads) {
      const long long i = i0 + e;
      lse_s[e] = i < d.s ? lse[bh * d.s + i] : INFINITY;
      rowsum_s[e] = i < d.s ? rowsum[bh * d.s + i] : 0.0f;
    }
    __syncthreads();
    float s[R][C] = {}, dp[R][C] = {};
    tile_dot<R, C, Dh>(s, ks, qs);
    tile_dot<R, C, Dh>(dp, vs, gs);
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const int il = tx + kLanes * c;
        const float p = visible(d, i0 + il, j0 + ty + kLanes * r) ? expf(s[r][c] * d.scale - lse_s[il]) : 0.0f;
        pt[(ty + kLanes * r) * (Br + 1) + il] = p;
        dst[(ty + kLanes * r) * (Br + 1) + il] = p * (dp[r][c] - rowsum_s[il]);
      }
    __syncthreads();
    tile_accumulate<R, E, Br, Dh>(dv_acc, pt, Br + 1, gs);
    tile_accumulate<R, E, Br, Dh>(dk_acc, dst, Br + 1, qs);
  }
  store_rows<R, E>(dk_acc, d.scale, dk + bh * d.t * d.dh, j0, d.t, dh);
  store_rows<R, E>(dv_acc, 1.0f, dv + bh * d.t * d.dh, j0, d.t, dh);
}

template <int Dh> constexpr int query_grads_smem_floats() {
  using T = FlashTiles<Dh>;
  return 2 * (T::kBwdRows + T::kBwdKeys) * (Dh + 1) + T::kBwdRows * (T::kBwdKeys + 1);
}

// One block per (sample-head, block of queries): walks the key blocks it sees;
// dQ += scale dS K.
template <int Dh>
__global__ void __launch_bounds__(kThreads)
    attention_query_grads_flash_kernel(const float* __restrict__ dout, const float* __restrict__ q,
                                       const float* __restrict__ k, const float* __restrict__ v,
                                       const float* __restrict__ lse, const float* __restrict__ rowsum,
                                       AttentionDims d, float* __restrict__ dq) {
  constexpr int Br = FlashTiles<Dh>::kBwdRows, Bc = FlashTiles<Dh>::kBwdKeys;
  constexpr int R = Br / kLanes, C = Bc / kLanes, E = Dh / kLanes, ld = Dh + 1;
  extern __shared__ float smem[];
  float *qs = smem, *gs = qs + Br * ld, *ks = gs + Br * ld, *vs = ks + Bc * ld, *dss = vs + Bc * ld;
  const int tx = lane_x(), ty = lane_y(), dh = static_cast<int>(d.dh);
  const long long bh = blockIdx.x, i0 = static_cast<long long>(blockIdx.y) * Br;
  const float *kb = k + bh * d.t * d.dh, *vb = v + bh * d.t * d.dh;
  load_tile<Br, Dh>(qs, q + bh * d.s * d.dh, i0, d.s, dh);
  load_tile<Br, Dh>(gs, dout + bh * d.s * d.dh, i0, d.s, dh);
  float lse_r[R], rowsum_r[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const long long i = i0 + ty + kLanes * r;
    lse_r[r] = i < d.s ? lse[bh * d.s + i] : INFINITY;
    rowsum_r[r] = i < d.s ? rowsum[bh * d.s + i] : 0.0f;
  }
  float dq_acc[R][E] = {};
  const long long keys = visible_keys(d, min(i0 + Br, static_cast<long long>(d.s)));
  for (long long j0 = 0; j0 < keys; j0 += Bc) {
    __syncthreads();
    load_tile<Bc, Dh>(ks, kb, j0, d.t, dh);
    load_tile<Bc, Dh>(vs, vb, j0, d.t, dh);
    __syncthreads();
    float s[R][C] = {}, dp[R][C] = {};
    tile_dot<R, C, Dh>(s, qs, ks);
    tile_dot<R, C, Dh>(dp, gs, vs);
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const long long i = i0 + ty + kLanes * r, j = j0 + tx + kLanes * c;
        const float p = visible(d, i, j) ? expf(s[r][c] * d.scale - lse_r[r]) : 0.0f;
        dss[(ty + kLanes * r) * (Bc + 1) + tx + kLanes * c] = p * (dp[r][c] - rowsum_r[r]);
      }
    __syncthreads();
    tile_accumulate<R, E, Bc, Dh>(dq_acc, dss, Bc + 1, ks);
  }
  store_rows<R, E>(dq_acc, d.scale, dq + bh * d.s * d.dh, i0, d.s, dh);
}

// Launches kernel<Dh> with `floats` of dynamic shared memory (past the 48 KB
// default, hence the attribute) over (sample-heads, tiles).
template <typename Kernel, typename... Args>
void launch_flash(Kernel kernel, int floats, long long batch_heads, long long tiles, cudaStream_t s, Args... args) {
  const std::size_t bytes = static_cast<std::size_t>(floats) * sizeof(float);
  CUDL_CUDA_CALL(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  CUDL_CHECK(tiles <= 65535, "scaled_dot_product_attention: at most ", 65535, " tiles of a sequence, got ", tiles);
  kernel<<<dim3(static_cast<unsigned>(batch_heads), static_cast<unsigned>(tiles)), kThreads, bytes, s>>>(args...);
  CUDL_CUDA_CALL(cudaGetLastError());
}

long long tiles_of(long long n, int tile) { return (n + tile - 1) / tile; }

// Calls f(std::integral_constant<int, Dh>) for the smallest compiled head dim >= d.dh.
template <typename F> void with_head_dim(const AttentionDims& d, F f) {
  if (d.dh <= 32)
    f(std::integral_constant<int, 32>{});
  else if (d.dh <= 64)
    f(std::integral_constant<int, 64>{});
  else
    f(std::integral_constant<int, 128>{});
}
}  // namespace

void attention_forward_naive(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out,
                             Tensor& lse) {
  cudaStream_t s = stream(q.device().index);
  Tensor p = Tensor::empty({d.batch_heads, d.s, d.t}, DType::F32, q.device());
  launch_grid_stride(scores_naive_kernel, p.numel(), s, q.data<float>(), k.data<float>(), d, p.data<float>());
  launch_grid_stride(softmax_rows_naive_kernel, d.batch_heads * d.s, s, p.data<float>(), d.batch_heads * d.s,
                     static_cast<long long>(d.t), lse.data<float>());
  launch_grid_stride(rows_times_naive_kernel, out.numel(), s, static_cast<const float*>(p.data<float>()),
                     v.data<float>(), 1.0f, d, out.data<float>());
}

void attention_backward_naive(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& out, const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk,
                              Tensor& dv) {
  cudaStream_t s = stream(q.device().index);
  Tensor p = Tensor::empty({d.batch_heads, d.s, d.t}, DType::F32, q.device());
  Tensor ds = Tensor::empty(p.shape(), DType::F32, q.device());
  launch_grid_stride(scores_naive_kernel, p.numel(), s, q.data<float>(), k.data<float>(), d, p.data<float>());
  launch_grid_stride(probabilities_naive_kernel, p.numel(), s, p.data<float>(), lse.data<float>(), p.numel(),
                     static_cast<long long>(d.t));
  launch_grid_stride(score_grad_naive_kernel, p.numel(), s, static_cast<const float*>(p.data<float>()),
                     dout.data<float>(), v.data<float>(), out.data<float>(), d, ds.data<float>());
  launch_grid_stride(rows_times_naive_kernel, dq.numel(), s, static_cast<const float*>(ds.data<float>()),
                     k.data<float>(), d.scale, d, dq.data<float>());
  launch_grid_stride(columns_times_naive_kernel, dk.numel(), s, static_cast<const float*>(ds.data<float>()),
                     q.data<float>(), d.scale, d, dk.data<float>());
  launch_grid_stride(columns_times_naive_kernel, dv.numel(), s, static_cast<const float*>(p.data<float>()),
                     dout.data<float>(), 1.0f, d, dv.data<float>());
}

void attention_forward_flash(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out,
                             Tensor& lse) {
  cudaStream_t s = stream(q.device().index);
  with_head_dim(d, [&](auto head_dim) {
    constexpr int Dh = decltype(head_dim)::value;
    launch_flash(attention_forward_flash_kernel<Dh>, forward_smem_floats<Dh>(), d.batch_heads,
                 tiles_of(d.s, FlashTiles<Dh>::kRows), s, q.data<float>(), k.data<float>(), v.data<float>(), d,
                 out.data<float>(), lse.data<float>());
  });
}

void attention_backward_flash(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& out, const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk,
                              Tensor& dv) {
  cudaStream_t s = stream(q.device().index);
  const long long rows = d.batch_heads * d.s;
  Tensor rowsum = Tensor::empty({rows}, DType::F32, q.device());
  constexpr int rows_per_block = kThreads / kWarp;
  rowsum_dout_out_kernel<<<grid_for((rows + rows_per_block - 1) / rows_per_block, 1), kThreads, 0, s>>>(
      dout.data<float>(), out.data<float>(), rows, d.dh, rowsum.data<float>());
  CUDL_CUDA_CALL(cudaGetLastError());
  with_head_dim(d, [&](auto head_dim) {
    constexpr int Dh = decltype(head_dim)::value;
    using T = FlashTiles<Dh>;
    launch_flash(attention_key_grads_flash_kernel<Dh>, key_grads_smem_floats<Dh>(), d.batch_heads,
                 tiles_of(d.t, T::kBwdKeys), s, dout.data<float>(), q.data<float>(), k.data<float>(),
                 v.data<float>(), lse.data<float>(), static_cast<const float*>(rowsum.data<float>()), d,
                 dk.data<float>(), dv.data<float>());
    launch_flash(attention_query_grads_flash_kernel<Dh>, query_grads_smem_floats<Dh>(), d.batch_heads,
                 tiles_of(d.s, T::kBwdRows), s, dout.data<float>(), q.data<float>(), k.data<float>(),
                 v.data<float>(), lse.data<float>(), static_cast<const float*>(rowsum.data<float>()), d,
                 dq.data<float>());
  });
}

}  // namespace cudl::cuda
