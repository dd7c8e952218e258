#include "kernels/cpu/normalization.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

namespace {
// x seen as [N, C, S].
// Read into named variables, not a structured binding: clang cannot capture
// bindings in OpenMP regions (the libFuzzer build, tests/fuzz).
struct Layout {
  std::int64_t n, c, s;
};
Layout layout_of(const Tensor& x) {
  const std::int64_t n = x.size(0), c = x.size(1);
  return {n, c, x.numel() / (n * c)};
}

// ---- the naive computation graph, shared by all three ops ----
// A normalisation set: `size` elements of x at offset(k), each scaled by gamma[channel(k)].
template <class Offset, class Channel>
struct NormSet {
  std::int64_t size;
  Offset offset;
  Channel channel;
};
template <class Offset, class Channel>
NormSet<Offset, Channel> norm_set(std::int64_t size, Offset offset, Channel channel) {
  return {size, offset, channel};
}

// The forward graph's cache (CS231n's batchnorm_forward cache).
struct Graph {
  std::vector<double> xmu, xhat;
  double mu = 0, var = 0, sqrtvar = 0, ivar = 0;
};

// mu -> xmu -> sq -> var -> sqrtvar -> ivar -> xhat, one node at a time.
template <class Set>
Graph batch_statistics_graph(const float* x, const Set& set, double eps) {
  Graph g;
  const std::int64_t m = set.size;
  for (std::int64_t k = 0; k < m; ++k) g.mu += x[set.offset(k)];
  g.mu /= m;
  g.xmu.resize(m);
  for (std::int64_t k = 0; k < m; ++k) g.xmu[k] = x[set.offset(k)] - g.mu;
  std::vector<double> sq(m);
  for (std::int64_t k = 0; k < m; ++k) sq[k] = g.xmu[k] * g.xmu[k];
  for (std::int64_t k = 0; k < m; ++k) g.var += sq[k];
  g.var /= m;
  g.sqrtvar = std::sqrt(g.var + eps);
  g.ivar = 1.0 / g.sqrtvar;
  g.xhat.resize(m);
  for (std::int64_t k = 0; k < m; ++k) g.xhat[k] = g.xmu[k] * g.ivar;
  return g;
}

// The same graph with mean and 1/std given (batch norm in eval mode).
template <class Set>
Graph fixed_statistics_graph(const float* x, const Set& set, double mean, double ivar) {
  Graph g;
  g.mu = mean;
  g.ivar = ivar;
  g.xmu.resize(set.size);
  g.xhat.resize(set.size);
  for (std::int64_t k = 0; k < set.size; ++k) {
    g.xmu[k] = x[set.offset(k)] - mean;
    g.xhat[k] = g.xmu[k] * ivar;
  }
  return g;
}

// The graph replayed for backward's cache, with 1/std from the forward's saved
// result (backward is not given eps).
template <class Set>
Graph replayed_graph(const float* x, const Set& set, double ivar) {
  Graph g = batch_statistics_graph(x, set, 0.0);
  g.ivar = ivar;
  g.sqrtvar = 1.0 / ivar;
  for (std::int64_t k = 0; k < set.size; ++k) g.xhat[k] = g.xmu[k] * ivar;
  return g;
}

template <class Set>
void affine_node(const Graph& g, const Set& set, const float* gamma, const float* beta, float* out) {
  for (std::int64_t k = 0; k < set.size; ++k) {
    const std::int64_t c = set.channel(k);
    out[set.offset(k)] = static_cast<float>(gamma[c] * g.xhat[k] + beta[c]);
  }
}

// Backpropagates through every node of the graph, accumulating dgamma and dbeta.
// With fixed statistics, xhat depends on x only through xmu.
template <class Set>
void backward_graph(const Graph& g, const Set& set, const float* dout, const float* gamma, bool batch_statistics,
                    float* dx, std::vector<double>& dgamma, std::vector<double>& dbeta) {
  const std::int64_t m = set.size;
  std::vector<double> dxhat(m);
  for (std::int64_t k = 0; k < m; ++k) {
    const std::int64_t c = set.channel(k);
    const double dy = dout[set.offset(k)];
    dbeta[c] += dy;
    dgamma[c] += dy * g.xhat[k];
    dxhat[k] = dy * gamma[c];
  }
  if (!batch_statistics) {
    for (std::int64_t k = 0; k < m; ++k) dx[set.offset(k)] = static_cast<float>(dxhat[k] * g.ivar);
    return;
  }
  double divar = 0;
  for (std::int64_t k = 0; k < m; ++k) divar += dxhat[k] * g.xmu[k];
  std::vector<double> dxmu(m);
  for (std::int64_t k = 0; k < m; ++k) dxmu[k] = dxhat[k] * g.ivar;  // xhat = xmu * ivar
  const double dsqrtvar = -divar / (g.sqrtvar * g.sqrtvar);         // ivar = 1 / sqrtvar
  const double dvar = 0.5 / g.sqrtvar * dsqrtvar;                    // sqrtvar = sqrt(var + eps)
  const double dsq = dvar / m;                                        // var = mean(sq)
  for (std::int64_t k = 0; k < m; ++k) dxmu[k] += 2.0 * g.xmu[k] * dsq;  // sq = xmu^2
  double dmu = 0;
  for (std::int64_t k = 0; k < m; ++k) dmu -= dxmu[k];                // xmu = x - mu
  for (std::int64_t k = 0; k < m; ++k) dx[set.offset(k)] = static_cast<float>(dxmu[k] + dmu / m);  // mu = mean(x)
}

void store(Tensor& t, const std::vector<double>& values) {
  float* p = t.data<float>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<float>(values[i]);
}

// PyTorch's running-statistics update: the unbiased batch variance goes into running_var.
void update_running(float& running_mean, float& running_var, double mean, double biased_var, std::int64_t count,
                    float momentum) {
  const double unbiased = biased_var * count / static_cast<double>(count - 1);
  running_mean = static_cast<float>((1.0 - momentum) * running_mean + momentum * mean);
  running_var = static_cast<float>((1.0 - momentum) * running_var + momentum * unbiased);
}

// Mean and biased variance of m values, from sums of (x - shift) in double; the
// shift (any sample) keeps the sums small when the mean is large against the spread.
struct Moments {
  double mean, var;
};
Moments moments_from_shifted_sums(double sum, double sum_sq, double shift, std::int64_t m) {
  const double shifted_mean = sum / m;
  return {shift + shifted_mean, std::max(sum_sq / m - shifted_mean * shifted_mean, 0.0)};
}

// Batch statistics of channel c from its shifted sums (updating the running
// statistics), or the running statistics themselves in eval mode.
struct ChannelStatistics {
  double mean, inv_std;
};
ChannelStatistics channel_statistics(std::int64_t c, bool training, double sum, double sum_sq, double shift,
                                     std::int64_t m, Tensor* running_mean, Tensor* running_var, float momentum,
                                     float eps) {
  if (!training)
    return {running_mean->data<float>()[c], 1.0 / std::sqrt(double(running_var->data<float>()[c]) + eps)};
  const Moments mo = moments_from_shifted_sums(sum, sum_sq, shift, m);
  if (running_mean)
    update_running(running_mean->data<float>()[c], running_var->data<float>()[c], mo.mean, mo.var, m, momentum);
  return {mo.mean, 1.0 / std::sqrt(mo.var + eps)};
}

// Batch norm with little spatial extent (s == 1 for 2-D input) walks x row by row:
// a per-channel walk would stride through memory by c * s floats.
constexpr std::int64_t kRowwiseMaxSpatial = 16;

// Column sums of `kinds` quantities over the rows of an [n, width] matrix:
// add_row(i, acc) adds row i's value of quantity q at column p into acc[q * width + p].
// Each thread adds its block of rows into its own partials, which are then combined
// in thread order (deterministic for a given thread count). Returns the sums laid
// out as acc.
template <class AddRow>
std::vector<double> column_sums(std::int64_t n, std::int64_t width, int kinds, AddRow add_row) {
  const int threads = n * width >= kParallelMin ? omp_get_max_threads() : 1;
  const std::size_t size = static_cast<std::size_t>(kinds * width);
  std::vector<double> partial(static_cast<size_t>(threads) * size, 0.0);
#pragma omp parallel num_threads(threads)
  {
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * size;
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) add_row(i, mine);
  }
  std::vector<double> sums(size, 0.0);
  for (int t = 0; t < threads; ++t)
    for (std::size_t k = 0; k < size; ++k) sums[k] += partial[static_cast<size_t>(t) * size + k];
  return sums;
}

