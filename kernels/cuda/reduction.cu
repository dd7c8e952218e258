#include <algorithm>

#include "core/cuda/grid_stride.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/reduction.h"
#include "kernels/reduction_plan.h"

namespace cudl::cuda {

namespace {

constexpr int kBlock = 256;
// Parts (reduce_parts) are added up when there are fewer tasks than these: threads
// of the serial kernel, blocks of the block kernel; and parts are at least this long.
constexpr long long kMinThreads = 1 << 16, kMinThreadPart = 256, kMinBlocks = 1024, kMinBlockPart = 1 << 12;

// Thread (part, o) sums its part of output o's elements one after another: the
// naive kernel (one part), and the fast one when the innermost dim is kept, where
// neighbouring threads read neighbouring elements. One part: the output itself.
__global__ void reduce_serial_kernel(ReducePlan p, long long parts, const float* x, float scale, float* out,
                                     double* partial) {
  CUDL_GRID_STRIDE_LOOP(task, p.outputs * parts) {
    const long long o = task % p.outputs, part = task / p.outputs;
    const long long base = dims_offset(p.kept_size, p.kept_stride, p.kept_ndim, o);
    double sum = 0.0;
    for (long long r = part_begin(p.reduced, part, parts), last = part_begin(p.reduced, part + 1, parts); r < last; ++r)
      sum += x[base + dims_offset(p.reduced_size, p.reduced_stride, p.reduced_ndim, r)];
    if (parts == 1)
      out[o] = static_cast<float>(sum * scale);
    else
      partial[task] = sum;
  }
}

// Block (part, o) sums its part of output o: its threads take strided elements
// of the contiguous runs, then block_reduce.
__global__ void reduce_block_kernel(ReducePlan p, long long parts, const float* x, float scale, float* out,
                                    double* partial) {
  const long long run = p.reduced_size[p.reduced_ndim - 1];
  for (long long task = blockIdx.x; task < p.outputs * parts; task += gridDim.x) {
    const long long o = task % p.outputs, part = task / p.outputs;
    const long long base = dims_offset(p.kept_size, p.kept_stride, p.kept_ndim, o);
    double sum = 0.0;
    for (long long r = part_begin(p.reduced, part, parts) + threadIdx.x, last = part_begin(p.reduced, part + 1, parts);
         r < last; r += blockDim.x)
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

// Each output's parts (part-major) added in order.
__global__ void add_parts_kernel(long long outputs, long long parts, const double* partial, float scale, float* out) {
  CUDL_GRID_STRIDE_LOOP(o, outputs) {
    double sum = 0.0;
    for (long long part = 0; part < parts; ++part) sum += partial[part * outputs + o];
    out[o] = static_cast<float>(sum * scale);
  }
}

// Runs `launch` (kernels writing `out`, or with parts > 1 the partial sums),
// then adds the parts.
template <typename Launch>
void reduce_in_parts(const ReducePlan& p, long long parts, const Tensor& x, float scale, Tensor& out, Launch launch) {
  // The parts' double sums live in a byte buffer (tensors hold no float64).
  Tensor partial = parts > 1 ? Tensor::empty({p.outputs * parts * static_cast<long long>(sizeof(double))}, DType::U8,
                                             x.device())
                             : Tensor();
  double* pp = parts > 1 ? static_cast<double*>(partial.raw_data()) : nullptr;
  launch(pp);
  if (parts > 1)
    launch_grid_stride(add_parts_kernel, p.outputs, stream(x.device().index), p.outputs, parts,
                       static_cast<const double*>(pp), scale, out.data<float>());
}

void reduce_serial(const ReducePlan& p, long long parts, const Tensor& x, float scale, Tensor& out) {
  reduce_in_parts(p, parts, x, scale, out, [&](double* partial) {
    launch_grid_stride(reduce_serial_kernel, p.outputs * parts, stream(x.device().index), p, parts, x.data<float>(),
                       scale, out.data<float>(), partial);
  });
}

}  // namespace

void reduce_sum_naive(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out) {
  const ReducePlan p = make_reduce_plan(x.shape(), reduce, false);
  if (p.outputs > 0) reduce_serial(p, 1, x, scale, out);
}

void reduce_sum_fast(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out) {
  const ReducePlan p = make_reduce_plan(x.shape(), reduce, true);
  if (p.outputs == 0) return;
  if (p.innermost_kept()) return reduce_serial(p, reduce_parts(p.outputs, p.reduced, kMinThreads, kMinThreadPart), x, scale, out);
  const long long parts = reduce_parts(p.outputs, p.reduced, kMinBlocks, kMinBlockPart);
  reduce_in_parts(p, parts, x, scale, out, [&](double* partial) {
    const long long blocks = std::min<long long>(p.outputs * parts, 65535LL * 8);
    reduce_block_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, stream(x.device().index)>>>(
        p, parts, x.data<float>(), scale, out.data<float>(), partial);
    CUDL_CUDA_CALL(cudaGetLastError());
  });
}

}  // namespace cudl::cuda
