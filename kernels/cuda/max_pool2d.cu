#include <algorithm>

#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/max_pool2d.h"
#include "kernels/pool2d_geometry.h"

namespace cudl::cuda {

namespace {

using G = Pool2dGeometry;

template <int KH, int KW>
__global__ void max_pool2d_forward_kernel(const float* x, float* out, G g) {
  CUDL_GRID_STRIDE_LOOP(idx, g.planes * g.oh * g.ow) {
    const long long ow = idx % g.ow, oh = idx / g.ow % g.oh, plane = idx / (g.ow * g.oh);
    const float* in = x + plane * g.h * g.w;
    out[idx] = in[window_argmax<KH, KW>(in, g, oh, ow)];
  }
}

// One thread per output: scatter into the zeroed dx (atomics, as windows may overlap).
__global__ void max_pool2d_backward_scatter_kernel(const float* dout, const float* x, float* dx, G g) {
  CUDL_GRID_STRIDE_LOOP(idx, g.planes * g.oh * g.ow) {
    const long long ow = idx % g.ow, oh = idx / g.ow % g.oh, plane = idx / (g.ow * g.oh);
    atomicAdd(dx + plane * g.h * g.w + window_argmax<0, 0>(x + plane * g.h * g.w, g, oh, ow), dout[idx]);
  }
}

// One thread per input element: of the outputs whose window covers (ih, iw), it
// takes the gradient of those whose first maximum it is.
template <int KH, int KW>
__global__ void max_pool2d_backward_gather_kernel(const float* dout, const float* x, float* dx, G g) {
  const long long kh = KH ? KH : g.kh, kw = KW ? KW : g.kw;
  CUDL_GRID_STRIDE_LOOP(idx, g.planes * g.h * g.w) {
    const long long iw = idx % g.w, ih = idx / g.w % g.h, plane = idx / (g.w * g.h);
    const long long self = ih * g.w + iw;
    const float* in = x + plane * g.h * g.w;
    const float* d = dout + plane * g.oh * g.ow;
    const CoveringOutputs rows = covering_outputs(ih, kh, g.stride, g.oh);
    const CoveringOutputs cols = covering_outputs(iw, kw, g.stride, g.ow);
    float sum = 0.0f;
    for (long long oh = rows.first; oh <= rows.last; ++oh)
      for (long long ow = cols.first; ow <= cols.last; ++ow)
        if (window_argmax<KH, KW>(in, g, oh, ow) == self) sum += d[oh * g.ow + ow];
    dx[idx] = sum;
  }
}

}  // namespace

void max_pool2d_forward_naive(const Tensor& x, const Pool2dParams& p, Tensor& out) {
  const G g = pool2d_geometry(x.shape(), p);
  max_pool2d_forward_kernel<0, 0><<<grid_for(out.numel()), 256, 0, stream(x.device().index)>>>(
      x.data<float>(), out.data<float>(), g);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void max_pool2d_backward_naive(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx) {
  const G g = pool2d_geometry(x.shape(), p);
  dx.zero();
  max_pool2d_backward_scatter_kernel<<<grid_for(dout.numel()), 256, 0, stream(x.device().index)>>>(
      dout.data<float>(), x.data<float>(), dx.data<float>(), g);
  CUDL_CUDA_CALL(cudaGetLastError());
}

// The common 2x2 window is unrolled at compile time; other sizes take the general loop.
void max_pool2d_forward_gather(const Tensor& x, const Pool2dParams& p, Tensor& out) {
  const G g = pool2d_geometry(x.shape(), p);
  const unsigned blocks = grid_for(out.numel());
  cudaStream_t s = stream(x.device().index);
  if (g.kh == 2 && g.kw == 2)
    max_pool2d_forward_kernel<2, 2><<<blocks, 256, 0, s>>>(x.data<float>(), out.data<float>(), g);
  else
    max_pool2d_forward_kernel<0, 0><<<blocks, 256, 0, s>>>(x.data<float>(), out.data<float>(), g);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void max_pool2d_backward_gather(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx) {
  const G g = pool2d_geometry(x.shape(), p);
  const unsigned blocks = grid_for(dx.numel());
  cudaStream_t s = stream(x.device().index);
  if (g.kh == 2 && g.kw == 2)
    max_pool2d_backward_gather_kernel<2, 2><<<blocks, 256, 0, s>>>(dout.data<float>(), x.data<float>(),
                                                                   dx.data<float>(), g);
  else
    max_pool2d_backward_gather_kernel<0, 0><<<blocks, 256, 0, s>>>(dout.data<float>(), x.data<float>(),
                                                                   dx.data<float>(), g);
  CUDL_CUDA_CALL(cudaGetLastError());
}

#if CUDL_WITH_CUDNN
// ---- cuDNN ----
namespace {
struct PoolDescs {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnPoolingDescriptor_t pool = nullptr;
  PoolDescs(const Shape& xs, const G& g) {
    CUDL_CUDA_CALL(cudnnCreateTensorDescriptor(&x));
    CUDL_CUDA_CALL(cudnnCreateTensorDescriptor(&y));
    CUDL_CUDA_CALL(cudnnCreatePoolingDescriptor(&pool));
    CUDL_CUDA_CALL(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(xs[0]), int(xs[1]),
                                              int(xs[2]), int(xs[3])));
    CUDL_CUDA_CALL(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(xs[0]), int(xs[1]),
                                              int(g.oh), int(g.ow)));
    CUDL_CUDA_CALL(cudnnSetPooling2dDescriptor(pool, CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_PROPAGATE_NAN, int(g.kh),
                                               int(g.kw), 0, 0, int(g.stride), int(g.stride)));
  }
  ~PoolDescs() {
    cudnnDestroyPoolingDescriptor(pool);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  PoolDescs(const PoolDescs&) = delete;
  PoolDescs& operator=(const PoolDescs&) = delete;
};
}  // namespace

void max_pool2d_forward_cudnn(const Tensor& x, const Pool2dParams& p, Tensor& out) {
  PoolDescs d(x.shape(), pool2d_geometry(x.shape(), p));
  const float one = 1.0f, zero = 0.0f;
  CUDL_CUDA_CALL(cudnnPoolingForward(context(x.device().index).cudnn(), d.pool, &one, d.x, x.data<float>(), &zero,
                                     d.y, out.data<float>()));
}
#endif  // CUDL_WITH_CUDNN

}  // namespace cudl::cuda