// A mean kept as float hi + lo. x - hi is exact when x is within a factor of two of
// hi (Sterbenz), so (x - hi) - lo keeps the digits that x - float(mean) loses when
// the spread is small against the mean: for inputs 2.0 +- 0.004, float(mean) is off
// by up to 1.2e-7, 3e-5 of the spread, and every normalised value with it.
struct SplitMean {
  float hi = 0, lo = 0;
  static SplitMean of(double mean) {
    const float hi = static_cast<float>(mean);
    return {hi, static_cast<float>(mean - hi)};
  }
  float centre(float x) const { return (x - hi) - lo; }
};

// Sums of the s consecutive entries of channel c.
double channel_total(const std::vector<double>& v, std::int64_t c, std::int64_t s) {
  double total = 0;
  for (std::int64_t j = 0; j < s; ++j) total += v[c * s + j];
  return total;
}

void batch_norm_forward_rowwise(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                                Tensor* running_var, bool training, float momentum, float eps, NormForward& saved) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  const std::int64_t plane = c_count * s;
  const float *px = x.data<float>(), *pg = gamma.data<float>(), *pb = beta.data<float>();
  float *out = saved.out.data<float>(), *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  std::vector<double> shift(plane);  // channel c's first sample, at every position of c
  for (std::int64_t p = 0; p < plane; ++p) shift[p] = px[(p / s) * s];
  // sums[p]: sum of (x - shift), sums[plane + p]: of its square.
  const std::vector<double> sums =
      training ? column_sums(n, plane, 2,
                             [&](std::int64_t i, double* acc) {
                               const float* row = px + i * plane;
                               for (std::int64_t p = 0; p < plane; ++p) {
                                 const double d = row[p] - shift[p];
                                 acc[p] += d;
                                 acc[plane + p] += d * d;
                               }
                             })
               : std::vector<double>(2 * plane, 0.0);
  const std::vector<double> sum(sums.begin(), sums.begin() + plane), sum_sq(sums.begin() + plane, sums.end());
  // Per-position mean, scale and offset, so the normalising pass is one flat loop.
  std::vector<float> mean_hi(plane), mean_lo(plane), scale(plane), offset(plane);
  for (std::int64_t c = 0; c < c_count; ++c) {
    const double sc = channel_total(sum, c, s), sq = channel_total(sum_sq, c, s);
    const ChannelStatistics st =
        channel_statistics(c, training, sc, sq, shift[c * s], n * s, running_mean, running_var, momentum, eps);
    const SplitMean mean = SplitMean::of(st.mean);
    pmean[c] = mean.hi;
    pinv[c] = static_cast<float>(st.inv_std);
    for (std::int64_t p = c * s; p < (c + 1) * s; ++p) {
      mean_hi[p] = mean.hi;
      mean_lo[p] = mean.lo;
      scale[p] = static_cast<float>(pg[c] * st.inv_std);
      offset[p] = pb[c];
    }
  }
  // (x - mean) first: folding mean into the offset would cancel catastrophically
  // when inv_std is large (near-constant channels).
