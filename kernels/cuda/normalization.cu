#include <cstdint>

#include "core/check.h"
#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/normalization.h"
#include "kernels/cuda/reduce.cuh"

namespace cudl::cuda {

namespace {
constexpr int kBlock = 256;

struct Layout {
  long long n, c, s;
};
Layout layout_of(const Tensor& x) {
  const long long n = x.size(0), c = x.size(1);
  return {n, c, x.numel() / (n * c)};
}

// Three double sums reduced together (batch norm's backward also needs sum(x - mean)).
// Trivial, as the reductions keep it in __shared__ memory.
struct SumTriple {
  double a, b, c;
};
__device__ __forceinline__ SumTriple operator+(SumTriple x, SumTriple y) {
  return {x.a + y.a, x.b + y.b, x.c + y.c};
}
__device__ __forceinline__ SumTriple shfl_xor(SumTriple v, int mask) {
  // Qualified: this overload hides reduce.cuh's double one from unqualified lookup.
  return {cuda::shfl_xor(v.a, mask), cuda::shfl_xor(v.b, mask), cuda::shfl_xor(v.c, mask)};
}

// A mean kept as float hi + lo, the float mean and what rounding it lost. x - hi is
// exact when x is within a factor of two of hi (Sterbenz), so (x - hi) - lo keeps
// the digits that x - float(mean) loses when the spread is small against the mean
// (as kernels/cpu/normalization.cpp): for inputs 2.0 +- 0.004, float(mean) is off by
// up to 1.2e-7, 3e-5 of the spread, and every normalised value with it. Only hi is
// saved; the backward gets lo back as mean(x - hi).
__device__ __forceinline__ float centre(float x, float hi, float lo) { return (x - hi) - lo; }

// ---- per-channel reductions of x seen as [N, C, S], shared by batch norm's
// statistics and both ops' dgamma/dbeta. Stage 1 writes partial sums [chunks, C];
// stage 2 (one thread per channel) adds them up in a fixed order and hands the
// total to an epilogue. No atomics, so results are deterministic. The sums are a
// SumPair or SumTriple, whichever value(n, c, j) returns.

// S > 1: block (channel, chunk) sums values k in [chunk * chunk_len, ...) of the
// channel's N*S, with k = n*S + j: consecutive threads read consecutive j.
template <class Index, class Value, class Acc>
__global__ void channel_partials_kernel(Value value, Index count, Index s, Index chunk_len, long long c_count,
                                        Acc* partial) {
  const long long c = blockIdx.x;
  const Index begin = static_cast<Index>(blockIdx.y) * chunk_len;
  const Index end = begin + chunk_len < count ? begin + chunk_len : count;
  Acc acc{};
  for (Index k = begin + threadIdx.x; k < end; k += blockDim.x)
    acc = acc + value(static_cast<long long>(k / s), c, static_cast<long long>(k % s));
  acc = block_reduce(acc, Sum{}, Acc{});
  if (threadIdx.x == 0) partial[blockIdx.y * c_count + c] = acc;
}

// S == 1 ([N, D] input): a column reduction. Block (32, 8) covers 32 channels;
// each row of threads reads 32 consecutive channels of one sample.
constexpr int kColumns = 32, kRows = 8;
template <class Value, class Acc>
__global__ void column_partials_kernel(Value value, long long n, long long c_count, long long rows_per_chunk,
                                       Acc* partial) {
  __shared__ Acc tile[kRows][kColumns + 1];  // +1: no bank conflicts on the column sums
  const long long c = static_cast<long long>(blockIdx.x) * kColumns + threadIdx.x;
  const long long begin = static_cast<long long>(blockIdx.y) * rows_per_chunk;
  const long long end = begin + rows_per_chunk < n ? begin + rows_per_chunk : n;
  Acc acc{};
  if (c < c_count)
    for (long long row = begin + threadIdx.y; row < end; row += kRows) acc = acc + value(row, c, 0);
  tile[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < c_count) {
    for (int r = 1; r < kRows; ++r) acc = acc + tile[r][threadIdx.x];
    partial[blockIdx.y * c_count + c] = acc;
  }
}

template <class Acc, class Epilogue>
__global__ void combine_partials_kernel(const Acc* partial, long long chunks, long long c_count, Epilogue epilogue) {
  CUDL_GRID_STRIDE_LOOP(c, c_count) {
    Acc total{};
    for (long long k = 0; k < chunks; ++k) total = total + partial[k * c_count + c];
    epilogue(c, total);
  }
}

long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }
long long clamp(long long v, long long lo, long long hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Adds value(n, c, j) over n and j for every channel c, then runs epilogue(c, total).
// Chunks are sized to give the GPU about four blocks per SM.
template <class Value, class Epilogue>
void reduce_channels(const Layout& l, Value value, Epilogue epilogue, int device) {
  using Acc = decltype(value(0LL, 0LL, 0LL));
  Context& ctx = context(device);
  const long long target_blocks = 4LL * ctx.properties().multiProcessorCount;
  long long chunks;
  Tensor partial_buffer;
  Acc* partial;
  auto allocate = [&](long long count) {
    partial_buffer =
        Tensor::empty({count * l.c * static_cast<long long>(sizeof(Acc))}, DType::U8, Device::cuda(device));
    partial = static_cast<Acc*>(partial_buffer.raw_data());
  };
  if (l.s == 1) {
    const long long column_blocks = ceil_div(l.c, kColumns);
    chunks = clamp(ceil_div(target_blocks, column_blocks), 1, clamp(ceil_div(l.n, 64), 1, 65535));
    allocate(chunks);
    column_partials_kernel<<<dim3(static_cast<unsigned>(column_blocks), static_cast<unsigned>(chunks)),
                             dim3(kColumns, kRows), 0, ctx.stream()>>>(value, l.n, l.c, ceil_div(l.n, chunks),
                                                                       partial);
  } else {
    const long long count = l.n * l.s;
    chunks = clamp(ceil_div(target_blocks, l.c), 1, clamp(ceil_div(count, 4 * kBlock), 1, 65535));
    const long long chunk_len = ceil_div(count, chunks);
    chunks = ceil_div(count, chunk_len);
    allocate(chunks);
    const dim3 grid(static_cast<unsigned>(l.c), static_cast<unsigned>(chunks));
    // 32-bit index division is several times cheaper; INT32_MAX leaves room for k + stride.
    if (count <= INT32_MAX)
      channel_partials_kernel<std::uint32_t><<<grid, kBlock, 0, ctx.stream()>>>(
          value, std::uint32_t(count), std::uint32_t(l.s), std::uint32_t(chunk_len), l.c, partial);
    else
      channel_partials_kernel<std::uint64_t><<<grid, kBlock, 0, ctx.stream()>>>(
          value, std::uint64_t(count), std::uint64_t(l.s), std::uint64_t(chunk_len), l.c, partial);
  }
  CUDL_CUDA_CALL(cudaGetLastError());
  combine_partials_kernel<<<grid_for(l.c), kBlock, 0, ctx.stream()>>>(partial, chunks, l.c, epilogue);
  CUDL_CUDA_CALL(cudaGetLastError());
}

// Values of x shifted by the channel's first one, and their squares: the shift
// keeps the double sums accurate when the mean is large against the spread.
struct ShiftedMomentsValue {
  const float* x;
  long long c_count, s;
  __device__ SumPair operator()(long long n, long long c, long long j) const {
    const double d = double(x[(n * c_count + c) * s + j]) - x[c * s];
    return {d, d * d};
  }
};

// Batch norm's dy, dy * (x - hi) and x - hi, hi the saved float mean: in one pass,
// the sums give dbeta, the mean's lost low part (mean(x - hi)) and then dgamma.
struct BatchGradValue {
  const float *x, *dy, *mean_hi;
  long long c_count, s;
  __device__ SumTriple operator()(long long n, long long c, long long j) const {
    const long long i = (n * c_count + c) * s + j;
    const float centred = x[i] - mean_hi[c];
    return {dy[i], double(dy[i]) * centred, centred};
  }
};

// Group norm's dy and dy * xhat, with statistics per (n, group).
struct ParamGradValue {
  const float *x, *dy, *mean_hi, *mean_lo, *inv_std;
  long long c_count, s, groups, group_channels;
  __device__ SumPair operator()(long long n, long long c, long long j) const {
    const long long i = (n * c_count + c) * s + j;
    const long long stat = n * groups + c / group_channels;
    const float xhat = centre(x[i], mean_hi[stat], mean_lo[stat]) * inv_std[stat];
    return {dy[i], double(dy[i]) * xhat};
  }
};

__device__ inline void update_running(float* running_mean, float* running_var, long long c, double mean,
                                      double biased_var, long long count, float momentum) {
  if (running_mean == nullptr) return;
  running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean);
  running_var[c] =
      static_cast<float>((1.0 - momentum) * running_var[c] + momentum * biased_var * count / double(count - 1));
}

struct BatchStatsEpilogue {
  const float* x;
  long long s, count;
  float eps, momentum;
  float *mean, *mean_lo, *inv_std, *running_mean, *running_var;
  __device__ void operator()(long long c, SumPair total) const {
    const double shifted_mean = total.a / count;
    const double var = fmax(total.b / count - shifted_mean * shifted_mean, 0.0);
    const double mu = x[c * s] + shifted_mean;
    const float hi = static_cast<float>(mu);
    mean[c] = hi;
    mean_lo[c] = static_cast<float>(mu - hi);
    inv_std[c] = static_cast<float>(1.0 / sqrt(var + eps));
    update_running(running_mean, running_var, c, mu, var, count, momentum);
  }
};

// sum dy * xhat = (sum dy (x - hi) - lo * sum dy) * inv_std. In eval mode the saved
// mean is running_mean itself, with nothing lost: lo = 0.
struct BatchGradEpilogue {
  const float* inv_std;
  float *dbeta, *dgamma, *mean_lo;
  long long count;
  bool training;
  __device__ void operator()(long long c, SumTriple total) const {
    const double lo = training ? total.c / count : 0.0;
    dbeta[c] = static_cast<float>(total.a);
    dgamma[c] = static_cast<float>((total.b - lo * total.a) * inv_std[c]);
    mean_lo[c] = static_cast<float>(lo);
  }
};

struct ParamGradEpilogue {
  float *dbeta, *dgamma;
  __device__ void operator()(long long c, SumPair total) const {
    dbeta[c] = static_cast<float>(total.a);
    dgamma[c] = static_cast<float>(total.b);
  }
};

// ---- batch norm ----

// mean_lo (optional) is 0: running_mean is already the float mean.
__global__ void running_inv_std_kernel(const float* running_mean, const float* running_var, float* mean,
                                       float* mean_lo, float* inv_std, long long c_count, float eps) {
  CUDL_GRID_STRIDE_LOOP(c, c_count) {
    mean[c] = running_mean[c];
    if (mean_lo) mean_lo[c] = 0.0f;
    inv_std[c] = static_cast<float>(1.0 / sqrt(double(running_var[c]) + eps));
  }
}

// out = (x - mean[c]) * inv_std[c] * gamma[c] + beta[c], c = (i / S) % C, the mean
// as hi + lo (see centre).
template <class Index>
__global__ void batch_norm_apply_kernel(Index total, Index s, Index c_count, const float* x, const float* gamma,
                                        const float* beta, const float* mean, const float* mean_lo,
                                        const float* inv_std, float* out) {
  CUDL_GRID_STRIDE_LOOP_AS(Index, i, total) {
    const Index c = (i / s) % c_count;
    out[i] = centre(x[i], mean[c], mean_lo[c]) * (inv_std[c] * gamma[c]) + beta[c];
  }
}

// Training: dx = gamma*inv_std * (dy - sum(dy)/M - xhat * sum(dy*xhat)/M); eval: gamma*inv_std*dy.
template <class Index>
__global__ void batch_norm_dx_kernel(Index total, Index s, Index c_count, const float* dy, const float* x,
                                     const float* gamma, const float* mean, const float* mean_lo,
                                     const float* inv_std, const float* sum_dy, const float* sum_dy_xhat, float* dx,
                                     float inv_count, bool training) {
  CUDL_GRID_STRIDE_LOOP_AS(Index, i, total) {
    const Index c = (i / s) % c_count;
    const float k = gamma[c] * inv_std[c];
    if (training) {
      const float xhat = centre(x[i], mean[c], mean_lo[c]) * inv_std[c];
      dx[i] = k * (dy[i] - sum_dy[c] * inv_count - xhat * (sum_dy_xhat[c] * inv_count));
    } else {
      dx[i] = k * dy[i];
    }
  }
}

// Launches an elementwise kernel over x [N, C, S], with 32-bit indices where they
// suffice (64-bit division costs several times more).
template <class Kernel32, class Kernel64, class... Args>
void launch_elementwise(Kernel32 k32, Kernel64 k64, const Layout& l, int device, Args... args) {
  const long long total = l.n * l.c * l.s;
  cudaStream_t st = stream(device);
  if (total <= INT32_MAX)  // so that i + grid stride cannot wrap
    k32<<<grid_for(total), kBlock, 0, st>>>(std::uint32_t(total), std::uint32_t(l.s), std::uint32_t(l.c), args...);
  else
    k64<<<grid_for(total), kBlock, 0, st>>>(std::uint64_t(total), std::uint64_t(l.s), std::uint64_t(l.c), args...);
  CUDL_CUDA_CALL(cudaGetLastError());
}

__global__ void batch_norm_forward_naive_kernel(const float* x, const float* gamma, const float* beta,
                                                float* running_mean, float* running_var, float* out, float* mean_out,
                                                float* inv_std_out, long long n, long long c_count, long long s,
                                                bool training, float momentum, float eps) {
  CUDL_GRID_STRIDE_LOOP(c, c_count) {
    double mean, inv_std;
    if (training) {
      double sum = 0, sq = 0;
      for (long long i = 0; i < n; ++i)
        for (long long j = 0; j < s; ++j) sum += x[(i * c_count + c) * s + j];
      mean = sum / (n * s);
      for (long long i = 0; i < n; ++i)
        for (long long j = 0; j < s; ++j) {
          const double d = x[(i * c_count + c) * s + j] - mean;
          sq += d * d;
        }
      inv_std = 1.0 / sqrt(sq / (n * s) + eps);
      update_running(running_mean, running_var, c, mean, sq / (n * s), n * s, momentum);
    } else {
      mean = running_mean[c];
      inv_std = 1.0 / sqrt(double(running_var[c]) + eps);
    }
    mean_out[c] = static_cast<float>(mean);
    inv_std_out[c] = static_cast<float>(inv_std);
    for (long long i = 0; i < n; ++i)
      for (long long j = 0; j < s; ++j) {
        const long long idx = (i * c_count + c) * s + j;
        out[idx] = static_cast<float>((x[idx] - mean) * inv_std * gamma[c] + beta[c]);
      }
  }
}

__global__ void batch_norm_backward_naive_kernel(const float* dy, const float* x, const float* gamma,
                                                 const float* mean, const float* inv_std, float* dx, float* dgamma,
                                                 float* dbeta, long long n, long long c_count, long long s,
                                                 bool training) {
  CUDL_GRID_STRIDE_LOOP(c, c_count) {
    // The saved mean is the float one; in training, what it lost comes back as
    // mean(x - saved) (in eval it is running_mean, exact).
    double mu = mean[c];
    if (training) {
      double sum_centred = 0;
      for (long long i = 0; i < n; ++i)
        for (long long j = 0; j < s; ++j) sum_centred += x[(i * c_count + c) * s + j] - double(mean[c]);
      mu += sum_centred / (n * s);
    }
    double sum_dy = 0, sum_dy_xhat = 0;
    for (long long i = 0; i < n; ++i)
      for (long long j = 0; j < s; ++j) {
        const long long idx = (i * c_count + c) * s + j;
        sum_dy += dy[idx];
        sum_dy_xhat += dy[idx] * ((x[idx] - mu) * double(inv_std[c]));
      }
    dbeta[c] = static_cast<float>(sum_dy);
    dgamma[c] = static_cast<float>(sum_dy_xhat);
    const double m = double(n * s), k = double(gamma[c]) * inv_std[c];
    for (long long i = 0; i < n; ++i)
      for (long long j = 0; j < s; ++j) {
        const long long idx = (i * c_count + c) * s + j;
        const double xhat = (x[idx] - mu) * double(inv_std[c]);
        dx[idx] = static_cast<float>(training ? k * (dy[idx] - sum_dy / m - xhat * sum_dy_xhat / m) : k * dy[idx]);
      }
  }
}

float* optional_data(Tensor* t) { return t ? t->data<float>() : nullptr; }

// ---- group norm: segments of M = (C/groups)*S contiguous values ----

struct Segments {
  long long count, m, s, groups, group_channels;
};
Segments segments_of(const Tensor& x, long long groups) {
  const Layout l = layout_of(x);
  return {l.n * groups, (l.c / groups) * l.s, l.s, groups, l.c / groups};
}

// Channel of value k within its group; layer norm (S == 1) skips the division.
__device__ inline unsigned channel_in_group(unsigned k, unsigned s) { return s == 1 ? k : k / s; }

// A segment per warp, or per block when WholeBlock.
template <bool WholeBlock>
__global__ void group_norm_forward_kernel(const float* x, const float* gamma, const float* beta, float* out,
                                          float* mean_out, float* inv_std_out, Segments sg, float eps) {
  using G = RowGroup<WholeBlock>;
  constexpr unsigned kThreads = WholeBlock ? kBlock : kWarp;
  const unsigned lane = G::rank(), m = static_cast<unsigned>(sg.m), s = static_cast<unsigned>(sg.s);
  // Every thread of a segment runs the same iterations, as G::reduce requires.
  for (long long seg = G::first_row(); seg < sg.count; seg += G::row_stride()) {
    const float* xs = x + seg * sg.m;
    const float shift = xs[0];
    SumPair acc{0.0, 0.0};
    for (unsigned k = lane; k < m; k += kThreads) {
      const double d = double(xs[k]) - shift;
      acc.a += d;
      acc.b += d * d;
    }
    acc = G::reduce(acc, Sum{}, SumPair{0.0, 0.0});
    const double shifted_mean = acc.a / m, mean = shift + shifted_mean;
    const float hi = static_cast<float>(mean), lo = static_cast<float>(mean - hi);
    const float inv_std = static_cast<float>(1.0 / sqrt(fmax(acc.b / m - shifted_mean * shifted_mean, 0.0) + eps));
    if (lane == 0) {
      mean_out[seg] = hi;
      inv_std_out[seg] = inv_std;
    }
    const float* g = gamma + (seg % sg.groups) * sg.group_channels;
    const float* b = beta + (seg % sg.groups) * sg.group_channels;
    float* os = out + seg * sg.m;
    for (unsigned k = lane; k < m; k += kThreads) {
      const unsigned c = channel_in_group(k, s);
      os[k] = centre(xs[k], hi, lo) * (inv_std * g[c]) + b[c];
    }
  }
}

// dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma;
// a segment per warp, or per block when WholeBlock. Writes the saved mean's lost
// low part, mean(x - hi), to mean_lo_out for dgamma.
template <bool WholeBlock>
__global__ void group_norm_dx_kernel(const float* dy, const float* x, const float* gamma, const float* mean_in,
                                     const float* inv_std_in, float* dx, float* mean_lo_out, Segments sg) {
  using G = RowGroup<WholeBlock>;
  constexpr unsigned kThreads = WholeBlock ? kBlock : kWarp;
  const unsigned lane = G::rank(), m = static_cast<unsigned>(sg.m), s = static_cast<unsigned>(sg.s);
  for (long long seg = G::first_row(); seg < sg.count; seg += G::row_stride()) {
    const float *xs = x + seg * sg.m, *dys = dy + seg * sg.m;
    const float* g = gamma + (seg % sg.groups) * sg.group_channels;
    const float hi = mean_in[seg], inv_std = inv_std_in[seg];
    // sum dxhat, sum dxhat (x - hi) and sum (x - hi), in one pass.
    SumTriple acc{0.0, 0.0, 0.0};
    for (unsigned k = lane; k < m; k += kThreads) {
      const float dxhat = dys[k] * g[channel_in_group(k, s)], centred = xs[k] - hi;
      acc.a += dxhat;
      acc.b += double(dxhat) * centred;
      acc.c += centred;
    }
    acc = G::reduce(acc, Sum{}, SumTriple{0.0, 0.0, 0.0});
    const double lo = acc.c / m;
    if (lane == 0) mean_lo_out[seg] = static_cast<float>(lo);
    const float mean_dxhat = static_cast<float>(acc.a / m);
    const float mean_dxhat_xhat = static_cast<float>((acc.b - lo * acc.a) * inv_std / m);
    float* dxs = dx + seg * sg.m;
    for (unsigned k = lane; k < m; k += kThreads) {
      const float xhat = centre(xs[k], hi, static_cast<float>(lo)) * inv_std;
      dxs[k] = inv_std * (dys[k] * g[channel_in_group(k, s)] - mean_dxhat - xhat * mean_dxhat_xhat);
    }
  }
}

// Segments up to this size take one warp each; larger ones a whole block.
constexpr long long kWarpSegmentMax = 1024;

unsigned segment_grid(const Segments& sg, int threads_per_segment) {
  return grid_for(sg.count, kBlock / threads_per_segment);
}

__global__ void group_norm_forward_naive_kernel(const float* x, const float* gamma, const float* beta, float* out,
                                                float* mean_out, float* inv_std_out, Segments sg, float eps) {
  CUDL_GRID_STRIDE_LOOP(seg, sg.count) {
    const float* xs = x + seg * sg.m;
    double sum = 0, sq = 0;
    for (long long k = 0; k < sg.m; ++k) sum += xs[k];
    const double mean = sum / sg.m;
    for (long long k = 0; k < sg.m; ++k) sq += (xs[k] - mean) * (xs[k] - mean);
    const double inv_std = 1.0 / sqrt(sq / sg.m + eps);
    mean_out[seg] = static_cast<float>(mean);
    inv_std_out[seg] = static_cast<float>(inv_std);
    const long long first_channel = (seg % sg.groups) * sg.group_channels;
    for (long long k = 0; k < sg.m; ++k) {
      const long long c = first_channel + k / sg.s;
      out[seg * sg.m + k] = static_cast<float>((xs[k] - mean) * inv_std * gamma[c] + beta[c]);
    }
  }
}

// Writes the saved (float) mean's lost low part, mean(x - saved), to mean_lo_out
// for the dgamma kernel.
__global__ void group_norm_dx_naive_kernel(const float* dy, const float* x, const float* gamma, const float* mean_in,
                                           const float* inv_std_in, float* dx, float* mean_lo_out, Segments sg) {
  CUDL_GRID_STRIDE_LOOP(seg, sg.count) {
    const long long base = seg * sg.m, first_channel = (seg % sg.groups) * sg.group_channels;
    double sum_centred = 0;
    for (long long k = 0; k < sg.m; ++k) sum_centred += x[base + k] - double(mean_in[seg]);
    const double lo = sum_centred / sg.m, mean = mean_in[seg] + lo, inv_std = inv_std_in[seg];
    mean_lo_out[seg] = static_cast<float>(lo);
    double sum_dxhat = 0, sum_dxhat_xhat = 0;
    for (long long k = 0; k < sg.m; ++k) {
      const double dxhat = double(dy[base + k]) * gamma[first_channel + k / sg.s];
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * (x[base + k] - mean) * inv_std;
    }
    for (long long k = 0; k < sg.m; ++k) {
      const double dxhat = double(dy[base + k]) * gamma[first_channel + k / sg.s];
      const double xhat = (x[base + k] - mean) * inv_std;
      dx[base + k] = static_cast<float>(inv_std * (dxhat - sum_dxhat / sg.m - xhat * sum_dxhat_xhat / sg.m));
    }
  }
}

// One thread per channel: dgamma[c] = sum_{n,j} dy * xhat, dbeta[c] = sum_{n,j} dy.
// The mean is mean_hi + mean_lo, as group_norm_dx_naive_kernel left it.
__global__ void group_norm_param_grads_naive_kernel(const float* dy, const float* x, const float* mean_hi,
                                                    const float* mean_lo, const float* inv_std, float* dgamma,
                                                    float* dbeta, long long n, long long c_count, Segments sg) {
  CUDL_GRID_STRIDE_LOOP(c, c_count) {
    double dg = 0, db = 0;
    for (long long i = 0; i < n; ++i) {
      const long long stat = i * sg.groups + c / sg.group_channels;
      const double mean = double(mean_hi[stat]) + mean_lo[stat];
      for (long long j = 0; j < sg.s; ++j) {
        const long long idx = (i * c_count + c) * sg.s + j;
        db += dy[idx];
        dg += double(dy[idx]) * (x[idx] - mean) * inv_std[stat];
      }
    }
    dgamma[c] = static_cast<float>(dg);
    dbeta[c] = static_cast<float>(db);
  }
}
}  // namespace

