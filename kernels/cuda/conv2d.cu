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
// In two stages with no atomics (the same sums on every run): a 2-D grid, blocks along
// x splitting the images and along y the channels, leaves per-block partial sums; then a
// warp per channel adds them in order. A block's threads form rows of `lanes` threads
// (lanes covering one image's OH*OW values) so no element needs a division.
constexpr int kBiasThreads = 256;
__global__ void channel_partial_sum_kernel(const float* __restrict__ dout, float* __restrict__ partial, int n, int f,
                                           int hw, int lanes) {
  const int k = blockIdx.y, rows = kBiasThreads / lanes;
  const int lane = threadIdx.x % lanes, row = threadIdx.x / lanes;
  float sum = 0.0f;
  for (int image = blockIdx.x * rows + row; image < n; image += gridDim.x * rows) {
    const float* plane = dout + (static_cast<long long>(image) * f + k) * hw;
    for (int p = lane; p < hw; p += lanes) sum += plane[p];
  }
  sum = block_reduce(sum, Sum{}, 0.0f);
  if (threadIdx.x == 0) partial[k * gridDim.x + blockIdx.x] = sum;
}

__global__ void channel_sum_partials_kernel(const float* __restrict__ partial, int parts, int f, float* __restrict__ db) {
  using G = RowGroup<false>;  // a warp per channel
  for (long long k = G::first_row(); k < f; k += G::row_stride()) {
    float sum = 0.0f;
    for (int i = G::rank(); i < parts; i += G::size()) sum += partial[k * parts + i];
    sum = G::reduce(sum, Sum{}, 0.0f);
    if (G::rank() == 0) db[k] = sum;
  }
}

__global__ void add_channel_bias_kernel(float* out, const float* b, long long count, long long f, long long hw) {
  CUDL_GRID_STRIDE_LOOP(idx, count) out[idx] += b[idx / hw % f];
}

// ---- im2col / col2im over a chunk of images ----
// Index: unsigned int when the chunk's element counts fit (they nearly always do: the
// column buffer is at most 256 MB), else long long; each element's coordinates come from
// one chain of divisions by the sizes, in that type.
// cols [images, C*KH*KW, OH*OW]: row (c, i, j), column (oh, ow).
template <typename Index>
__global__ void im2col_kernel(const float* __restrict__ x, float* __restrict__ cols, Index total, G geometry) {
  const Index ow = Index(geometry.ow), oh = Index(geometry.oh), kw = Index(geometry.kw), kh = Index(geometry.kh);
  const Index c = Index(geometry.c), h = Index(geometry.h), w = Index(geometry.w);
  const Index stride = Index(geometry.stride), pad = Index(geometry.pad);
  CUDL_GRID_STRIDE_LOOP_AS(Index, idx, total) {
    Index rest = idx;
    const Index col_w = rest % ow; rest /= ow;
    const Index col_h = rest % oh; rest /= oh;
    const Index j = rest % kw; rest /= kw;
    const Index i = rest % kh; rest /= kh;
    const Index channel = rest % c, image = rest / c;
    // Index is unsigned: a row or column above the image (in the padding) wraps around
    // to a huge value and fails the "< h" test like one below it.
    const Index ih = col_h * stride + i - pad, iw = col_w * stride + j - pad;
    cols[idx] = (ih < h && iw < w) ? x[((image * c + channel) * h + ih) * w + iw] : 0.0f;
  }
}

