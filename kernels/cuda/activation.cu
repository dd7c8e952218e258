#include "kernels/activation_math.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/elementwise.cuh"

namespace cudl::cuda {

namespace {
__global__ void activation_forward_naive_kernel(Activation a, const float* x, float negative_slope, float* out,
                                                long long n) {
  CUDL_GRID_STRIDE_LOOP(i, n)
    out[i] = with_activation(a, [&](auto kind) { return activation_value<kind.value>(x[i], negative_slope); });
}

__global__ void activation_backward_naive_kernel(Activation a, const float* dout, const float* x, float negative_slope,
                                                 float* dx, long long n) {
  CUDL_GRID_STRIDE_LOOP(i, n)
    dx[i] = dout[i] *
            with_activation(a, [&](auto kind) { return activation_derivative<kind.value>(x[i], negative_slope); });
}
}  // namespace

void activation_forward_naive(Activation a, const Tensor& x, float negative_slope, Tensor& out) {
  if (x.numel() == 0) return;
  activation_forward_naive_kernel<<<grid_for(x.numel()), 256, 0, stream(x.device().index)>>>(
      a, x.data<float>(), negative_slope, out.data<float>(), x.numel());
  CUDL_CUDA_CALL(cudaGetLastError());
}

void activation_backward_naive(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx) {
  if (x.numel() == 0) return;
  activation_backward_naive_kernel<<<grid_for(x.numel()), 256, 0, stream(x.device().index)>>>(
      a, dout.data<float>(), x.data<float>(), negative_slope, dx.data<float>(), x.numel());
  CUDL_CUDA_CALL(cudaGetLastError());
}

// Extended __device__ lambdas may not be defined inside another lambda, so the
// compile-time formula goes through these function templates.
template <Activation A> void forward_vec4(const Tensor& x, float negative_slope, Tensor& out) {
  map_vec4(
      x.device().index, x.numel(),
      [negative_slope] __device__(float v) { return activation_value<A>(v, negative_slope); }, out.data<float>(),
      x.data<float>());
}

template <Activation A> void backward_vec4(const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx) {
  map_vec4(
      x.device().index, x.numel(),
      [negative_slope] __device__(float g, float v) { return g * activation_derivative<A>(v, negative_slope); },
      dx.data<float>(), dout.data<float>(), x.data<float>());
}

void activation_forward_vec4(Activation a, const Tensor& x, float negative_slope, Tensor& out) {
  with_activation(a, [&](auto kind) { forward_vec4<kind.value>(x, negative_slope, out); });
}

void activation_backward_vec4(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx) {
  with_activation(a, [&](auto kind) { backward_vec4<kind.value>(dout, x, negative_slope, dx); });
}

}  // namespace cudl::cuda
