#include <algorithm>

#include "core/cuda/grid_stride.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/reduction.h"
#include "kernels/reduction_plan.h"

namespace cudl::cuda {

namespace {

// Sums output o's elements one after another: the naive kernel, and the fast
// one when the innermost dim is kept (neighbouring threads, neighbouring elements).
__global__ void reduce_serial_kernel(ReducePlan p, const float* x, float scale, float* out) {
  CUDL_GRID_STRIDE_LOOP(o, p.outputs) {
    const long long base = dims_offset(p.kept_size, p.kept_stride, p.kept_ndim, o);
    double sum = 0.0;
    for (long long r = 0; r < p.reduced; ++r) sum += x[base + dims_offset(p.reduced_size, p.reduced_stride, p.reduced_ndim, r)];
    out[o] = static_cast<float>(sum * scale);
  }
}

constexpr int kBlock = 256;
// Fewer outputs than this split their reduced range into parts of at least
// kPartSize elements, so that a full sum still fills the GPU.
constexpr long long kFewOutputs = 1024, kPartSize = 1 << 14, kMaxParts = 1024;

// Block b sums part (b % parts) of output (b / parts): its threads take strided
// elements of contiguous runs, then block_reduce. One part: the output itself.
__global__ void reduce_parts_kernel(ReducePlan p, long long parts, const float* x, float scale, float* out,
                                    double* partial) {
  const long long run = p.reduced_size[p.reduced_ndim - 1];
  for (long long task = blockIdx.x; task < p.outputs * parts; task += gridDim.x) {
    const long long o = task / parts, part = task % parts;
    const long long first = p.reduced * part / parts, last = p.reduced * (part + 1) / parts;
    const long long base = dims_offset(p.kept_size, p.kept_stride, p.kept_ndim, o);
    double sum = 0.0;
    for (long long r = first + threadIdx.x; r < last; r += blockDim.x)
      sum += x[base + dims_offset(p.reduced_size, p.reduced_stride, p.reduced_ndim - 1, r / run) + r % run];
    sum = block_reduce(sum, Sum{}, 0.0);
    if (threadIdx.x == 0) {
      if (parts == 1)
        out[o] = static_cast<float>(sum * scale);
      else
        partial[task] = sum;
    }
  }
}

__global__ void add_parts_kernel(long long outputs, long long parts, const double* partial, float scale, float* out) {
  CUDL_GRID_STRIDE_LOOP(o, outputs) {
    double sum = 0.0;
    for (long long part = 0; part < parts; ++part) sum += partial[o * parts + part];
    out[o] = static_cast<float>(sum * scale);
  }
}

void reduce_serial(const ReducePlan& p, const Tensor& x, float scale, Tensor& out) {
  launch_grid_stride(reduce_serial_kernel, p.outputs, stream(x.device().index), p, x.data<float>(), scale,
                     out.data<float>());
}

}  // namespace

void reduce_sum_naive(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out) {
  reduce_serial(make_reduce_plan(x.shape(), reduce, false), x, scale, out);
}

void reduce_sum_fast(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out) {
  const ReducePlan p = make_reduce_plan(x.shape(), reduce, true);
  if (p.outputs == 0) return;
  if (p.innermost_kept()) return reduce_serial(p, x, scale, out);
  const long long parts = p.outputs >= kFewOutputs ? 1 : std::clamp(p.reduced / kPartSize, 1LL, kMaxParts);
  const int device = x.device().index;
  // The parts' double sums, in a byte buffer (tensors hold no float64).
  Tensor partial = parts > 1 ? Tensor::empty({p.outputs * parts * static_cast<long long>(sizeof(double))}, DType::U8,
                                             x.device())
                             : Tensor();
  double* pp = parts > 1 ? static_cast<double*>(partial.raw_data()) : nullptr;
  const long long blocks = std::min<long long>(p.outputs * parts, 65535LL * 8);
  reduce_parts_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, stream(device)>>>(p, parts, x.data<float>(), scale,
                                                                                    out.data<float>(), pp);
  CUDL_CUDA_CALL(cudaGetLastError());
  if (parts > 1)
    launch_grid_stride(add_parts_kernel, p.outputs, stream(device), p.outputs, parts, static_cast<const double*>(pp),
                       scale, out.data<float>());
}

}  // namespace cudl::cuda
