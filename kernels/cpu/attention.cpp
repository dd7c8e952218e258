#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();

double dot(const float* a, const float* b, std::int64_t n) {
  double sum = 0.0;
  for (std::int64_t c = 0; c < n; ++c) sum += static_cast<double>(a[c]) * b[c];
  return sum;
}

// Query rows per block of the BLAS kernels: a [64, T] block of scores stays in L2
// up to T of a few thousand, and the GEMMs are still large enough to run at speed.
constexpr std::int64_t kQueryBlock = 64;

// Scores of query `i` over `keys` keys -> probabilities (0 where it does not
// attend); returns their log-sum-exp, +inf when it attends no key.
float masked_softmax_row(float* row, std::int64_t keys, const AttentionDims& d, std::int64_t i) {
  float max = -kInf;
  for (std::int64_t j = 0; j < keys; ++j) {
    if (!attends(d, i, j)) row[j] = -kInf;
    max = std::max(max, row[j]);
  }
  if (max == -kInf) {
    std::fill(row, row + keys, 0.0f);
    return kInf;
  }
  float sum = 0.0f;
  for (std::int64_t j = 0; j < keys; ++j) {
    row[j] = std::exp(row[j] - max);  // exp(-inf) = 0 for the hidden keys
    sum += row[j];
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (std::int64_t j = 0; j < keys; ++j) row[j] *= inv;
  return max + std::log(sum);
}

// Scaled scores of query `i` -> exp(score - lse), the forward's probabilities
// (0 where it does not attend, and everywhere when lse is +inf).
void probabilities_row(float* row, std::int64_t keys, const AttentionDims& d, std::int64_t i, float lse) {
  for (std::int64_t j = 0; j < keys; ++j) row[j] = attends(d, i, j) ? std::exp(row[j] - lse) : 0.0f;
}

// Independent GEMM chains go to OpenMP threads only when each GEMM would not
// start threads of its own and there is enough work to share.
bool split_over_threads(std::int64_t items, const AttentionDims& d) {
  return items > 1 && !gemm_blas_threads_nest() && d.batch_heads * d.s * d.t * d.dh >= kParallelMin;
}
}  // namespace

void attention_forward_naive(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out,
                             Tensor& lse) {
  const float *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>();
  float *po = out.data<float>(), *pl = lse.data<float>();
  std::vector<double> p(static_cast<std::size_t>(d.t));
  for (std::int64_t bh = 0; bh < d.batch_heads; ++bh) {
    const float *kb = pk + bh * d.t * d.dh, *vb = pv + bh * d.t * d.dh;
    for (std::int64_t i = 0; i < d.s; ++i) {
      const std::int64_t row = bh * d.s + i;
      double max = -INFINITY;
      for (std::int64_t j = 0; j < d.t; ++j) {
        p[j] = attends(d, i, j) ? d.scale * dot(pq + row * d.dh, kb + j * d.dh, d.dh) : -INFINITY;
        max = std::max(max, p[j]);
      }
      float* o = po + row * d.dh;
      if (max == -INFINITY) {
        std::fill(o, o + d.dh, 0.0f);
        pl[row] = kInf;
        continue;
      }
      double sum = 0.0;
      for (std::int64_t j = 0; j < d.t; ++j) sum += p[j] = std::exp(p[j] - max);
      for (std::int64_t c = 0; c < d.dh; ++c) {
        double acc = 0.0;
        for (std::int64_t j = 0; j < d.t; ++j) acc += p[j] * vb[j * d.dh + c];
        o[c] = static_cast<float>(acc / sum);
      }
      pl[row] = static_cast<float>(max + std::log(sum));
    }
  }
}

void attention_backward_naive(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& out, const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk,
                              Tensor& dv) {
  const float *pg = dout.data<float>(), *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>();
  const float *po = out.data<float>(), *pl = lse.data<float>();
  float *pdq = dq.data<float>(), *pdk = dk.data<float>(), *pdv = dv.data<float>();
  const std::size_t kv = static_cast<std::size_t>(d.t * d.dh);
  std::vector<double> dk_acc(kv), dv_acc(kv), dq_acc(static_cast<std::size_t>(d.dh));
  for (std::int64_t bh = 0; bh < d.batch_heads; ++bh) {
    const float *kb = pk + bh * d.t * d.dh, *vb = pv + bh * d.t * d.dh;
    std::fill(dk_acc.begin(), dk_acc.end(), 0.0);
    std::fill(dv_acc.begin(), dv_acc.end(), 0.0);
    for (std::int64_t i = 0; i < d.s; ++i) {
      const std::int64_t row = bh * d.s + i;
      const float *qi = pq + row * d.dh, *gi = pg + row * d.dh;
      // D_i = sum_j p_ij dp_ij, which equals dout_i . out_i.
      const double rowsum = dot(gi, po + row * d.dh, d.dh);
      std::fill(dq_acc.begin(), dq_acc.end(), 0.0);
      for (std::int64_t j = 0; j < d.t; ++j) {
        if (!attends(d, i, j)) continue;
        const float *kj = kb + j * d.dh, *vj = vb + j * d.dh;
        const double p = std::exp(d.scale * dot(qi, kj, d.dh) - static_cast<double>(pl[row]));
        const double ds = p * (dot(gi, vj, d.dh) - rowsum) * d.scale;
        for (std::int64_t c = 0; c < d.dh; ++c) {
          dv_acc[j * d.dh + c] += p * gi[c];
          dk_acc[j * d.dh + c] += ds * qi[c];
          dq_acc[c] += ds * kj[c];
        }
      }
      for (std::int64_t c = 0; c < d.dh; ++c) pdq[row * d.dh + c] = static_cast<float>(dq_acc[c]);
    }
    for (std::size_t e = 0; e < kv; ++e) {
      pdk[bh * d.t * d.dh + e] = static_cast<float>(dk_acc[e]);
      pdv[bh * d.t * d.dh + e] = static_cast<float>(dv_acc[e]);
    }
  }
}

