#include "core/cuda/grid_stride.h"
#include "kernels/cuda/timestep_embedding.h"
#include "kernels/timestep_embedding.h"

namespace cudl::cuda {

namespace {
__global__ void timestep_embedding_naive_kernel(const std::int64_t* t, float* out, long long count, long long dim) {
  CUDL_GRID_STRIDE_LOOP(i, count) out[i] = static_cast<float>(timestep_embedding_value(t[i / dim], i % dim, dim / 2));
}

__global__ void timestep_embedding_sincos_kernel(const std::int64_t* __restrict__ t, float* __restrict__ out,
                                                 long long pairs, long long half) {
  CUDL_GRID_STRIDE_LOOP(p, pairs) {
    const long long row = p / half, i = p % half;
    double s, c;
    sincos(timestep_angle(t[row], i, half), &s, &c);
    out[row * 2 * half + i] = static_cast<float>(s);
    out[row * 2 * half + half + i] = static_cast<float>(c);
  }
}
}  // namespace

void timestep_embedding_naive(const Tensor& t, Tensor& out) {
  launch_grid_stride(timestep_embedding_naive_kernel, out.numel(), stream(t.device().index), t.data<std::int64_t>(),
                     out.data<float>(), out.numel(), out.size(1));
}

void timestep_embedding_sincos(const Tensor& t, Tensor& out) {
  const long long half = out.size(1) / 2;
  launch_grid_stride(timestep_embedding_sincos_kernel, out.size(0) * half, stream(t.device().index),
                     t.data<std::int64_t>(), out.data<float>(), out.size(0) * half, half);
}

}  // namespace cudl::cuda
