#include "kernels/cpu/normalization.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace cudl::cpu {

namespace {
// x seen as [N, C, S].
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
}  // namespace

// ---- batch norm ----

void batch_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved) {
  const auto [n, c_count, s] = layout_of(x);
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
  const auto [n, c_count, s] = layout_of(x);
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
  const auto [n, c_count, s] = layout_of(x);
  const float *px = x.data<float>(), *pg = gamma.data<float>(), *pb = beta.data<float>();
  float *out = saved.out.data<float>(), *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  const std::int64_t plane = c_count * s;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < c_count; ++c) {
    double mean, inv_std;
    if (training) {
      const double shift = px[c * s];
      double sum = 0, sum_sq = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        const float* row = px + i * plane + c * s;
        for (std::int64_t j = 0; j < s; ++j) {
          const double d = row[j] - shift;
          sum += d;
          sum_sq += d * d;
        }
      }
      const Moments mo = moments_from_shifted_sums(sum, sum_sq, shift, n * s);
      mean = mo.mean;
      inv_std = 1.0 / std::sqrt(mo.var + eps);
      if (running_mean)
        update_running(running_mean->data<float>()[c], running_var->data<float>()[c], mo.mean, mo.var, n * s, momentum);
    } else {
      mean = running_mean->data<float>()[c];
      inv_std = 1.0 / std::sqrt(double(running_var->data<float>()[c]) + eps);
    }
    pmean[c] = static_cast<float>(mean);
    pinv[c] = static_cast<float>(inv_std);
    // (x - mean) first: folding mean into the offset would cancel catastrophically
    // when inv_std is large (near-constant channels).
    const float mean_f = pmean[c], scale = static_cast<float>(pg[c] * inv_std), offset = pb[c];
    for (std::int64_t i = 0; i < n; ++i) {
      const float* row = px + i * plane + c * s;
      float* orow = out + i * plane + c * s;
      for (std::int64_t j = 0; j < s; ++j) orow[j] = (row[j] - mean_f) * scale + offset;
    }
  }
}

void batch_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads) {
  const auto [n, c_count, s] = layout_of(x);
  const float *px = x.data<float>(), *pdy = dout.data<float>(), *pg = gamma.data<float>();
  const float *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  float *dx = grads.dx.data<float>(), *dgamma = grads.dgamma.data<float>(), *dbeta = grads.dbeta.data<float>();
  const std::int64_t plane = c_count * s, m = n * s;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < c_count; ++c) {
    const float mean = pmean[c], inv_std = pinv[c];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t base = i * plane + c * s;
      for (std::int64_t j = 0; j < s; ++j) {
        sum_dy += pdy[base + j];
        sum_dy_xhat += double(pdy[base + j]) * ((px[base + j] - mean) * inv_std);
      }
    }
    dbeta[c] = static_cast<float>(sum_dy);
    dgamma[c] = static_cast<float>(sum_dy_xhat);
    // Training: dx = k * (dy - mean(dy) - xhat * mean(dy*xhat)); eval: dx = k * dy.
    const float k = pg[c] * inv_std;
    const float mean_dy = training ? static_cast<float>(sum_dy / m) : 0.0f;
    const float mean_dy_xhat = training ? static_cast<float>(sum_dy_xhat / m) : 0.0f;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t base = i * plane + c * s;
      for (std::int64_t j = 0; j < s; ++j) {
        const float xhat = (px[base + j] - mean) * inv_std;
        dx[base + j] = k * (pdy[base + j] - mean_dy - xhat * mean_dy_xhat);
      }
    }
  }
}

// ---- group norm (and layer norm as one group of a [rows, D, 1] view) ----