#pragma omp parallel for schedule(static) if (n * plane >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) {
    const float* row = px + i * plane;
    float* orow = out + i * plane;
    for (std::int64_t p = 0; p < plane; ++p) orow[p] = ((row[p] - mean_hi[p]) - mean_lo[p]) * scale[p] + offset[p];
  }
}

void batch_norm_backward_rowwise(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                                 bool training, NormGrads& grads) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  const std::int64_t plane = c_count * s, m = n * s;
  const float *px = x.data<float>(), *pdy = dout.data<float>(), *pg = gamma.data<float>();
  const float *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  float *dx = grads.dx.data<float>(), *dgamma = grads.dgamma.data<float>(), *dbeta = grads.dbeta.data<float>();
  std::vector<float> mean_hi(plane);
  for (std::int64_t p = 0; p < plane; ++p) mean_hi[p] = pmean[p / s];
  // In one pass: sum dy, sum dy (x - hi), sum (x - hi), whose mean is the saved
  // mean's lost low part (training; in eval the mean is running_mean, exact).
  const std::vector<double> sums = column_sums(n, plane, 3, [&](std::int64_t i, double* acc) {
    const float *row = px + i * plane, *dy = pdy + i * plane;
    for (std::int64_t p = 0; p < plane; ++p) {
      const float centred = row[p] - mean_hi[p];
      acc[p] += dy[p];
      acc[plane + p] += double(dy[p]) * centred;
      acc[2 * plane + p] += centred;
    }
  });
  // Training: dx = k * (dy - mean(dy) - xhat * mean(dy*xhat)); eval: dx = k * dy.
  std::vector<float> mean_lo(plane), inv_std(plane), k(plane), mean_dy(plane), mean_dy_xhat(plane);
  for (std::int64_t c = 0; c < c_count; ++c) {
    const double db = channel_total(sums, c, s), dy_centred = channel_total(sums, c_count + c, s);
    const double lo = training ? channel_total(sums, 2 * c_count + c, s) / m : 0.0;
    const double dg = (dy_centred - lo * db) * pinv[c];
    dbeta[c] = static_cast<float>(db);
    dgamma[c] = static_cast<float>(dg);
    for (std::int64_t p = c * s; p < (c + 1) * s; ++p) {
      mean_lo[p] = static_cast<float>(lo);
      inv_std[p] = pinv[c];
      k[p] = pg[c] * pinv[c];
      mean_dy[p] = training ? static_cast<float>(db / m) : 0.0f;
      mean_dy_xhat[p] = training ? static_cast<float>(dg / m) : 0.0f;
    }
  }