// ---- batch norm entry points ----

void batch_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved) {
  const Layout l = layout_of(x);
  batch_norm_forward_naive_kernel<<<grid_for(l.c), kBlock, 0, stream(x.device().index)>>>(
      x.data<float>(), gamma.data<float>(), beta.data<float>(), optional_data(running_mean),
      optional_data(running_var), saved.out.data<float>(), saved.mean.data<float>(), saved.inv_std.data<float>(), l.n,
      l.c, l.s, training, momentum, eps);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void batch_norm_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads) {
  const Layout l = layout_of(x);
  batch_norm_backward_naive_kernel<<<grid_for(l.c), kBlock, 0, stream(x.device().index)>>>(
      dout.data<float>(), x.data<float>(), gamma.data<float>(), saved.mean.data<float>(), saved.inv_std.data<float>(),
      grads.dx.data<float>(), grads.dgamma.data<float>(), grads.dbeta.data<float>(), l.n, l.c, l.s, training);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void batch_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved) {
  const Layout l = layout_of(x);
  const int device = x.device().index;
  float *mean = saved.mean.data<float>(), *inv_std = saved.inv_std.data<float>();
  // The mean's low part (see centre), for this pass only: only the float mean is saved.
  Tensor mean_lo_buffer = Tensor::empty({l.c}, DType::F32, x.device());
  float* mean_lo = mean_lo_buffer.data<float>();
  if (training) {
    reduce_channels(l, ShiftedMomentsValue{x.data<float>(), l.c, l.s},
                    BatchStatsEpilogue{x.data<float>(), l.s, l.n * l.s, eps, momentum, mean, mean_lo, inv_std,
                                       optional_data(running_mean), optional_data(running_var)},
                    device);
  } else {
    running_inv_std_kernel<<<grid_for(l.c), kBlock, 0, stream(device)>>>(
        running_mean->data<float>(), running_var->data<float>(), mean, mean_lo, inv_std, l.c, eps);
    CUDL_CUDA_CALL(cudaGetLastError());
  }
  launch_elementwise(batch_norm_apply_kernel<std::uint32_t>, batch_norm_apply_kernel<std::uint64_t>, l, device,
                     x.data<float>(), gamma.data<float>(), beta.data<float>(), static_cast<const float*>(mean),
                     static_cast<const float*>(mean_lo), static_cast<const float*>(inv_std), saved.out.data<float>());
}

