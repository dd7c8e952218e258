#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/bilinear_math.h"
#include "kernels/cuda/upsample_bilinear.h"

namespace cudl::cuda {

namespace {
struct Planes {
  long long planes, h, w;  // of the input (x or dx)
};
Planes planes_of(const Tensor& input) { return {input.size(0) * input.size(1), input.size(2), input.size(3)}; }

__global__ void bilinear_forward_kernel(const float* __restrict__ x, float* __restrict__ out, long long planes,
                                        long long h, long long w, long long scale) {
  const long long oh_n = h * scale, ow_n = w * scale;
  CUDL_GRID_STRIDE_LOOP(o, planes * oh_n * ow_n) {
    const long long ow = o % ow_n, oh = o / ow_n % oh_n, p = o / (ow_n * oh_n);
    const LinearTaps th = linear_taps(oh, scale, h), tw = linear_taps(ow, scale, w);
    const float *r0 = x + (p * h + th.i0) * w, *r1 = x + (p * h + th.i1) * w;
    out[o] = th.l0 * (tw.l0 * __ldg(r0 + tw.i0) + tw.l1 * __ldg(r0 + tw.i1)) +
             th.l1 * (tw.l0 * __ldg(r1 + tw.i0) + tw.l1 * __ldg(r1 + tw.i1));
  }
}

__global__ void bilinear_backward_naive_kernel(const float* dout, float* dx, long long planes, long long h,
                                               long long w, long long scale) {
  const long long oh_n = h * scale, ow_n = w * scale;
  CUDL_GRID_STRIDE_LOOP(i, planes * h * w) {
    const long long iw = i % w, ih = i / w % h, p = i / (w * h);
    const OutputWindow rows = output_window(ih, scale, oh_n), cols = output_window(iw, scale, ow_n);
    float sum = 0.0f;
    for (long long oh = rows.first; oh < rows.end; ++oh)
      for (long long ow = cols.first; ow < cols.end; ++ow)
        sum += linear_weight(oh, ih, scale, h) * linear_weight(ow, iw, scale, w) * dout[(p * oh_n + oh) * ow_n + ow];
    dx[i] = sum;
  }
}

// Both passes of the separable backward: out[row, i] = sum over the outputs o of
// the window of i of weight(o, i) * in[row of o, o], where the axis runs along W
// (pass 1: in is dout [rows, out_len], out is [rows, len]) or along H (pass 2:
// rows are planes, the axis strides by `inner` = W).
__global__ void bilinear_reduce_axis_kernel(const float* __restrict__ in, float* __restrict__ out, long long outer,
                                            long long len, long long inner, long long scale) {
  const long long out_len = len * scale;
  CUDL_GRID_STRIDE_LOOP(idx, outer * len * inner) {
    const long long j = idx % inner, i = idx / inner % len, row = idx / (inner * len);
    const OutputWindow win = output_window(i, scale, out_len);
    const float* src = in + row * out_len * inner + j;
    float sum = 0.0f;
    for (long long o = win.first; o < win.end; ++o) sum += linear_weight(o, i, scale, len) * src[o * inner];
    out[idx] = sum;
  }
}
}  // namespace

void upsample_bilinear2d_forward(const Tensor& x, std::int64_t scale, Tensor& out) {
  const auto [planes, h, w] = planes_of(x);
  launch_grid_stride(bilinear_forward_kernel, out.numel(), stream(x.device().index), x.data<float>(),
                     out.data<float>(), planes, h, w, static_cast<long long>(scale));
}

void upsample_bilinear2d_backward_naive(const Tensor& dout, std::int64_t scale, Tensor& dx) {
  const auto [planes, h, w] = planes_of(dx);
  launch_grid_stride(bilinear_backward_naive_kernel, dx.numel(), stream(dx.device().index), dout.data<float>(),
                     dx.data<float>(), planes, h, w, static_cast<long long>(scale));
}

void upsample_bilinear2d_backward_separable(const Tensor& dout, std::int64_t scale, Tensor& dx) {
  const auto [planes, h, w] = planes_of(dx);
  const long long s = scale;
  cudaStream_t st = stream(dx.device().index);
  Tensor reduced = Tensor::empty({planes * h * s, w}, DType::F32, dx.device());
  // Along W: rows are (plane, output row), the axis is contiguous.
  launch_grid_stride(bilinear_reduce_axis_kernel, reduced.numel(), st, dout.data<float>(), reduced.data<float>(),
                     planes * h * s, w, 1LL, s);
  // Along H: rows are planes, the axis strides by W, consecutive threads take consecutive columns.
  launch_grid_stride(bilinear_reduce_axis_kernel, dx.numel(), st, reduced.data<float>(), dx.data<float>(), planes, h,
                     w, s);
}

}  // namespace cudl::cuda