#pragma omp parallel for schedule(static) if (n * plane >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) {
    const float *row = px + i * plane, *dy = pdy + i * plane;
    float* dxrow = dx + i * plane;
    for (std::int64_t p = 0; p < plane; ++p) {
      const float xhat = ((row[p] - mean_hi[p]) - mean_lo[p]) * inv_std[p];
      dxrow[p] = k[p] * (dy[p] - mean_dy[p] - xhat * mean_dy_xhat[p]);
    }
  }
}
}  // namespace

// ---- batch norm ----

void batch_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  const float* px = x.data<float>();
  float* out = saved.out.data<float>();
  std::vector<double> mean(c_count), inv_std(c_count);
  for (std::int64_t c = 0; c < c_count; ++c) {
    auto set = norm_set(
        n * s, [&](std::int64_t k) { return (k / s) * c_count * s + c * s + k % s; },
        [c](std::int64_t) { return c; });
    Graph g;
    if (training) {
      g = batch_statistics_graph(px, set, eps);
      if (running_mean)
        update_running(running_mean->data<float>()[c], running_var->data<float>()[c], g.mu, g.var, n * s, momentum);
    } else {
      g = fixed_statistics_graph(px, set, running_mean->data<float>()[c],
                                 1.0 / std::sqrt(double(running_var->data<float>()[c]) + eps));
    }
    affine_node(g, set, gamma.data<float>(), beta.data<float>(), out);
    mean[c] = g.mu;
    inv_std[c] = g.ivar;
  }
  store(saved.mean, mean);
  store(saved.inv_std, inv_std);
}

