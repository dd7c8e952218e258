#include <algorithm>
#include <type_traits>

#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/softmax.h"

namespace cudl::cuda {

namespace {
struct Rows {
  long long rows, cols;
};
Rows rows_of(const Tensor& t) {
  const long long cols = t.size(-1);
  return {cols == 0 ? 0 : t.numel() / cols, cols};
}

__global__ void softmax_forward_naive_kernel(const float* x, float* out, long long rows, long long cols) {
  CUDL_GRID_STRIDE_LOOP(i, rows) {
    const float* xr = x + i * cols;
    float max = -INFINITY, sum = 0.0f;
    for (long long j = 0; j < cols; ++j) max = fmaxf(max, xr[j]);
    for (long long j = 0; j < cols; ++j) sum += expf(xr[j] - max);
    for (long long j = 0; j < cols; ++j) out[i * cols + j] = expf(xr[j] - max) / sum;
  }
}

__global__ void softmax_backward_naive_kernel(const float* dout, const float* out, float* dx, long long rows,
                                              long long cols) {
  CUDL_GRID_STRIDE_LOOP(i, rows) {
    float dot = 0.0f;
    for (long long j = 0; j < cols; ++j) dot += dout[i * cols + j] * out[i * cols + j];
    for (long long j = 0; j < cols; ++j) dx[i * cols + j] = out[i * cols + j] * (dout[i * cols + j] - dot);
  }
}

// The row loop bound is the same for every thread of a group, so the group's
// threads reach each reduction together.
template <bool WholeBlock>
__global__ void softmax_forward_rows_kernel(const float* __restrict__ x, float* __restrict__ out, long long rows,
                                            long long cols) {
  using G = RowGroup<WholeBlock>;
  for (long long i = G::first_row(); i < rows; i += G::row_stride()) {
    const float* xr = x + i * cols;
    MaxSum s = empty_max_sum();
    for (long long j = G::rank(); j < cols; j += G::size()) online_add(s, xr[j]);
    s = G::reduce(s, CombineMaxSum{}, empty_max_sum());
    const float inv = 1.0f / s.sum;
    for (long long j = G::rank(); j < cols; j += G::size()) out[i * cols + j] = expf(xr[j] - s.max) * inv;
  }
}

template <bool WholeBlock>
__global__ void softmax_backward_rows_kernel(const float* __restrict__ dout, const float* __restrict__ out,
                                             float* __restrict__ dx, long long rows, long long cols) {
  using G = RowGroup<WholeBlock>;
  for (long long i = G::first_row(); i < rows; i += G::row_stride()) {
    const long long row = i * cols;
    float dot = 0.0f;
    for (long long j = G::rank(); j < cols; j += G::size()) dot += dout[row + j] * out[row + j];
    dot = G::reduce(dot, Sum{}, 0.0f);
    for (long long j = G::rank(); j < cols; j += G::size()) dx[row + j] = out[row + j] * (dout[row + j] - dot);
  }
}

// Up to 32 values per lane a warp keeps its row in L1; beyond that a block's
// worth of threads per row keeps the SMs busy when there are few rows.
constexpr long long kMaxWarpCols = 1024;
constexpr int kRowsBlock = 256, kLongRowBlock = 512;

unsigned capped_grid(long long blocks) { return static_cast<unsigned>(std::min(std::max(blocks, 1LL), 65535LL * 8)); }

template <typename Launch> void launch_rows(long long rows, long long cols, Launch launch) {
  if (cols <= kMaxWarpCols) {
    constexpr int rows_per_block = kRowsBlock / kWarp;
    launch(std::false_type{}, capped_grid((rows + rows_per_block - 1) / rows_per_block), kRowsBlock);
  } else {
    launch(std::true_type{}, capped_grid(rows), kLongRowBlock);
  }
}
}  // namespace

void softmax_forward_naive(const Tensor& x, Tensor& out) {
  const auto [rows, cols] = rows_of(x);
  if (rows == 0) return;
  softmax_forward_naive_kernel<<<grid_for(rows), 256, 0, stream(x.device().index)>>>(x.data<float>(), out.data<float>(),
                                                                                     rows, cols);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void softmax_backward_naive(const Tensor& dout, const Tensor& out, Tensor& dx) {
  const auto [rows, cols] = rows_of(out);
  if (rows == 0) return;
  softmax_backward_naive_kernel<<<grid_for(rows), 256, 0, stream(out.device().index)>>>(
      dout.data<float>(), out.data<float>(), dx.data<float>(), rows, cols);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void softmax_forward_warp(const Tensor& x, Tensor& out) {
  const auto [rows, cols] = rows_of(x);
  if (rows == 0) return;
  cudaStream_t s = stream(x.device().index);
  launch_rows(rows, cols, [&](auto whole_block, unsigned grid, int block) {
    softmax_forward_rows_kernel<decltype(whole_block)::value>
        <<<grid, block, 0, s>>>(x.data<float>(), out.data<float>(), rows, cols);
  });
  CUDL_CUDA_CALL(cudaGetLastError());
}

void softmax_backward_warp(const Tensor& dout, const Tensor& out, Tensor& dx) {
  const auto [rows, cols] = rows_of(out);
  if (rows == 0) return;
  cudaStream_t s = stream(out.device().index);
  launch_rows(rows, cols, [&](auto whole_block, unsigned grid, int block) {
    softmax_backward_rows_kernel<decltype(whole_block)::value>
        <<<grid, block, 0, s>>>(dout.data<float>(), out.data<float>(), dx.data<float>(), rows, cols);
  });
  CUDL_CUDA_CALL(cudaGetLastError());
}

#if CUDL_WITH_CUDNN
namespace {
// A [rows, cols, 1, 1] float NCHW descriptor, destroyed with the scope.
class RowsDescriptor {
 public:
  explicit RowsDescriptor(Rows r) {
    CUDL_CUDA_CALL(cudnnCreateTensorDescriptor(&desc_));
    CUDL_CUDA_CALL(
        cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)r.rows, (int)r.cols, 1, 1));
  }
  ~RowsDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
  RowsDescriptor(const RowsDescriptor&) = delete;
  RowsDescriptor& operator=(const RowsDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};
}  // namespace

void softmax_forward_cudnn(const Tensor& x, Tensor& out) {
  const Rows r = rows_of(x);
  if (r.rows == 0) return;
  RowsDescriptor desc(r);
  const float alpha = 1.0f, beta = 0.0f;
  CUDL_CUDA_CALL(cudnnSoftmaxForward(context(x.device().index).cudnn(), CUDNN_SOFTMAX_ACCURATE,
                                     CUDNN_SOFTMAX_MODE_INSTANCE, &alpha, desc.get(), x.data<float>(), &beta,
                                     desc.get(), out.data<float>()));
}

void softmax_backward_cudnn(const Tensor& dout, const Tensor& out, Tensor& dx) {
  const Rows r = rows_of(out);
  if (r.rows == 0) return;
  RowsDescriptor desc(r);
  const float alpha = 1.0f, beta = 0.0f;
  CUDL_CUDA_CALL(cudnnSoftmaxBackward(context(out.device().index).cudnn(), CUDNN_SOFTMAX_ACCURATE,
                                      CUDNN_SOFTMAX_MODE_INSTANCE, &alpha, desc.get(), out.data<float>(), desc.get(),
                                      dout.data<float>(), &beta, desc.get(), dx.data<float>()));
}
#endif  // CUDL_WITH_CUDNN

}  // namespace cudl::cuda
