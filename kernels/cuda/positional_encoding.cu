#include "core/cuda/grid_stride.h"
#include "kernels/cuda/positional_encoding.h"
#include "kernels/positional_encoding.h"

namespace cudl::cuda {

namespace {
__global__ void positional_encoding_naive_kernel(const float* x, float* out, long long count, long long s,
                                                 long long e) {
  CUDL_GRID_STRIDE_LOOP(i, count) out[i] = static_cast<float>(x[i] + positional_encoding_value((i / e) % s, i % e, e));
}

__global__ void positional_encoding_table_kernel(float* table, long long count, long long e) {
  CUDL_GRID_STRIDE_LOOP(i, count) table[i] = static_cast<float>(positional_encoding_value(i / e, i % e, e));
}

__global__ void add_table_kernel(const float* __restrict__ x, const float* __restrict__ table, float* __restrict__ out,
                                 long long count, long long table_size) {
  CUDL_GRID_STRIDE_LOOP(i, count) out[i] = x[i] + table[i % table_size];
}
}  // namespace

void positional_encoding_forward_naive(const Tensor& x, Tensor& out) {
  launch_grid_stride(positional_encoding_naive_kernel, x.numel(), stream(x.device().index), x.data<float>(),
                     out.data<float>(), x.numel(), x.size(1), x.size(2));
}

void positional_encoding_forward_table(const Tensor& x, Tensor& out) {
  const long long table_size = x.size(1) * x.size(2);
  cudaStream_t s = stream(x.device().index);
  Tensor table = Tensor::empty({table_size}, DType::F32, x.device());
  launch_grid_stride(positional_encoding_table_kernel, table_size, s, table.data<float>(), table_size, x.size(2));
  launch_grid_stride(add_table_kernel, x.numel(), s, x.data<float>(), static_cast<const float*>(table.data<float>()),
                     out.data<float>(), x.numel(), table_size);
}

}  // namespace cudl::cuda