void batch_norm_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  const float *px = x.data<float>(), *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  std::vector<double> dgamma(c_count), dbeta(c_count);
  for (std::int64_t c = 0; c < c_count; ++c) {
    auto set = norm_set(
        n * s, [&](std::int64_t k) { return (k / s) * c_count * s + c * s + k % s; },
        [c](std::int64_t) { return c; });
    const Graph g = training ? replayed_graph(px, set, pinv[c]) : fixed_statistics_graph(px, set, pmean[c], pinv[c]);
    backward_graph(g, set, dout.data<float>(), gamma.data<float>(), training, grads.dx.data<float>(), dgamma, dbeta);
  }
  store(grads.dgamma, dgamma);
  store(grads.dbeta, dbeta);
}

void batch_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  if (s < kRowwiseMaxSpatial)
    return batch_norm_forward_rowwise(x, gamma, beta, running_mean, running_var, training, momentum, eps, saved);
  const float *px = x.data<float>(), *pg = gamma.data<float>(), *pb = beta.data<float>();
  float *out = saved.out.data<float>(), *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  const std::int64_t plane = c_count * s;
#pragma omp parallel for schedule(static) if (n * plane >= kParallelMin)
  for (std::int64_t c = 0; c < c_count; ++c) {
    const double shift = px[c * s];
    double sum = 0, sum_sq = 0;
    if (training)
      for (std::int64_t i = 0; i < n; ++i) {
        const float* row = px + i * plane + c * s;
#pragma omp simd reduction(+ : sum, sum_sq)
        for (std::int64_t j = 0; j < s; ++j) {
          const double d = row[j] - shift;
          sum += d;
          sum_sq += d * d;
        }
      }
    const ChannelStatistics st =
        channel_statistics(c, training, sum, sum_sq, shift, n * s, running_mean, running_var, momentum, eps);
    const SplitMean mean = SplitMean::of(st.mean);
    pmean[c] = mean.hi;
    pinv[c] = static_cast<float>(st.inv_std);
    // (x - mean) first: folding mean into the offset would cancel catastrophically
    // when inv_std is large (near-constant channels).
    const float scale = static_cast<float>(pg[c] * st.inv_std), offset = pb[c];
    for (std::int64_t i = 0; i < n; ++i) {
      const float* row = px + i * plane + c * s;
      float* orow = out + i * plane + c * s;
      for (std::int64_t j = 0; j < s; ++j) orow[j] = mean.centre(row[j]) * scale + offset;
    }
  }
}

void batch_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  if (s < kRowwiseMaxSpatial) return batch_norm_backward_rowwise(dout, x, gamma, saved, training, grads);
  const float *px = x.data<float>(), *pdy = dout.data<float>(), *pg = gamma.data<float>();
  const float *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  float *dx = grads.dx.data<float>(), *dgamma = grads.dgamma.data<float>(), *dbeta = grads.dbeta.data<float>();
  const std::int64_t plane = c_count * s, m = n * s;
#pragma omp parallel for schedule(static) if (n * plane >= kParallelMin)
  for (std::int64_t c = 0; c < c_count; ++c) {
    const float hi = pmean[c], inv_std = pinv[c];
    // As the row-wise backward: the saved mean's low part comes back as mean(x - hi).
    double sum_dy = 0, sum_dy_centred = 0, sum_centred = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t base = i * plane + c * s;
#pragma omp simd reduction(+ : sum_dy, sum_dy_centred, sum_centred)
      for (std::int64_t j = 0; j < s; ++j) {
        const float centred = px[base + j] - hi;
        sum_dy += pdy[base + j];
        sum_dy_centred += double(pdy[base + j]) * centred;
        sum_centred += centred;
      }
    }
    const SplitMean mean{hi, training ? static_cast<float>(sum_centred / m) : 0.0f};
    const double sum_dy_xhat = (sum_dy_centred - double(mean.lo) * sum_dy) * inv_std;
    dbeta[c] = static_cast<float>(sum_dy);
    dgamma[c] = static_cast<float>(sum_dy_xhat);
    // Training: dx = k * (dy - mean(dy) - xhat * mean(dy*xhat)); eval: dx = k * dy.
    const float k = pg[c] * inv_std;
    const float mean_dy = training ? static_cast<float>(sum_dy / m) : 0.0f;
    const float mean_dy_xhat = training ? static_cast<float>(sum_dy_xhat / m) : 0.0f;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t base = i * plane + c * s;
      for (std::int64_t j = 0; j < s; ++j) {
        const float xhat = mean.centre(px[base + j]) * inv_std;
        dx[base + j] = k * (pdy[base + j] - mean_dy - xhat * mean_dy_xhat);
      }
    }
  }
}

