// Bad labels are flagged as in loss.cu: max(rows - row) over bad rows, so that
// only an 8-byte flag comes back and it names the first bad row.
#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/temporal_softmax_loss.h"
#include "kernels/loss_math.h"

namespace cudl::cuda {

namespace {
using Flag = unsigned long long;

__device__ __forceinline__ bool label_ok(long long label, long long classes, long long row, long long rows, Flag* bad) {
  if (label >= 0 && label < classes) return true;
  atomicMax(bad, static_cast<Flag>(rows - row));
  return false;
}

__global__ void step_loss_naive_kernel(const float* x, const std::int64_t* labels, const float* mask, long long rows,
                                       long long classes, float divisor, float* dx, float* step_loss, Flag* bad) {
  CUDL_GRID_STRIDE_LOOP(r, rows) {
    step_loss[r] = 0.0f;
    if (!label_ok(labels[r], classes, r, rows, bad)) continue;
    step_loss[r] = mask[r] * cross_entropy_row<float>(x + r * classes, classes, labels[r], mask[r] / divisor,
                                                      dx + r * classes);
  }
}

__global__ void step_loss_warp_kernel(const float* __restrict__ x, const std::int64_t* __restrict__ labels,
                                      const float* __restrict__ mask, long long rows, long long classes, float divisor,
                                      float* __restrict__ dx, float* __restrict__ step_loss, Flag* bad) {
  using G = RowGroup<false>;
  for (long long r = G::first_row(); r < rows; r += G::row_stride()) {
    const long long label = labels[r];
    if (!label_ok(label, classes, r, rows, bad)) continue;  // the same branch for the whole warp
    const float* xr = x + r * classes;
    MaxSum s = empty_max_sum();
    for (long long j = G::rank(); j < classes; j += G::size()) online_add(s, xr[j]);
    s = G::reduce(s, CombineMaxSum{}, empty_max_sum());
    const float inv = 1.0f / s.sum, weight = mask[r], scale = weight / divisor;
    for (long long j = G::rank(); j < classes; j += G::size())
      dx[r * classes + j] = (expf(xr[j] - s.max) * inv - (j == label ? 1.0f : 0.0f)) * scale;
    if (G::rank() == 0) step_loss[r] = weight * (s.max + logf(s.sum) - xr[label]);
  }
}

// One block (or one thread, blockDim 1): the sum of `n` step losses over `divisor`.
__global__ void sum_over_kernel(const float* values, long long n, double divisor, float* out) {
  double sum = 0.0;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) sum += values[i];
  if (blockDim.x > 1) sum = block_reduce(sum, Sum{}, 0.0);
  if (threadIdx.x == 0) *out = static_cast<float>(sum / divisor);
}

struct Steps {
  long long rows, classes;
  Tensor step_loss, bad;
};
Steps steps_of(const Tensor& x) {
  const long long classes = x.size(2), rows = x.numel() / classes;
  return {rows, classes, Tensor::zeros({rows}, DType::F32, x.device()), Tensor::zeros({1}, DType::I64, x.device())};
}

std::int64_t first_bad_row(const Steps& st) {
  const std::int64_t flag = st.bad.to_vector_i64()[0];  // waits for the kernels: an 8-byte copy
  return flag == 0 ? -1 : st.rows - flag;
}

constexpr int kBlock = 256, kSumBlock = 1024;
}  // namespace

std::int64_t temporal_softmax_loss_naive(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor,
                                         Tensor& loss, Tensor& dx) {
  cudaStream_t s = stream(x.device().index);
  Steps st = steps_of(x);
  step_loss_naive_kernel<<<grid_for(st.rows), kBlock, 0, s>>>(
      x.data<float>(), y.data<std::int64_t>(), mask.data<float>(), st.rows, st.classes, static_cast<float>(divisor),
      dx.data<float>(), st.step_loss.data<float>(), reinterpret_cast<Flag*>(st.bad.data<std::int64_t>()));
  CUDL_CUDA_CALL(cudaGetLastError());
  sum_over_kernel<<<1, 1, 0, s>>>(st.step_loss.data<float>(), st.rows, divisor, loss.data<float>());
  CUDL_CUDA_CALL(cudaGetLastError());
  return first_bad_row(st);
}

std::int64_t temporal_softmax_loss_warp(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor,
                                        Tensor& loss, Tensor& dx) {
  cudaStream_t s = stream(x.device().index);
  Steps st = steps_of(x);
  constexpr int rows_per_block = kBlock / kWarp;
  step_loss_warp_kernel<<<grid_for((st.rows + rows_per_block - 1) / rows_per_block, 1), kBlock, 0, s>>>(
      x.data<float>(), y.data<std::int64_t>(), mask.data<float>(), st.rows, st.classes, static_cast<float>(divisor),
      dx.data<float>(), st.step_loss.data<float>(), reinterpret_cast<Flag*>(st.bad.data<std::int64_t>()));
  CUDL_CUDA_CALL(cudaGetLastError());
  sum_over_kernel<<<1, kSumBlock, 0, s>>>(st.step_loss.data<float>(), st.rows, divisor, loss.data<float>());
  CUDL_CUDA_CALL(cudaGetLastError());
  return first_bad_row(st);
}

}  // namespace cudl::cuda
