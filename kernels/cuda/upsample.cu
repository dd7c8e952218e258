#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/upsample.h"

namespace cudl::cuda {

namespace {
struct Dims {
  long long planes, h, w;
};
Dims dims_of(const Tensor& input) { return {input.size(0) * input.size(1), input.size(2), input.size(3)}; }

__global__ void upsample_forward_naive_kernel(const float* x, float* out, long long planes, long long h, long long w,
                                              long long scale) {
  const long long out_h = h * scale, out_w = w * scale, n = planes * out_h * out_w;
  CUDL_GRID_STRIDE_LOOP(o, n) {
    const long long ow = o % out_w, oh = (o / out_w) % out_h, p = o / (out_w * out_h);
    out[o] = x[(p * h + oh / scale) * w + ow / scale];
  }
}

__global__ void upsample_backward_naive_kernel(const float* dout, float* dx, long long planes, long long h, long long w,
                                               long long scale) {
  const long long n = planes * h * w, out_w = w * scale;
  CUDL_GRID_STRIDE_LOOP(idx, n) {
    const long long iw = idx % w, ih = (idx / w) % h, p = idx / (w * h);
    float sum = 0.0f;
    for (long long i = 0; i < scale; ++i)
      for (long long j = 0; j < scale; ++j) sum += dout[(p * h * scale + ih * scale + i) * out_w + iw * scale + j];
    dx[idx] = sum;
  }
}

// Input element (r, iw) of the [rows, w] view owns output rows r*scale + i,
// columns iw*scale + j.
__global__ void upsample_forward_block_kernel(const float* __restrict__ x, float* __restrict__ out, long long rows,
                                              long long w, int scale) {
  const long long n = rows * w, out_w = w * scale;
  CUDL_GRID_STRIDE_LOOP(idx, n) {
    const long long r = idx / w, iw = idx - r * w;
    const float v = x[idx];
    float* block = out + r * scale * out_w + iw * scale;
    for (int i = 0; i < scale; ++i)
      for (int j = 0; j < scale; ++j) block[i * out_w + j] = v;
  }
}

__global__ void upsample_backward_block_kernel(const float* __restrict__ dout, float* __restrict__ dx, long long rows,
                                               long long w, int scale) {
  const long long n = rows * w, out_w = w * scale;
  CUDL_GRID_STRIDE_LOOP(idx, n) {
    const long long r = idx / w, iw = idx - r * w;
    const float* block = dout + r * scale * out_w + iw * scale;
    float sum = 0.0f;
    for (int i = 0; i < scale; ++i)
      for (int j = 0; j < scale; ++j) sum += block[i * out_w + j];
    dx[idx] = sum;
  }
}
}  // namespace

void upsample_nearest2d_forward_naive(const Tensor& x, std::int64_t scale, Tensor& out) {
  const auto [planes, h, w] = dims_of(x);
  launch_grid_stride(upsample_forward_naive_kernel, out.numel(), stream(x.device().index), x.data<float>(),
                     out.data<float>(), planes, h, w, scale);
}

void upsample_nearest2d_backward_naive(const Tensor& dout, std::int64_t scale, Tensor& dx) {
  const auto [planes, h, w] = dims_of(dx);
  launch_grid_stride(upsample_backward_naive_kernel, dx.numel(), stream(dx.device().index), dout.data<float>(),
                     dx.data<float>(), planes, h, w, scale);
}

void upsample_nearest2d_forward_block(const Tensor& x, std::int64_t scale, Tensor& out) {
  const auto [planes, h, w] = dims_of(x);
  launch_grid_stride(upsample_forward_block_kernel, x.numel(), stream(x.device().index), x.data<float>(),
                     out.data<float>(), planes * h, w, static_cast<int>(scale));
}

void upsample_nearest2d_backward_block(const Tensor& dout, std::int64_t scale, Tensor& dx) {
  const auto [planes, h, w] = dims_of(dx);
  launch_grid_stride(upsample_backward_block_kernel, dx.numel(), stream(dx.device().index), dout.data<float>(),
                     dx.data<float>(), planes * h, w, static_cast<int>(scale));
}

}  // namespace cudl::cuda