// ---- group norm (and layer norm as one group of a [rows, D, 1] view) ----

void group_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  const std::int64_t group_channels = c_count / groups, m = group_channels * s;
  const float* px = x.data<float>();
  std::vector<double> mean(n * groups), inv_std(n * groups);
  for (std::int64_t seg = 0; seg < n * groups; ++seg) {
    const std::int64_t first_channel = (seg % groups) * group_channels;
    auto set = norm_set(
        m, [&](std::int64_t k) { return seg * m + k; }, [&](std::int64_t k) { return first_channel + k / s; });
    const Graph g = batch_statistics_graph(px, set, eps);
    affine_node(g, set, gamma.data<float>(), beta.data<float>(), saved.out.data<float>());
    mean[seg] = g.mu;
    inv_std[seg] = g.ivar;
  }
  store(saved.mean, mean);
  store(saved.inv_std, inv_std);
}

void group_norm_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  const std::int64_t group_channels = c_count / groups, m = group_channels * s;
  const float *px = x.data<float>(), *pinv = saved.inv_std.data<float>();
  std::vector<double> dgamma(c_count), dbeta(c_count);
  for (std::int64_t seg = 0; seg < n * groups; ++seg) {
    const std::int64_t first_channel = (seg % groups) * group_channels;
    auto set = norm_set(
        m, [&](std::int64_t k) { return seg * m + k; }, [&](std::int64_t k) { return first_channel + k / s; });
    const Graph g = replayed_graph(px, set, pinv[seg]);
    backward_graph(g, set, dout.data<float>(), gamma.data<float>(), true, grads.dx.data<float>(), dgamma, dbeta);
  }
  store(grads.dgamma, dgamma);
  store(grads.dbeta, dbeta);
}

namespace {
// One segment (a sample's group) of the group norm forward and backward. With
// UnitSpatial (s == 1: layer norm, and group norm on [N, C] input) each channel is
// one element and the channel loops become flat, vectorisable loops.
template <bool UnitSpatial>
void group_norm_forward_segment(const float* xs, float* os, const float* gamma, const float* beta,
                                std::int64_t channels, std::int64_t spatial, float eps, float& mean_out,
                                float& inv_std_out) {
  const std::int64_t s = UnitSpatial ? 1 : spatial, m = channels * s;
  const double shift = xs[0];
  double sum = 0, sum_sq = 0;
#pragma omp simd reduction(+ : sum, sum_sq)
  for (std::int64_t k = 0; k < m; ++k) {
    const double d = xs[k] - shift;
    sum += d;
    sum_sq += d * d;
  }
  const Moments mo = moments_from_shifted_sums(sum, sum_sq, shift, m);
  const double inv_std = 1.0 / std::sqrt(mo.var + eps);
  const SplitMean mean = SplitMean::of(mo.mean);
  mean_out = mean.hi;
  inv_std_out = static_cast<float>(inv_std);
  for (std::int64_t c = 0; c < channels; ++c) {
    const float scale = static_cast<float>(gamma[c] * inv_std), offset = beta[c];
    for (std::int64_t j = c * s; j < (c + 1) * s; ++j) os[j] = mean.centre(xs[j]) * scale + offset;
  }
}

// Adds the segment's dgamma and dbeta into the thread's partials and writes dx.
template <bool UnitSpatial>
void group_norm_backward_segment(const float* xs, const float* dys, float* dxs, const float* gamma,
                                 std::int64_t channels, std::int64_t spatial, float mean_hi, float inv_std,
                                 double* dgamma, double* dbeta) {
  const std::int64_t s = UnitSpatial ? 1 : spatial, m = channels * s;
  // The saved mean's low part, lost to float, comes back as mean(x - hi).
  double sum_centred = 0;
#pragma omp simd reduction(+ : sum_centred)
  for (std::int64_t k = 0; k < m; ++k) sum_centred += xs[k] - mean_hi;
  const SplitMean mean{mean_hi, static_cast<float>(sum_centred / m)};
  double sum_dxhat = 0, sum_dxhat_xhat = 0;
  for (std::int64_t c = 0; c < channels; ++c) {
    double dg = 0, db = 0;
    for (std::int64_t j = c * s; j < (c + 1) * s; ++j) {
      const float xhat = mean.centre(xs[j]) * inv_std;
      db += dys[j];
      dg += double(dys[j]) * xhat;
    }
    dgamma[c] += dg;
    dbeta[c] += db;
    sum_dxhat += gamma[c] * db;
    sum_dxhat_xhat += gamma[c] * dg;
  }
  const float mean_dxhat = static_cast<float>(sum_dxhat / m);
  const float mean_dxhat_xhat = static_cast<float>(sum_dxhat_xhat / m);
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t j = c * s; j < (c + 1) * s; ++j) {
      const float xhat = mean.centre(xs[j]) * inv_std;
      dxs[j] = inv_std * (gamma[c] * dys[j] - mean_dxhat - xhat * mean_dxhat_xhat);
    }
}
}  // namespace

