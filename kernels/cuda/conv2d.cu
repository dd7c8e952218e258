#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "core/check.h"
#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/conv2d_geometry.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/reduce.cuh"

namespace cudl::cuda {

namespace {

using G = Conv2dGeometry;

// ---- direct kernels ----
__global__ void conv2d_forward_naive_kernel(const float* x, const float* w, const float* b, float* out, G g) {
  CUDL_GRID_STRIDE_LOOP(idx, g.n * g.f * g.oh * g.ow) {
    const long long ow = idx % g.ow, oh = idx / g.ow % g.oh, f = idx / (g.ow * g.oh) % g.f, n = idx / (g.ow * g.oh * g.f);
    const long long c0 = f / g.fg * g.cg;
    float sum = b ? b[f] : 0.0f;
    for (long long cl = 0; cl < g.cg; ++cl)
      for (long long i = 0; i < g.kh; ++i) {
        const long long ih = oh * g.stride - g.pad + i;
        if (ih < 0 || ih >= g.h) continue;
        for (long long j = 0; j < g.kw; ++j) {
          const long long iw = ow * g.stride - g.pad + j;
          if (iw < 0 || iw >= g.w) continue;
          sum += x[((n * g.c + c0 + cl) * g.h + ih) * g.w + iw] * w[((f * g.cg + cl) * g.kh + i) * g.kw + j];
        }
      }
    out[idx] = sum;
  }
}

// dx[n,c,ih,iw] gathers dout[n,f,oh,ow] * w[f,c,i,j] over the taps with oh*stride - pad + i == ih.
__global__ void conv2d_backward_data_naive_kernel(const float* dout, const float* w, float* dx, G g) {
  CUDL_GRID_STRIDE_LOOP(idx, g.n * g.c * g.h * g.w) {
    const long long iw = idx % g.w, ih = idx / g.w % g.h, c = idx / (g.w * g.h) % g.c, n = idx / (g.w * g.h * g.c);
    const long long f0 = c / g.cg * g.fg, cl = c % g.cg;
    float sum = 0.0f;
    for_each_covering_tap(g, ih, iw, [&](long long i, long long j, long long oh, long long ow) {
      for (long long f = f0; f < f0 + g.fg; ++f)
        sum += dout[((n * g.f + f) * g.oh + oh) * g.ow + ow] * w[((f * g.cg + cl) * g.kh + i) * g.kw + j];
    });
    dx[idx] = sum;
  }
}

__global__ void conv2d_backward_weight_naive_kernel(const float* dout, const float* x, float* dw, G g) {
  CUDL_GRID_STRIDE_LOOP(idx, g.f * g.cg * g.kh * g.kw) {
    const long long j = idx % g.kw, i = idx / g.kw % g.kh, cl = idx / (g.kw * g.kh) % g.cg, f = idx / (g.kw * g.kh * g.cg);
    const long long c = f / g.fg * g.cg + cl;
    float sum = 0.0f;
    for (long long n = 0; n < g.n; ++n)
      for (long long oh = 0; oh < g.oh; ++oh) {
        const long long ih = oh * g.stride - g.pad + i;
        if (ih < 0 || ih >= g.h) continue;
        for (long long ow = 0; ow < g.ow; ++ow) {
          const long long iw = ow * g.stride - g.pad + j;
          if (iw < 0 || iw >= g.w) continue;
          sum += dout[((n * g.f + f) * g.oh + oh) * g.ow + ow] * x[((n * g.c + c) * g.h + ih) * g.w + iw];
        }
      }
    dw[idx] = sum;
  }
}

// ---- bias ----
// One block per channel: its threads stride over the channel's N*OH*OW values,
// then a block reduction adds their partial sums.
constexpr int kBiasThreads = 256;
__global__ void channel_sum_kernel(const float* dout, float* db, long long n, long long f, long long hw) {
  const long long k = blockIdx.x;
  float sum = 0.0f;
  for (long long idx = threadIdx.x; idx < n * hw; idx += blockDim.x) sum += dout[(idx / hw * f + k) * hw + idx % hw];
  sum = block_reduce(sum, Sum{}, 0.0f);
  if (threadIdx.x == 0) db[k] = sum;
}

__global__ void add_channel_bias_kernel(float* out, const float* b, long long count, long long f, long long hw) {
  CUDL_GRID_STRIDE_LOOP(idx, count) out[idx] += b[idx / hw % f];
}

// ---- im2col / col2im over a chunk of images ----
// cols [images, C*KH*KW, OH*OW]: row (c, i, j), column (oh, ow).
__global__ void im2col_kernel(const float* x, float* cols, long long images, G g) {
  const long long ohw = g.oh * g.ow, rows = g.c * g.kh * g.kw;
  CUDL_GRID_STRIDE_LOOP(idx, images * rows * ohw) {
    const long long pos = idx % ohw, row = idx / ohw % rows, n = idx / (ohw * rows);
    const long long j = row % g.kw, i = row / g.kw % g.kh, c = row / (g.kw * g.kh);
    const long long ih = pos / g.ow * g.stride - g.pad + i, iw = pos % g.ow * g.stride - g.pad + j;
    cols[idx] = (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? x[((n * g.c + c) * g.h + ih) * g.w + iw] : 0.0f;
  }
}

// The adjoint of im2col, as a gather: each dx element sums the column entries
// that read its pixel, so no two threads write the same address.
__global__ void col2im_kernel(const float* cols, float* dx, long long images, G g) {
  const long long ohw = g.oh * g.ow, rows = g.c * g.kh * g.kw;
  CUDL_GRID_STRIDE_LOOP(idx, images * g.c * g.h * g.w) {
    const long long iw = idx % g.w, ih = idx / g.w % g.h, c = idx / (g.w * g.h) % g.c, n = idx / (g.w * g.h * g.c);
    const float* image_cols = cols + n * rows * ohw;
    float sum = 0.0f;
    for_each_covering_tap(g, ih, iw, [&](long long i, long long j, long long oh, long long ow) {
      sum += image_cols[((c * g.kh + i) * g.kw + j) * ohw + oh * g.ow + ow];
    });
    dx[idx] = sum;
  }
}

// dw (+)= the sum over `images` of the per-image partial dw's laid out [images, size].
__global__ void sum_images_kernel(const float* partial, float* dw, long long images, long long size, bool accumulate) {
  CUDL_GRID_STRIDE_LOOP(idx, size) {
    float sum = accumulate ? dw[idx] : 0.0f;
    for (long long n = 0; n < images; ++n) sum += partial[n * size + idx];
    dw[idx] = sum;
  }
}

// Images per chunk, so that the column buffer (and dw's per-image partials) stay
// within 256 MB.
long long images_per_chunk(const G& g) {
  constexpr long long budget = 256LL << 20;
  const long long per_image = 4 * std::max(g.c * g.kh * g.kw * g.oh * g.ow, g.f * g.col_rows);
  return std::max(1LL, std::min({budget / per_image, static_cast<long long>(g.n), 65535LL}));
}

}  // namespace

// ---- direct ----
void conv2d_forward_naive(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out) {
  const G g = conv2d_geometry(x.shape(), w.shape(), p);
  conv2d_forward_naive_kernel<<<grid_for(out.numel()), 256, 0, stream(x.device().index)>>>(
      x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, out.data<float>(), g);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void conv2d_backward_data_naive(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  const G g = conv2d_geometry(dx.shape(), w.shape(), p);
  conv2d_backward_data_naive_kernel<<<grid_for(dx.numel()), 256, 0, stream(dx.device().index)>>>(
      dout.data<float>(), w.data<float>(), dx.data<float>(), g);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void conv2d_backward_weight_naive(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  const G g = conv2d_geometry(x.shape(), dw.shape(), p);
  conv2d_backward_weight_naive_kernel<<<grid_for(dw.numel()), 256, 0, stream(x.device().index)>>>(
      dout.data<float>(), x.data<float>(), dw.data<float>(), g);
  CUDL_CUDA_CALL(cudaGetLastError());
}

// ---- bias ----
void conv2d_backward_bias(const Tensor& dout, Tensor& db) {
  const long long n = dout.size(0), f = dout.size(1), hw = dout.size(2) * dout.size(3);
  channel_sum_kernel<<<static_cast<unsigned>(f), kBiasThreads, 0, stream(dout.device().index)>>>(
      dout.data<float>(), db.data<float>(), n, f, hw);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void add_channel_bias(Tensor& out, const Tensor& b) {
  add_channel_bias_kernel<<<grid_for(out.numel()), 256, 0, stream(out.device().index)>>>(
      out.data<float>(), b.data<float>(), out.numel(), out.size(1), out.size(2) * out.size(3));
  CUDL_CUDA_CALL(cudaGetLastError());
}

// ---- im2col + gemm_tiled ----
// Per chunk of images, one batched GEMM per group (batch = the chunk's images):
//   out[n]_g   [Fg, OHW]  = W_g [Fg, Cg*KK] cols[n]_g [Cg*KK, OHW]
//   dcols[n]_g [Cg*KK, OHW] = W_g^T dout[n]_g
//   partial[n]_g [Fg, Cg*KK] = dout[n]_g cols[n]_g^T, then summed over n
// Per-image products batched this way fill the GPU where one image would not,
// and need no transposes of dout or out.
void conv2d_forward_im2col(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out) {
  const G g = conv2d_geometry(x.shape(), w.shape(), p);
  const long long ohw = g.oh * g.ow, rows = g.c * g.kh * g.kw, chunk = images_per_chunk(g);
  cudaStream_t s = stream(x.device().index);
  Tensor cols = Tensor::empty({chunk * rows * ohw}, DType::F32, x.device());
  for (long long n0 = 0; n0 < g.n; n0 += chunk) {
    const long long images = std::min(chunk, g.n - n0);
    im2col_kernel<<<grid_for(images * rows * ohw), 256, 0, s>>>(x.data<float>() + n0 * g.c * g.h * g.w,
                                                                cols.data<float>(), images, g);
    CUDL_CUDA_CALL(cudaGetLastError());
    for (long long grp = 0; grp < g.groups; ++grp)
      gemm_tiled_batched(false, false, g.fg, ohw, g.col_rows, 1.0f, w.data<float>() + grp * g.fg * g.col_rows,
                         g.col_rows, 0, cols.data<float>() + grp * g.col_rows * ohw, ohw, rows * ohw, 0.0f,
                         out.data<float>() + (n0 * g.f + grp * g.fg) * ohw, ohw, g.f * ohw, images, s);
  }
  if (b) add_channel_bias(out, *b);
}

void conv2d_backward_data_im2col(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  const G g = conv2d_geometry(dx.shape(), w.shape(), p);
  const long long ohw = g.oh * g.ow, rows = g.c * g.kh * g.kw, chunk = images_per_chunk(g);
  cudaStream_t s = stream(dx.device().index);
  Tensor dcols = Tensor::empty({chunk * rows * ohw}, DType::F32, dx.device());
  for (long long n0 = 0; n0 < g.n; n0 += chunk) {
    const long long images = std::min(chunk, g.n - n0);
    for (long long grp = 0; grp < g.groups; ++grp)
      gemm_tiled_batched(true, false, g.col_rows, ohw, g.fg, 1.0f, w.data<float>() + grp * g.fg * g.col_rows,
                         g.col_rows, 0, dout.data<float>() + (n0 * g.f + grp * g.fg) * ohw, ohw, g.f * ohw, 0.0f,
                         dcols.data<float>() + grp * g.col_rows * ohw, ohw, rows * ohw, images, s);
    col2im_kernel<<<grid_for(images * g.c * g.h * g.w), 256, 0, s>>>(
        dcols.data<float>(), dx.data<float>() + n0 * g.c * g.h * g.w, images, g);
    CUDL_CUDA_CALL(cudaGetLastError());
  }
}

void conv2d_backward_weight_im2col(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  const G g = conv2d_geometry(x.shape(), dw.shape(), p);
  const long long ohw = g.oh * g.ow, rows = g.c * g.kh * g.kw, chunk = images_per_chunk(g);
  const long long dw_size = g.f * g.col_rows;
  cudaStream_t s = stream(x.device().index);
  Tensor cols = Tensor::empty({chunk * rows * ohw}, DType::F32, x.device());
  Tensor partial = Tensor::empty({chunk * dw_size}, DType::F32, x.device());
  for (long long n0 = 0; n0 < g.n; n0 += chunk) {
    const long long images = std::min(chunk, g.n - n0);
    im2col_kernel<<<grid_for(images * rows * ohw), 256, 0, s>>>(x.data<float>() + n0 * g.c * g.h * g.w,
                                                                cols.data<float>(), images, g);
    CUDL_CUDA_CALL(cudaGetLastError());
    for (long long grp = 0; grp < g.groups; ++grp)
      gemm_tiled_batched(false, true, g.fg, g.col_rows, ohw, 1.0f,
                         dout.data<float>() + (n0 * g.f + grp * g.fg) * ohw, ohw, g.f * ohw,
                         cols.data<float>() + grp * g.col_rows * ohw, ohw, rows * ohw, 0.0f,
                         partial.data<float>() + grp * g.fg * g.col_rows, g.col_rows, dw_size, images, s);
    sum_images_kernel<<<grid_for(dw_size), 256, 0, s>>>(partial.data<float>(), dw.data<float>(), images, dw_size,
                                                        n0 > 0);
    CUDL_CUDA_CALL(cudaGetLastError());
  }
}

// ---- cuDNN ----
namespace {

template <typename T, cudnnStatus_t (*Destroy)(T)>
struct Descriptor {
  T handle = nullptr;
  Descriptor() = default;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (handle) Destroy(handle);
  }
  operator T() const { return handle; }
};

struct TensorDesc : Descriptor<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor> {
  explicit TensorDesc(const Shape& s) {
    CUDL_CUDA_CALL(cudnnCreateTensorDescriptor(&handle));
    CUDL_CUDA_CALL(cudnnSetTensor4dDescriptor(handle, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(s[0]), int(s[1]),
                                              int(s[2]), int(s[3])));
  }
};

// The descriptors of one conv2d problem: x, w, out (= dout), and the convolution.
struct ConvDescs {
  TensorDesc x, y;
  Descriptor<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor> w;
  Descriptor<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor> conv;
  ConvDescs(const G& g) : x({g.n, g.c, g.h, g.w}), y({g.n, g.f, g.oh, g.ow}) {
    CUDL_CUDA_CALL(cudnnCreateFilterDescriptor(&w.handle));
    CUDL_CUDA_CALL(cudnnSetFilter4dDescriptor(w.handle, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(g.f), int(g.cg),
                                              int(g.kh), int(g.kw)));
    CUDL_CUDA_CALL(cudnnCreateConvolutionDescriptor(&conv.handle));
    CUDL_CUDA_CALL(cudnnSetConvolution2dDescriptor(conv.handle, int(g.pad), int(g.pad), int(g.stride),
                                                   int(g.stride), 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDL_CUDA_CALL(cudnnSetConvolutionGroupCount(conv.handle, int(g.groups)));
    // FMA math keeps cuDNN off TF32 tensor cores: results stay fp32-exact like ours.
    CUDL_CUDA_CALL(cudnnSetConvolutionMathType(conv.handle, CUDNN_FMA_MATH));
  }
};

enum class Pass { Forward, Data, Weight };

// The heuristics' first choice for a problem, asked once per shape and device.
template <typename Perf, typename Ask>
int cached_algorithm(Pass pass, const G& g, int device, Ask ask) {
  using Key = std::tuple<int, int, long long, long long, long long, long long, long long, long long, long long,
                         long long, long long, long long>;
  static std::mutex mutex;
  static std::map<Key, int> cache;
  const Key key{int(pass), device, g.n, g.c, g.h, g.w, g.f, g.kh, g.kw, g.stride, g.pad, g.groups};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Perf perf[16];
  int returned = 0;
  CUDL_CUDA_CALL(ask(16, &returned, perf));
  for (int i = 0; i < returned; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType != CUDNN_TENSOR_OP_MATH &&
        perf[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
      return cache[key] = int(perf[i].algo);
  detail::throw_error("conv2d (cudnn): no fp32 algorithm for x [", g.n, ",", g.c, ",", g.h, ",", g.w, "], w [", g.f,
                      ",", g.cg, ",", g.kh, ",", g.kw, "]");
}

Tensor workspace(std::size_t bytes, Device device) {
  return Tensor::empty({static_cast<std::int64_t>(std::max<std::size_t>(bytes, 1))}, DType::U8, device);
}

// One cuDNN pass: pick (and cache) the algorithm, size its workspace, run it. The three
// passes' functions take their descriptors in one order -- input a, input b, the
// convolution, the output -- so only the functions and the operands differ.
template <typename Perf, typename Find, typename WorkspaceSize, typename Run, typename DescA, typename DescB,
          typename DescOut>
void run_cudnn_pass(Pass pass, const G& g, Device device, Find find, WorkspaceSize workspace_size, Run run,
                    const DescA& a, const float* a_data, const DescB& b, const float* b_data,
                    cudnnConvolutionDescriptor_t conv, const DescOut& out, float* out_data) {
  cudnnHandle_t h = context(device.index).cudnn();
  const auto algo = decltype(Perf{}.algo)(cached_algorithm<Perf>(
      pass, g, device.index, [&](int want, int* got, Perf* perf) { return find(h, a, b, conv, out, want, got, perf); }));
  std::size_t bytes = 0;
  CUDL_CUDA_CALL(workspace_size(h, a, b, conv, out, algo, &bytes));
  Tensor ws = workspace(bytes, device);
  const float one = 1.0f, zero = 0.0f;
  CUDL_CUDA_CALL(run(h, &one, a, a_data, b, b_data, conv, algo, ws.raw_data(), bytes, &zero, out, out_data));
}

}  // namespace

void conv2d_forward_cudnn(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out) {
  const G g = conv2d_geometry(x.shape(), w.shape(), p);
  ConvDescs d(g);
  run_cudnn_pass<cudnnConvolutionFwdAlgoPerf_t>(Pass::Forward, g, x.device(), cudnnGetConvolutionForwardAlgorithm_v7,
                                                cudnnGetConvolutionForwardWorkspaceSize, cudnnConvolutionForward, d.x,
                                                x.data<float>(), d.w, w.data<float>(), d.conv, d.y, out.data<float>());
  if (b) add_channel_bias_cudnn(out, *b);
}

void conv2d_backward_data_cudnn(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  const G g = conv2d_geometry(dx.shape(), w.shape(), p);
  ConvDescs d(g);
  run_cudnn_pass<cudnnConvolutionBwdDataAlgoPerf_t>(
      Pass::Data, g, dx.device(), cudnnGetConvolutionBackwardDataAlgorithm_v7,
      cudnnGetConvolutionBackwardDataWorkspaceSize, cudnnConvolutionBackwardData, d.w, w.data<float>(), d.y,
      dout.data<float>(), d.conv, d.x, dx.data<float>());
}

void conv2d_backward_weight_cudnn(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  const G g = conv2d_geometry(x.shape(), dw.shape(), p);
  ConvDescs d(g);
  run_cudnn_pass<cudnnConvolutionBwdFilterAlgoPerf_t>(
      Pass::Weight, g, x.device(), cudnnGetConvolutionBackwardFilterAlgorithm_v7,
      cudnnGetConvolutionBackwardFilterWorkspaceSize, cudnnConvolutionBackwardFilter, d.x, x.data<float>(), d.y,
      dout.data<float>(), d.conv, d.w, dw.data<float>());
}

void conv2d_backward_bias_cudnn(const Tensor& dout, Tensor& db) {
  cudnnHandle_t h = context(dout.device().index).cudnn();
  TensorDesc dy(dout.shape()), bias({1, dout.size(1), 1, 1});
  const float one = 1.0f, zero = 0.0f;
  CUDL_CUDA_CALL(cudnnConvolutionBackwardBias(h, &one, dy, dout.data<float>(), &zero, bias, db.data<float>()));
}

void add_channel_bias_cudnn(Tensor& out, const Tensor& b) {
  cudnnHandle_t h = context(out.device().index).cudnn();
  TensorDesc y(out.shape()), bias({1, out.size(1), 1, 1});
  const float one = 1.0f;
  CUDL_CUDA_CALL(cudnnAddTensor(h, &one, bias, b.data<float>(), &one, y, out.data<float>()));
}

}  // namespace cudl::cuda