void group_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved) {
  const auto [n, c_count, s] = layout_of(x);
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
  const auto [n, c_count, s] = layout_of(x);
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

void group_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved) {
  const auto [n, c_count, s] = layout_of(x);
  const std::int64_t group_channels = c_count / groups, m = group_channels * s;
  const float *px = x.data<float>(), *pg = gamma.data<float>(), *pb = beta.data<float>();
  float *out = saved.out.data<float>(), *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t seg = 0; seg < n * groups; ++seg) {
    const float* xs = px + seg * m;
    const double shift = xs[0];
    double sum = 0, sum_sq = 0;
    for (std::int64_t k = 0; k < m; ++k) {
      const double d = xs[k] - shift;
      sum += d;
      sum_sq += d * d;
    }
    const Moments mo = moments_from_shifted_sums(sum, sum_sq, shift, m);
    const double inv_std = 1.0 / std::sqrt(mo.var + eps);
    pmean[seg] = static_cast<float>(mo.mean);
    pinv[seg] = static_cast<float>(inv_std);
    float* os = out + seg * m;
    const std::int64_t first_channel = (seg % groups) * group_channels;
    const float mean = pmean[seg];
    for (std::int64_t cg = 0; cg < group_channels; ++cg) {
      const std::int64_t c = first_channel + cg;
      const float scale = static_cast<float>(pg[c] * inv_std), offset = pb[c];
      for (std::int64_t j = cg * s; j < (cg + 1) * s; ++j) os[j] = (xs[j] - mean) * scale + offset;
    }
  }
}

void group_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads) {
  const auto [n, c_count, s] = layout_of(x);
  const std::int64_t group_channels = c_count / groups, m = group_channels * s;
  const float *px = x.data<float>(), *pdy = dout.data<float>(), *pg = gamma.data<float>();
  const float *pmean = saved.mean.data<float>(), *pinv = saved.inv_std.data<float>();
  float* dx = grads.dx.data<float>();
  const int threads = omp_get_max_threads();
  // Per-thread dgamma and dbeta (interleaved), summed in thread order afterwards.
  std::vector<double> partial(static_cast<size_t>(threads) * 2 * c_count, 0.0);
#pragma omp parallel num_threads(threads)
  {
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * 2 * c_count;
#pragma omp for schedule(static)
    for (std::int64_t seg = 0; seg < n * groups; ++seg) {
      const float *xs = px + seg * m, *dys = pdy + seg * m;
      const float mean = pmean[seg], inv_std = pinv[seg];
      const std::int64_t first_channel = (seg % groups) * group_channels;
      double sum_dxhat = 0, sum_dxhat_xhat = 0;
      for (std::int64_t cg = 0; cg < group_channels; ++cg) {
        const std::int64_t c = first_channel + cg;
        double dg = 0, db = 0;
        for (std::int64_t j = cg * s; j < (cg + 1) * s; ++j) {
          const float xhat = (xs[j] - mean) * inv_std;
          db += dys[j];
          dg += double(dys[j]) * xhat;
        }
        mine[2 * c] += dg;
        mine[2 * c + 1] += db;
        sum_dxhat += pg[c] * db;
        sum_dxhat_xhat += pg[c] * dg;
      }
      const float mean_dxhat = static_cast<float>(sum_dxhat / m);
      const float mean_dxhat_xhat = static_cast<float>(sum_dxhat_xhat / m);
      float* dxs = dx + seg * m;
      for (std::int64_t cg = 0; cg < group_channels; ++cg) {
        const float gamma_c = pg[first_channel + cg];
        for (std::int64_t j = cg * s; j < (cg + 1) * s; ++j) {
          const float xhat = (xs[j] - mean) * inv_std;
          dxs[j] = inv_std * (gamma_c * dys[j] - mean_dxhat - xhat * mean_dxhat_xhat);
        }
      }
    }
  }
  float *dgamma = grads.dgamma.data<float>(), *dbeta = grads.dbeta.data<float>();
  for (std::int64_t c = 0; c < c_count; ++c) {
    double dg = 0, db = 0;
    for (int t = 0; t < threads; ++t) {
      dg += partial[(static_cast<size_t>(t) * c_count + c) * 2];
      db += partial[(static_cast<size_t>(t) * c_count + c) * 2 + 1];
    }
    dgamma[c] = static_cast<float>(dg);
    dbeta[c] = static_cast<float>(db);
  }
}

}  // namespace cudl::cpu