// Each (sample-head, query block) is independent: scores = scale Q_b K^T, the
// masked softmax in place, out_b = P V. Causal blocks skip the keys past their
// last query, so their GEMMs shrink.
void attention_forward_blas(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out,
                            Tensor& lse) {
  const float *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>();
  float *po = out.data<float>(), *pl = lse.data<float>();
  const std::int64_t blocks = (d.s + kQueryBlock - 1) / kQueryBlock, items = d.batch_heads * blocks;
#pragma omp parallel if (split_over_threads(items, d))
  {
    std::vector<float> scores(static_cast<std::size_t>(kQueryBlock * d.t));
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t item = 0; item < items; ++item) {
      const std::int64_t bh = item / blocks, i0 = (item % blocks) * kQueryBlock;
      const std::int64_t rows = std::min(kQueryBlock, d.s - i0), keys = visible_keys(d, i0 + rows);
      const std::int64_t first = bh * d.s + i0;
      gemm_blas(false, true, rows, keys, d.dh, d.scale, pq + first * d.dh, d.dh, pk + bh * d.t * d.dh, d.dh, 0.0f,
                scores.data(), keys);
      for (std::int64_t r = 0; r < rows; ++r) pl[first + r] = masked_softmax_row(scores.data() + r * keys, keys, d, i0 + r);
      gemm_blas(false, false, rows, d.dh, keys, 1.0f, scores.data(), keys, pv + bh * d.t * d.dh, d.dh, 0.0f,
                po + first * d.dh, d.dh);
    }
  }
}

// FlashAttention-2's backward on the CPU, a query block at a time: P from the
// saved lse, dV += P^T dO, dP = dO V^T, dS = P (dP - D), dQ_b = scale dS K,
// dK += scale dS^T Q_b. dK and dV gather every query block of their head, so a
// thread owns whole sample-heads.
void attention_backward_blas(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& out, const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk,
                             Tensor& dv) {
  const float *pg = dout.data<float>(), *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>();
  const float *po = out.data<float>(), *pl = lse.data<float>();
  float *pdq = dq.data<float>(), *pdk = dk.data<float>(), *pdv = dv.data<float>();
  std::fill(pdk, pdk + dk.numel(), 0.0f);
  std::fill(pdv, pdv + dv.numel(), 0.0f);
#pragma omp parallel if (split_over_threads(d.batch_heads, d))
  {
    std::vector<float> p(static_cast<std::size_t>(kQueryBlock * d.t)), ds(p.size());
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t bh = 0; bh < d.batch_heads; ++bh) {
      const float *kb = pk + bh * d.t * d.dh, *vb = pv + bh * d.t * d.dh;
      float *dkb = pdk + bh * d.t * d.dh, *dvb = pdv + bh * d.t * d.dh;
      for (std::int64_t i0 = 0; i0 < d.s; i0 += kQueryBlock) {
        const std::int64_t rows = std::min(kQueryBlock, d.s - i0), keys = visible_keys(d, i0 + rows);
        const std::int64_t first = (bh * d.s + i0) * d.dh;
        const float *qb = pq + first, *gb = pg + first;
        gemm_blas(false, true, rows, keys, d.dh, d.scale, qb, d.dh, kb, d.dh, 0.0f, p.data(), keys);
        for (std::int64_t r = 0; r < rows; ++r)
          probabilities_row(p.data() + r * keys, keys, d, i0 + r, pl[bh * d.s + i0 + r]);
        gemm_blas(true, false, keys, d.dh, rows, 1.0f, p.data(), keys, gb, d.dh, 1.0f, dvb, d.dh);
        gemm_blas(false, true, rows, keys, d.dh, 1.0f, gb, d.dh, vb, d.dh, 0.0f, ds.data(), keys);
        for (std::int64_t r = 0; r < rows; ++r) {
          const float* gr = gb + r * d.dh;
          const float* orow = po + first + r * d.dh;
          float rowsum = 0.0f;
#pragma omp simd reduction(+ : rowsum)
          for (std::int64_t c = 0; c < d.dh; ++c) rowsum += gr[c] * orow[c];
          float* dsr = ds.data() + r * keys;
          const float* pr = p.data() + r * keys;
#pragma omp simd
          for (std::int64_t j = 0; j < keys; ++j) dsr[j] = pr[j] * (dsr[j] - rowsum);
        }
        gemm_blas(false, false, rows, d.dh, keys, d.scale, ds.data(), keys, kb, d.dh, 0.0f, pdq + first, d.dh);
        gemm_blas(true, false, keys, d.dh, rows, d.scale, ds.data(), keys, qb, d.dh, 1.0f, dkb, d.dh);
      }
    }
  }
}

}  // namespace cudl::cpu