void group_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  const std::int64_t group_channels = c_count / groups, m = group_channels * s;
  const float *px = x.data<float>(), *pg = gamma.data<float>(), *pb = beta.data<float>();
  float *out = saved.out.data<float>(), *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  const auto segment = s == 1 ? group_norm_forward_segment<true> : group_norm_forward_segment<false>;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
  for (std::int64_t seg = 0; seg < n * groups; ++seg) {
    const std::int64_t first_channel = (seg % groups) * group_channels;
    segment(px + seg * m, out + seg * m, pg + first_channel, pb + first_channel, group_channels, s, eps, pmean[seg],
            pinv[seg]);
  }
}

void group_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads) {
  const Layout layout = layout_of(x);
  const std::int64_t n = layout.n, c_count = layout.c, s = layout.s;
  const std::int64_t group_channels = c_count / groups, m = group_channels * s;
  const float *px = x.data<float>(), *pdy = dout.data<float>(), *pg = gamma.data<float>();
  const float *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  float* dx = grads.dx.data<float>();
  const auto segment = s == 1 ? group_norm_backward_segment<true> : group_norm_backward_segment<false>;
  const int threads = x.numel() >= kParallelMin ? omp_get_max_threads() : 1;
  // Per-thread dgamma then dbeta, summed in thread order afterwards.
  std::vector<double> partial(static_cast<size_t>(threads) * 2 * c_count, 0.0);
#pragma omp parallel num_threads(threads)
  {
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * 2 * c_count;
#pragma omp for schedule(static)
    for (std::int64_t seg = 0; seg < n * groups; ++seg) {
      const std::int64_t first_channel = (seg % groups) * group_channels;
      segment(px + seg * m, pdy + seg * m, dx + seg * m, pg + first_channel, group_channels, s, pmean[seg], pinv[seg],
              mine + first_channel, mine + c_count + first_channel);
    }
  }
  float *dgamma = grads.dgamma.data<float>(), *dbeta = grads.dbeta.data<float>();
  for (std::int64_t c = 0; c < c_count; ++c) {
    double dg = 0, db = 0;
    for (int t = 0; t < threads; ++t) {
      dg += partial[static_cast<size_t>(t) * 2 * c_count + c];
      db += partial[static_cast<size_t>(t) * 2 * c_count + c_count + c];
    }
    dgamma[c] = static_cast<float>(dg);
    dbeta[c] = static_cast<float>(db);
  }
}

}  // namespace cudl::cpu
