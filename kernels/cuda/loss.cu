// Labels are checked on the device rather than on the host before launch: the
// host check would copy all N labels back and wait for them, while the kernels
// can flag a bad row as they read the labels anyway. Nor does the host wait for
// the flag: the context copies it back asynchronously and checks it at the next
// sync point (Context::defer_flag_check), so a training step pays no extra sync.
// The flag holds max over bad rows of (N - row) << 32 | label as 32 bits, so it
// names the first bad row, as the CPU check does, and its label.
#include <algorithm>
#include <climits>

#include "core/check.h"
#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/reduce.cuh"

namespace cudl::cuda {

namespace {
using Flag = unsigned long long;

__device__ __forceinline__ bool label_ok(long long label, long long classes, long long row, long long rows, Flag* bad) {
  if (label >= 0 && label < classes) return true;
  const long long shown = label < INT_MIN ? INT_MIN : (label > INT_MAX ? INT_MAX : label);  // clamped to 32 bits
  atomicMax(bad, static_cast<Flag>(rows - row) << 32 | static_cast<std::uint32_t>(shown));
  return false;
}

__global__ void row_loss_naive_kernel(LossKind kind, const float* x, const std::int64_t* labels, long long rows,
                                      long long classes, float* dx, float* row_loss, Flag* bad) {
  const float scale = 1.0f / rows;
  CUDL_GRID_STRIDE_LOOP(i, rows) {
    row_loss[i] = 0.0f;
    if (!label_ok(labels[i], classes, i, rows, bad)) continue;
    const float* xr = x + i * classes;
    float* dr = dx + i * classes;
    row_loss[i] = kind == LossKind::CrossEntropy ? cross_entropy_row<float>(xr, classes, labels[i], scale, dr)
                                                 : svm_row<float>(xr, classes, labels[i], scale, dr);
  }
}

__global__ void element_loss_naive_kernel(LossKind kind, const float* x, const float* target, long long n, float* dx,
                                          float* element_loss) {
  const float scale = 1.0f / n;
  CUDL_GRID_STRIDE_LOOP(i, n)
    element_loss[i] = kind == LossKind::BceWithLogits ? bce_with_logits_element<float>(x[i], target[i], scale, dx + i)
                                                      : mse_element<float>(x[i], target[i], scale, dx + i);
}

__global__ void mean_serial_kernel(const float* values, long long n, long long count, float* out) {
  double sum = 0.0;
  for (long long i = 0; i < n; ++i) sum += values[i];
  *out = static_cast<float>(sum / count);
}

// One block: the sum of `n` partial losses divided by `count`.
__global__ void mean_block_kernel(const float* values, long long n, long long count, float* out) {
  double sum = 0.0;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) sum += values[i];
  sum = block_reduce(sum, Sum{}, 0.0);
  if (threadIdx.x == 0) *out = static_cast<float>(sum / count);
}

// A warp per row: the online max/sum gives log-sum-exp in one read of the row.
__global__ void cross_entropy_warp_kernel(const float* __restrict__ x, const std::int64_t* __restrict__ labels,
                                          long long rows, long long classes, float* __restrict__ dx,
                                          float* __restrict__ row_loss, Flag* bad) {
  using G = RowGroup<false>;
  const float scale = 1.0f / rows;
  for (long long i = G::first_row(); i < rows; i += G::row_stride()) {
    const long long label = labels[i];
    if (!label_ok(label, classes, i, rows, bad)) continue;  // the same branch for the whole warp
    const float* xr = x + i * classes;
    MaxSum s = empty_max_sum();
    for (long long j = G::rank(); j < classes; j += G::size()) online_add(s, xr[j]);
    s = G::reduce(s, CombineMaxSum{}, empty_max_sum());
    const float inv = 1.0f / s.sum;
    for (long long j = G::rank(); j < classes; j += G::size())
      dx[i * classes + j] = (expf(xr[j] - s.max) * inv - (j == label ? 1.0f : 0.0f)) * scale;
    if (G::rank() == 0) row_loss[i] = s.max + logf(s.sum) - xr[label];
  }
}

__global__ void svm_warp_kernel(const float* __restrict__ x, const std::int64_t* __restrict__ labels, long long rows,
                                long long classes, float* __restrict__ dx, float* __restrict__ row_loss, Flag* bad) {
  using G = RowGroup<false>;
  const float scale = 1.0f / rows;
  for (long long i = G::first_row(); i < rows; i += G::row_stride()) {
    const long long label = labels[i];
    if (!label_ok(label, classes, i, rows, bad)) continue;
    const float* xr = x + i * classes;
    const float correct = xr[label];
    float loss = 0.0f, positive = 0.0f;
    for (long long j = G::rank(); j < classes; j += G::size()) {
      if (j == label) continue;  // written below, once the positive margins are counted
      const float margin = xr[j] - correct + 1.0f;
      const bool counts = margin > 0.0f;
      loss += counts ? margin : 0.0f;
      positive += counts ? 1.0f : 0.0f;
      dx[i * classes + j] = counts ? scale : 0.0f;
    }
    loss = G::reduce(loss, Sum{}, 0.0f);
    positive = G::reduce(positive, Sum{}, 0.0f);
    if (G::rank() == 0) {
      dx[i * classes + label] = -positive * scale;
      row_loss[i] = loss;
    }
  }
}

// Grid-stride over elements; each block leaves the sum of its elements' losses.
__global__ void element_loss_block_kernel(LossKind kind, const float* __restrict__ x, const float* __restrict__ target,
                                          long long n, float* __restrict__ dx, float* __restrict__ block_loss) {
  const float scale = 1.0f / n;
  float sum = 0.0f;
  CUDL_GRID_STRIDE_LOOP(i, n)
    sum += kind == LossKind::BceWithLogits ? bce_with_logits_element<float>(x[i], target[i], scale, dx + i)
                                           : mse_element<float>(x[i], target[i], scale, dx + i);
  sum = block_reduce(sum, Sum{}, 0.0f);
  if (threadIdx.x == 0) block_loss[blockIdx.x] = sum;
}

// After the kernels that flag bad labels: has the flag checked at the next sync point.
void defer_label_check(int device, const Tensor& bad, long long rows, const BadLabel& on_bad_label) {
  context(device).defer_flag_check(reinterpret_cast<const std::uint64_t*>(bad.data<std::int64_t>()),
                                   [rows, on_bad_label](std::uint64_t flag) {
                                     if (flag == 0) return;
                                     const auto label = static_cast<std::int32_t>(flag & 0xffffffffu);
                                     on_bad_label(rows - static_cast<long long>(flag >> 32), label);
                                   });
}

void check_rows(long long rows) {
  CUDL_CHECK(rows <= INT_MAX, "loss: at most 2^31 - 1 rows on CUDA, got ", rows);
}

constexpr int kBlock = 256, kMeanBlock = 1024;
constexpr unsigned kMaxElementBlocks = 1024;  // enough to fill the GPU; fewer partial sums to add
}  // namespace