// The adjoint of im2col, as a gather: each dx element sums the column entries
// that read its pixel, so no two threads write the same address.
template <typename Index>
__global__ void col2im_kernel(const float* __restrict__ cols, float* __restrict__ dx, Index total, G geometry) {
  using Signed = std::make_signed_t<Index>;
  const Index w = Index(geometry.w), h = Index(geometry.h), c = Index(geometry.c);
  const Index kh = Index(geometry.kh), kw = Index(geometry.kw), ohw = Index(geometry.oh * geometry.ow);
  const Index ow = Index(geometry.ow), rows = c * kh * kw;
  CUDL_GRID_STRIDE_LOOP_AS(Index, idx, total) {
    Index rest = idx;
    const Index iw = rest % w; rest /= w;
    const Index ih = rest % h; rest /= h;
    const Index channel = rest % c, image = rest / c;
    const float* image_cols = cols + image * rows * ohw;
    float sum = 0.0f;
    for_each_covering_tap<Signed>(geometry, Signed(ih), Signed(iw), [&](Signed i, Signed j, Signed oh_, Signed ow_) {
      sum += image_cols[((channel * kh + Index(i)) * kw + Index(j)) * ohw + Index(oh_) * ow + Index(ow_)];
    });
    dx[idx] = sum;
  }
}

bool fits_32_bits(long long count) { return count <= 0x7fffffffLL; }

// im2col of `images` images starting at x, in 32-bit arithmetic when it fits.
void launch_im2col(const float* x, float* cols, long long images, const G& g, cudaStream_t s) {
  const long long total = images * g.c * g.kh * g.kw * g.oh * g.ow;
  if (fits_32_bits(total) && fits_32_bits(images * g.c * g.h * g.w))
    im2col_kernel<unsigned><<<grid_for(total), 256, 0, s>>>(x, cols, static_cast<unsigned>(total), g);
  else
    im2col_kernel<unsigned long long><<<grid_for(total), 256, 0, s>>>(x, cols, static_cast<unsigned long long>(total), g);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void launch_col2im(const float* cols, float* dx, long long images, const G& g, cudaStream_t s) {
  const long long total = images * g.c * g.h * g.w;
  if (fits_32_bits(total) && fits_32_bits(images * g.c * g.kh * g.kw * g.oh * g.ow))
    col2im_kernel<unsigned><<<grid_for(total), 256, 0, s>>>(cols, dx, static_cast<unsigned>(total), g);
  else
    col2im_kernel<unsigned long long><<<grid_for(total), 256, 0, s>>>(cols, dx, static_cast<unsigned long long>(total), g);
  CUDL_CUDA_CALL(cudaGetLastError());
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
// within 256 MB, and a chunk's images x groups products fit one batched launch.
long long images_per_chunk(const G& g) {
  constexpr long long budget = 256LL << 20;
  const long long per_image = 4 * std::max(g.c * g.kh * g.kw * g.oh * g.ow, g.f * g.col_rows);
  return std::max(1LL, std::min({budget / per_image, static_cast<long long>(g.n), 65535LL / g.groups}));
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
  CUDL_CHECK(n * f * hw <= 0x7fffffffLL && f <= 65535, "conv2d: bias gradient needs fewer than 2^31 values and 65536 "
             "channels, got dout ", dout.str());
  const int device = dout.device().index;
  if (f == 0) return;
  if (n * hw == 0) {
    CUDL_CUDA_CALL(cudaMemsetAsync(db.data<float>(), 0, db.nbytes(), stream(device)));
    return;
  }
  int lanes = 32;  // a power of two up to the block, at least one image plane where it fits
  while (lanes < kBiasThreads && lanes < hw) lanes *= 2;
  const long long rows = kBiasThreads / lanes;
  // About four blocks per SM in all, but no block without an image.
  const long long wanted = (4LL * context(device).properties().multiProcessorCount + f - 1) / f;
  const unsigned parts = static_cast<unsigned>(std::max(1LL, std::min(wanted, (n + rows - 1) / rows)));
  Tensor partial = Tensor::empty({f * static_cast<long long>(parts)}, DType::F32, dout.device());
  channel_partial_sum_kernel<<<dim3(parts, static_cast<unsigned>(f)), kBiasThreads, 0, stream(device)>>>(
      dout.data<float>(), partial.data<float>(), int(n), int(f), int(hw), lanes);
  CUDL_CUDA_CALL(cudaGetLastError());
  channel_sum_partials_kernel<<<grid_for(f * kWarp, 256), 256, 0, stream(device)>>>(partial.data<float>(), int(parts),
                                                                                     int(f), db.data<float>());
  CUDL_CUDA_CALL(cudaGetLastError());
}

void add_channel_bias(Tensor& out, const Tensor& b) {
  add_channel_bias_kernel<<<grid_for(out.numel()), 256, 0, stream(out.device().index)>>>(
      out.data<float>(), b.data<float>(), out.numel(), out.size(1), out.size(2) * out.size(3));
  CUDL_CUDA_CALL(cudaGetLastError());
}

// ---- im2col + gemm_tiled ----
// Per chunk of images, one batched GEMM over images x groups (product z = image * groups
// + group; the weights repeat with period `groups`, the other operands are uniform
// strides because groups are contiguous within an image):
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
    launch_im2col(x.data<float>() + n0 * g.c * g.h * g.w, cols.data<float>(), images, g, s);
    gemm_tiled_batched(false, false, g.fg, ohw, g.col_rows, 1.0f, w.data<float>(), g.col_rows, g.fg * g.col_rows,
                       cols.data<float>(), ohw, g.col_rows * ohw, 0.0f, out.data<float>() + n0 * g.f * ohw, ohw,
                       g.fg * ohw, images * g.groups, s, g.groups);
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
    gemm_tiled_batched(true, false, g.col_rows, ohw, g.fg, 1.0f, w.data<float>(), g.col_rows, g.fg * g.col_rows,
                       dout.data<float>() + n0 * g.f * ohw, ohw, g.fg * ohw, 0.0f, dcols.data<float>(), ohw,
                       g.col_rows * ohw, images * g.groups, s, g.groups);
    launch_col2im(dcols.data<float>(), dx.data<float>() + n0 * g.c * g.h * g.w, images, g, s);
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
    launch_im2col(x.data<float>() + n0 * g.c * g.h * g.w, cols.data<float>(), images, g, s);
    gemm_tiled_batched(false, true, g.fg, g.col_rows, ohw, 1.0f, dout.data<float>() + n0 * g.f * ohw, ohw,
                       g.fg * ohw, cols.data<float>(), ohw, g.col_rows * ohw, 0.0f, partial.data<float>(),
                       g.col_rows, g.fg * g.col_rows, images * g.groups, s);
    sum_images_kernel<<<grid_for(dw_size), 256, 0, s>>>(partial.data<float>(), dw.data<float>(), images, dw_size,
                                                        n0 > 0);
    CUDL_CUDA_CALL(cudaGetLastError());
  }
}