void batch_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads) {
  const Layout l = layout_of(x);
  const int device = x.device().index;
  const float *mean = saved.mean.data<float>(), *inv_std = saved.inv_std.data<float>();
  float *dgamma = grads.dgamma.data<float>(), *dbeta = grads.dbeta.data<float>();
  Tensor mean_lo_buffer = Tensor::empty({l.c}, DType::F32, x.device());
  float* mean_lo = mean_lo_buffer.data<float>();
  reduce_channels(l, BatchGradValue{x.data<float>(), dout.data<float>(), mean, l.c, l.s},
                  BatchGradEpilogue{inv_std, dbeta, dgamma, mean_lo, l.n * l.s, training}, device);
  // dbeta and dgamma are exactly sum(dy) and sum(dy * xhat), which dx needs.
  launch_elementwise(batch_norm_dx_kernel<std::uint32_t>, batch_norm_dx_kernel<std::uint64_t>, l, device,
                     dout.data<float>(), x.data<float>(), gamma.data<float>(), mean,
                     static_cast<const float*>(mean_lo), inv_std,
                     static_cast<const float*>(dbeta), static_cast<const float*>(dgamma), grads.dx.data<float>(),
                     static_cast<float>(1.0 / double(l.n * l.s)), training);
}

#if CUDL_WITH_CUDNN
// ---- cuDNN ----
namespace {
class TensorDescriptor {
 public:
  TensorDescriptor(long long n, long long c, long long h, long long w) {
    CUDL_CUDA_CALL(cudnnCreateTensorDescriptor(&desc_));
    CUDL_CUDA_CALL(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(n), int(c), int(h),
                                              int(w)));
  }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  operator cudnnTensorDescriptor_t() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

// x as cuDNN's NCHW, and the mode whose statistics match ours: per channel over
// (N, H, W) for 4-D input, per feature over N for [N, D].
struct CudnnBatchNorm {
  TensorDescriptor x, params;
  cudnnBatchNormMode_t mode;
};
CudnnBatchNorm cudnn_batch_norm(const Tensor& x) {
  const bool spatial = x.dim() == 4;
  CUDL_CHECK(x.numel() <= INT32_MAX, "batch_norm: cudnn takes at most 2^31-1 elements, got ", x.str());
  return {TensorDescriptor(x.size(0), x.size(1), spatial ? x.size(2) : 1, spatial ? x.size(3) : 1),
          TensorDescriptor(1, x.size(1), 1, 1), spatial ? CUDNN_BATCHNORM_SPATIAL : CUDNN_BATCHNORM_PER_ACTIVATION};
}
}  // namespace