void loss_naive(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx, const BadLabel& on_bad_label) {
  const int device = x.device().index;
  cudaStream_t s = stream(device);
  if (has_labels(kind)) {
    const long long rows = x.size(0), classes = x.size(1);
    check_rows(rows);
    Tensor row_loss = Tensor::empty({rows}, DType::F32, x.device());
    Tensor bad = Tensor::zeros({1}, DType::I64, x.device());
    row_loss_naive_kernel<<<grid_for(rows), kBlock, 0, s>>>(kind, x.data<float>(), y.data<std::int64_t>(), rows,
                                                            classes, dx.data<float>(), row_loss.data<float>(),
                                                            reinterpret_cast<Flag*>(bad.data<std::int64_t>()));
    CUDL_CUDA_CALL(cudaGetLastError());
    mean_serial_kernel<<<1, 1, 0, s>>>(row_loss.data<float>(), rows, rows, loss.data<float>());
    CUDL_CUDA_CALL(cudaGetLastError());
    defer_label_check(device, bad, rows, on_bad_label);
    return;
  }
  const long long n = x.numel();
  Tensor element_loss = Tensor::empty({n}, DType::F32, x.device());
  element_loss_naive_kernel<<<grid_for(n), kBlock, 0, s>>>(kind, x.data<float>(), y.data<float>(), n, dx.data<float>(),
                                                           element_loss.data<float>());
  CUDL_CUDA_CALL(cudaGetLastError());
  mean_serial_kernel<<<1, 1, 0, s>>>(element_loss.data<float>(), n, n, loss.data<float>());
  CUDL_CUDA_CALL(cudaGetLastError());
}

void loss_fused(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx, const BadLabel& on_bad_label) {
  const int device = x.device().index;
  cudaStream_t s = stream(device);
  if (has_labels(kind)) {
    const long long rows = x.size(0), classes = x.size(1);
    check_rows(rows);
    Tensor row_loss = Tensor::zeros({rows}, DType::F32, x.device());  // rows with bad labels add 0
    Tensor bad = Tensor::zeros({1}, DType::I64, x.device());
    constexpr int rows_per_block = kBlock / kWarp;
    const unsigned grid = grid_for((rows + rows_per_block - 1) / rows_per_block, 1);
    Flag* flag = reinterpret_cast<Flag*>(bad.data<std::int64_t>());
    if (kind == LossKind::CrossEntropy)
      cross_entropy_warp_kernel<<<grid, kBlock, 0, s>>>(x.data<float>(), y.data<std::int64_t>(), rows, classes,
                                                        dx.data<float>(), row_loss.data<float>(), flag);
    else
      svm_warp_kernel<<<grid, kBlock, 0, s>>>(x.data<float>(), y.data<std::int64_t>(), rows, classes, dx.data<float>(),
                                              row_loss.data<float>(), flag);
    CUDL_CUDA_CALL(cudaGetLastError());
    mean_block_kernel<<<1, kMeanBlock, 0, s>>>(row_loss.data<float>(), rows, rows, loss.data<float>());
    CUDL_CUDA_CALL(cudaGetLastError());
    defer_label_check(device, bad, rows, on_bad_label);
    return;
  }
  const long long n = x.numel();
  const unsigned grid = std::min(grid_for(n, kBlock), kMaxElementBlocks);
  Tensor block_loss = Tensor::empty({grid}, DType::F32, x.device());
  element_loss_block_kernel<<<grid, kBlock, 0, s>>>(kind, x.data<float>(), y.data<float>(), n, dx.data<float>(),
                                                    block_loss.data<float>());
  CUDL_CUDA_CALL(cudaGetLastError());
  mean_block_kernel<<<1, kMeanBlock, 0, s>>>(block_loss.data<float>(), grid, n, loss.data<float>());
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
