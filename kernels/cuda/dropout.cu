#include "core/rng.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/elementwise.cuh"

namespace cudl::cuda {

namespace {
__global__ void dropout_forward_naive_kernel(const float* x, float p, float scale, std::uint64_t seed,
                                             std::uint64_t base_block, float* out, float* mask, long long n) {
  CUDL_GRID_STRIDE_LOOP(i, n) {
    mask[i] = philox_uniform(seed, base_block, i) < p ? 0.0f : scale;
    out[i] = x[i] * mask[i];
  }
}

// Elements 4b..4b+3 take the four words of Philox block base_block + b, so a
// whole block is one float4 when the pointers are 16-byte aligned.
__global__ void dropout_forward_philox4_kernel(const float* __restrict__ x, float p, float scale, std::uint64_t seed,
                                               std::uint64_t base_block, float* __restrict__ out,
                                               float* __restrict__ mask, long long n, bool vectorised) {
  const long long blocks = (n + 3) / 4;
  CUDL_GRID_STRIDE_LOOP(b, blocks) {
    const PhiloxWords words = philox4x32_10(seed, base_block + b);
    float m[4];
    for (int k = 0; k < 4; ++k) m[k] = uniform_from_bits(words.w[k]) < p ? 0.0f : scale;
    if (vectorised && 4 * b + 3 < n) {
      const float4 v = reinterpret_cast<const float4*>(x)[b];
      reinterpret_cast<float4*>(mask)[b] = make_float4(m[0], m[1], m[2], m[3]);
      reinterpret_cast<float4*>(out)[b] = make_float4(v.x * m[0], v.y * m[1], v.z * m[2], v.w * m[3]);
    } else {
      for (int k = 0; k < 4 && 4 * b + k < n; ++k) {
        mask[4 * b + k] = m[k];
        out[4 * b + k] = x[4 * b + k] * m[k];
      }
    }
  }
}

__global__ void multiply_naive_kernel(const float* a, const float* b, float* out, long long n) {
  CUDL_GRID_STRIDE_LOOP(i, n)
    out[i] = a[i] * b[i];
}
}  // namespace

void dropout_forward_naive(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out,
                           Tensor& mask) {
  const long long n = x.numel();
  if (n == 0) return;
  dropout_forward_naive_kernel<<<grid_for(n), 256, 0, stream(x.device().index)>>>(
      x.data<float>(), p, 1.0f / (1.0f - p), seed, base_block, out.data<float>(), mask.data<float>(), n);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void dropout_forward_philox4(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out,
                             Tensor& mask) {
  const long long n = x.numel();
  if (n == 0) return;
  const bool vectorised = aligned16(x.data<float>()) && aligned16(out.data<float>()) && aligned16(mask.data<float>());
  dropout_forward_philox4_kernel<<<grid_for((n + 3) / 4), 256, 0, stream(x.device().index)>>>(
      x.data<float>(), p, 1.0f / (1.0f - p), seed, base_block, out.data<float>(), mask.data<float>(), n, vectorised);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void dropout_backward_naive(const Tensor& dout, const Tensor& mask, Tensor& dx) {
  const long long n = dout.numel();
  if (n == 0) return;
  multiply_naive_kernel<<<grid_for(n), 256, 0, stream(dout.device().index)>>>(dout.data<float>(), mask.data<float>(),
                                                                              dx.data<float>(), n);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void dropout_backward_vec4(const Tensor& dout, const Tensor& mask, Tensor& dx) {
  map_vec4(
      dout.device().index, dout.numel(), [] __device__(float g, float m) { return g * m; }, dx.data<float>(),
      dout.data<float>(), mask.data<float>());
}

}  // namespace cudl::cuda