void batch_norm_forward_cudnn(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved) {
  const CudnnBatchNorm bn = cudnn_batch_norm(x);
  Context& ctx = context(x.device().index);
  const float one = 1.0f, zero = 0.0f;
  if (training) {
    // cuDNN's exponentialAverageFactor is the weight of the batch statistic (our
    // momentum), its running variance is the unbiased one, as in PyTorch, and its
    // "saved inverse variance" is 1/sqrt(var + eps), i.e. our inv_std.
    CUDL_CUDA_CALL(cudnnBatchNormalizationForwardTraining(
        ctx.cudnn(), bn.mode, &one, &zero, bn.x, x.data<float>(), bn.x, saved.out.data<float>(), bn.params,
        gamma.data<float>(), beta.data<float>(), momentum, optional_data(running_mean), optional_data(running_var),
        eps, saved.mean.data<float>(), saved.inv_std.data<float>()));
  } else {
    CUDL_CUDA_CALL(cudnnBatchNormalizationForwardInference(
        ctx.cudnn(), bn.mode, &one, &zero, bn.x, x.data<float>(), bn.x, saved.out.data<float>(), bn.params,
        gamma.data<float>(), beta.data<float>(), running_mean->data<float>(), running_var->data<float>(), eps));
    running_inv_std_kernel<<<grid_for(x.size(1)), kBlock, 0, ctx.stream()>>>(
        running_mean->data<float>(), running_var->data<float>(), saved.mean.data<float>(), nullptr,
        saved.inv_std.data<float>(), x.size(1), eps);
    CUDL_CUDA_CALL(cudaGetLastError());
  }
}

