#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/linear.h"

namespace cudl::cuda {

namespace {
struct Dims {
  long long n, d, m;
};
Dims dims_of(const Tensor& x, const Tensor& w) { return {x.numel() / w.size(1), w.size(1), w.size(0)}; }

// out[i, j] = b[j] + sum_k x[i, k] w[j, k]
__global__ void linear_forward_naive_kernel(const float* x, const float* w, const float* b, float* out, long long n,
                                            long long d, long long m) {
  CUDL_GRID_STRIDE_LOOP(idx, n * m) {
    const long long i = idx / m, j = idx % m;
    float sum = b[j];
    for (long long k = 0; k < d; ++k) sum += x[i * d + k] * w[j * d + k];
    out[idx] = sum;
  }
}

// dx[i, k] = sum_j dout[i, j] w[j, k]
__global__ void linear_dx_naive_kernel(const float* dout, const float* w, float* dx, long long n, long long d,
                                       long long m) {
  CUDL_GRID_STRIDE_LOOP(idx, n * d) {
    const long long i = idx / d, k = idx % d;
    float sum = 0.0f;
    for (long long j = 0; j < m; ++j) sum += dout[i * m + j] * w[j * d + k];
    dx[idx] = sum;
  }
}

// dw[j, k] = sum_i dout[i, j] x[i, k]
__global__ void linear_dw_naive_kernel(const float* dout, const float* x, float* dw, long long n, long long d,
                                       long long m) {
  CUDL_GRID_STRIDE_LOOP(idx, m * d) {
    const long long j = idx / d, k = idx % d;
    float sum = 0.0f;
    for (long long i = 0; i < n; ++i) sum += dout[i * m + j] * x[i * d + k];
    dw[idx] = sum;
  }
}

// db[j] = sum_i dout[i, j]. A block owns 32 columns; its 8 rows of threads walk
// down the rows (each warp reads 32 consecutive floats), then the 8 partial sums
// of each column are added in shared memory.
constexpr int kColumnsPerBlock = 32, kRowLanes = 8;
__global__ void linear_db_kernel(const float* dout, float* db, long long n, long long m) {
  __shared__ float partial[kRowLanes][kColumnsPerBlock + 1];
  const long long j = blockIdx.x * (long long)kColumnsPerBlock + threadIdx.x;
  float sum = 0.0f;
  if (j < m)
    for (long long i = threadIdx.y; i < n; i += kRowLanes) sum += dout[i * m + j];
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && j < m) {
    for (int r = 1; r < kRowLanes; ++r) sum += partial[r][threadIdx.x];
    db[j] = sum;
  }
}

void launch_linear_db(const float* dout, float* db, long long n, long long m, cudaStream_t s) {
  const dim3 block(kColumnsPerBlock, kRowLanes);
  linear_db_kernel<<<static_cast<unsigned>((m + kColumnsPerBlock - 1) / kColumnsPerBlock), block, 0, s>>>(dout, db, n, m);
  CUDL_CUDA_CALL(cudaGetLastError());
}

__global__ void broadcast_rows_kernel(const float* b, float* out, long long n, long long m) {
  CUDL_GRID_STRIDE_LOOP(idx, n * m)
    out[idx] = b[idx % m];
}
}  // namespace

void linear_forward_naive(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) {
  const auto [n, d, m] = dims_of(x, w);
  linear_forward_naive_kernel<<<grid_for(n * m), 256, 0, stream(x.device().index)>>>(
      x.data<float>(), w.data<float>(), b.data<float>(), out.data<float>(), n, d, m);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void linear_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db) {
  const auto [n, d, m] = dims_of(x, w);
  cudaStream_t s = stream(x.device().index);
  linear_dx_naive_kernel<<<grid_for(n * d), 256, 0, s>>>(dout.data<float>(), w.data<float>(), dx.data<float>(), n, d, m);
  CUDL_CUDA_CALL(cudaGetLastError());
  linear_dw_naive_kernel<<<grid_for(m * d), 256, 0, s>>>(dout.data<float>(), x.data<float>(), dw.data<float>(), n, d, m);
  CUDL_CUDA_CALL(cudaGetLastError());
  launch_linear_db(dout.data<float>(), db.data<float>(), n, m, s);
}

// cuBLAS is column-major: a row-major [r, c] matrix is its column-major transpose,
// so row-major C = A B is computed as column-major C^T = B^T A^T.
void linear_forward_cublas(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) {
  const auto [n, d, m] = dims_of(x, w);
  Context& ctx = context(x.device().index);
  broadcast_rows_kernel<<<grid_for(n * m), 256, 0, ctx.stream()>>>(b.data<float>(), out.data<float>(), n, m);
  CUDL_CUDA_CALL(cudaGetLastError());
  const float alpha = 1.0f, beta = 1.0f;
  // out^T [m, n] = w [m, d] x^T [d, n]
  CUDL_CUDA_CALL(cublasSgemm(ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, (int)m, (int)n, (int)d, &alpha, w.data<float>(),
                             (int)d, x.data<float>(), (int)d, &beta, out.data<float>(), (int)m));
}

void linear_backward_cublas(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db) {
  const auto [n, d, m] = dims_of(x, w);
  Context& ctx = context(x.device().index);
  const float alpha = 1.0f, beta = 0.0f;
  // dx [n, d] = dout [n, m] w [m, d]  ->  dx^T = w^T dout^T
  CUDL_CUDA_CALL(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, (int)d, (int)n, (int)m, &alpha, w.data<float>(),
                             (int)d, dout.data<float>(), (int)m, &beta, dx.data<float>(), (int)d));
  // dw [m, d] = dout^T [m, n] x [n, d]  ->  dw^T = x^T dout
  CUDL_CUDA_CALL(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, (int)d, (int)m, (int)n, &alpha, x.data<float>(),
                             (int)d, dout.data<float>(), (int)m, &beta, dw.data<float>(), (int)d));
  launch_linear_db(dout.data<float>(), db.data<float>(), n, m, ctx.stream());
}

// Our own SGEMM: out = x w^T on top of the broadcast bias; dx = dout w; dw = dout^T x.
void linear_forward_tiled(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) {
  const auto [n, d, m] = dims_of(x, w);
  cudaStream_t s = stream(x.device().index);
  broadcast_rows_kernel<<<grid_for(n * m), 256, 0, s>>>(b.data<float>(), out.data<float>(), n, m);
  CUDL_CUDA_CALL(cudaGetLastError());
  gemm_tiled(false, true, n, m, d, 1.0f, x.data<float>(), d, w.data<float>(), d, 1.0f, out.data<float>(), m, s);
}

void linear_backward_tiled(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db) {
  const auto [n, d, m] = dims_of(x, w);
  cudaStream_t s = stream(x.device().index);
  gemm_tiled(false, false, n, d, m, 1.0f, dout.data<float>(), m, w.data<float>(), d, 0.0f, dx.data<float>(), d, s);
  gemm_tiled(true, false, m, d, n, 1.0f, dout.data<float>(), m, x.data<float>(), d, 0.0f, dw.data<float>(), d, s);
  launch_linear_db(dout.data<float>(), db.data<float>(), n, m, s);
}

}  // namespace cudl::cuda