#if CUDL_WITH_CUDNN
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

// Algorithms needing more workspace than this are passed over (the im2col column buffer
// has the same bound).
constexpr std::size_t kMaxWorkspaceBytes = 256u << 20;

// The heuristics' best fp32 algorithm for a problem that is deterministic (same bits on
// every run, as cudl's own kernels) and within the workspace bound; failing that, the best
// within the bound. Asked once per shape and device.
//
// These _v7 heuristics are cuDNN's legacy API, deprecated in cuDNN 9 but still there;
// the graph API (backend descriptors, or the cudnn_frontend C++ headers, which this
// build does not have) would be the replacement, at several hundred lines of descriptor
// code for the three fixed-shape passes: left until the legacy calls go away.
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
  auto usable = [](const Perf& p) {
    return p.status == CUDNN_STATUS_SUCCESS && p.mathType != CUDNN_TENSOR_OP_MATH &&
           p.mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && p.memory <= kMaxWorkspaceBytes;
  };
  for (bool need_deterministic : {true, false})
    for (int i = 0; i < returned; ++i)
      if (usable(perf[i]) && (!need_deterministic || perf[i].determinism == CUDNN_DETERMINISTIC))
        return cache[key] = int(perf[i].algo);
  detail::throw_error("conv2d (cudnn): no fp32 algorithm within ", kMaxWorkspaceBytes >> 20, " MiB of workspace for x [", g.n, ",", g.c, ",", g.h, ",", g.w, "], w [", g.f,
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
#endif  // CUDL_WITH_CUDNN

}  // namespace cudl::cuda