void batch_norm_backward_cudnn(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads) {
  if (!training) {  // cuDNN's backward is the training-mode one only
    batch_norm_backward_fused(dout, x, gamma, saved, training, grads);
    return;
  }
  const CudnnBatchNorm bn = cudnn_batch_norm(x);
  const float one = 1.0f, zero = 0.0f;
  // With the saved mean and inverse std given, cuDNN does not recompute the
  // statistics, so epsilon (which backward is not given) does not enter.
  const double unused_eps = 1e-5;
  CUDL_CUDA_CALL(cudnnBatchNormalizationBackward(
      context(x.device().index).cudnn(), bn.mode, &one, &zero, &one, &zero, bn.x, x.data<float>(), bn.x,
      dout.data<float>(), bn.x, grads.dx.data<float>(), bn.params, gamma.data<float>(), grads.dgamma.data<float>(),
      grads.dbeta.data<float>(), unused_eps, saved.mean.data<float>(), saved.inv_std.data<float>()));
}
#endif  // CUDL_WITH_CUDNN

// ---- group norm entry points ----

void group_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved) {
  const Segments sg = segments_of(x, groups);
  group_norm_forward_naive_kernel<<<grid_for(sg.count), kBlock, 0, stream(x.device().index)>>>(
      x.data<float>(), gamma.data<float>(), beta.data<float>(), saved.out.data<float>(), saved.mean.data<float>(),
      saved.inv_std.data<float>(), sg, eps);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void group_norm_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads) {
  const Segments sg = segments_of(x, groups);
  const Layout l = layout_of(x);
  cudaStream_t st = stream(x.device().index);
  Tensor mean_lo = Tensor::empty({sg.count}, DType::F32, x.device());  // the saved mean's low part, per segment
  group_norm_dx_naive_kernel<<<grid_for(sg.count), kBlock, 0, st>>>(
      dout.data<float>(), x.data<float>(), gamma.data<float>(), saved.mean.data<float>(), saved.inv_std.data<float>(),
      grads.dx.data<float>(), mean_lo.data<float>(), sg);
  CUDL_CUDA_CALL(cudaGetLastError());
  group_norm_param_grads_naive_kernel<<<grid_for(l.c), kBlock, 0, st>>>(
      dout.data<float>(), x.data<float>(), saved.mean.data<float>(), mean_lo.data<float>(),
      saved.inv_std.data<float>(), grads.dgamma.data<float>(), grads.dbeta.data<float>(), l.n, l.c, sg);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void group_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved) {
  const Segments sg = segments_of(x, groups);
  CUDL_CHECK(sg.m <= INT32_MAX, "group_norm: a group of at most 2^31-1 values on CUDA, got ", sg.m, " in ", x.str());
  cudaStream_t st = stream(x.device().index);
  if (sg.m <= kWarpSegmentMax)
    group_norm_forward_kernel<false><<<segment_grid(sg, kWarp), kBlock, 0, st>>>(
        x.data<float>(), gamma.data<float>(), beta.data<float>(), saved.out.data<float>(), saved.mean.data<float>(),
        saved.inv_std.data<float>(), sg, eps);
  else
    group_norm_forward_kernel<true><<<segment_grid(sg, kBlock), kBlock, 0, st>>>(
        x.data<float>(), gamma.data<float>(), beta.data<float>(), saved.out.data<float>(), saved.mean.data<float>(),
        saved.inv_std.data<float>(), sg, eps);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void group_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads) {
  const Segments sg = segments_of(x, groups);
  CUDL_CHECK(sg.m <= INT32_MAX, "group_norm: a group of at most 2^31-1 values on CUDA, got ", sg.m, " in ", x.str());
  const Layout l = layout_of(x);
  const int device = x.device().index;
  const float *mean = saved.mean.data<float>(), *inv_std = saved.inv_std.data<float>();
  // The saved mean's low part per segment, which the dx kernel recovers for dgamma.
  Tensor mean_lo_buffer = Tensor::empty({sg.count}, DType::F32, x.device());
  float* mean_lo = mean_lo_buffer.data<float>();
  if (sg.m <= kWarpSegmentMax)
    group_norm_dx_kernel<false><<<segment_grid(sg, kWarp), kBlock, 0, stream(device)>>>(
        dout.data<float>(), x.data<float>(), gamma.data<float>(), mean, inv_std, grads.dx.data<float>(), mean_lo, sg);
  else
    group_norm_dx_kernel<true><<<segment_grid(sg, kBlock), kBlock, 0, stream(device)>>>(
        dout.data<float>(), x.data<float>(), gamma.data<float>(), mean, inv_std, grads.dx.data<float>(), mean_lo, sg);
  CUDL_CUDA_CALL(cudaGetLastError());
  reduce_channels(l,
                  ParamGradValue{x.data<float>(), dout.data<float>(), mean, mean_lo, inv_std, l.c, l.s, sg.groups,
                                 sg.group_channels},
                  ParamGradEpilogue{grads.dbeta.data<float>(), grads.dgamma.data<float>()}, device);
}

}  // namespace cudl::cuda
