#include "eval/inception_score.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace cudl {

namespace {

void check_probabilities(const char* op, const Tensor& p) {
  check_float(op, "probabilities", p);
  check_ndim(op, "probabilities", p, 2);
  CUDL_CHECK(!p.is_cuda(), op, ": expected probabilities on the host, got ", p.str());
  CUDL_CHECK(p.size(0) >= 1 && p.size(1) >= 1, op, ": expected at least one row and one class, got ", p.str());
  const std::int64_t n = p.size(0), c = p.size(1);
  const float* x = p.data<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (std::int64_t j = 0; j < c; ++j) {
      CUDL_CHECK(x[i * c + j] >= 0 && std::isfinite(x[i * c + j]), op, ": row ", i, " has entry ", x[i * c + j],
                 " at class ", j, ", expected a probability");
      sum += x[i * c + j];
    }
    CUDL_CHECK(std::abs(sum - 1) <= 1e-3, op, ": row ", i, " sums to ", sum, ", expected 1 (softmax outputs)");
  }
}

}  // namespace

InceptionScore inception_score(const Tensor& probabilities, std::int64_t splits) {
  check_probabilities("inception_score", probabilities);
  const std::int64_t n = probabilities.size(0), c = probabilities.size(1);
  CUDL_CHECK(splits >= 1 && splits <= n, "inception_score: expected 1 <= splits <= N = ", n, ", got ", splits);
  const float* p = probabilities.data<float>();
  std::vector<double> scores;
  for (std::int64_t s = 0; s < splits; ++s) {
    const std::int64_t begin = n * s / splits, end = n * (s + 1) / splits;
    std::vector<double> marginal(c, 0.0);
    for (std::int64_t i = begin; i < end; ++i)
      for (std::int64_t j = 0; j < c; ++j) marginal[j] += p[i * c + j];
    for (double& m : marginal) m /= static_cast<double>(end - begin);
    double kl = 0;
    for (std::int64_t i = begin; i < end; ++i)
      for (std::int64_t j = 0; j < c; ++j) {
        const double q = p[i * c + j];
        if (q > 0) kl += q * (std::log(q) - std::log(marginal[j]));  // q > 0 implies marginal > 0
      }
    scores.push_back(std::exp(kl / static_cast<double>(end - begin)));
  }
  InceptionScore result;
  for (double v : scores) result.mean += v;
  result.mean /= static_cast<double>(splits);
  for (double v : scores) result.std += (v - result.mean) * (v - result.mean);
  result.std = std::sqrt(result.std / static_cast<double>(splits));
  return result;
}

std::vector<std::int64_t> predicted_labels(const Tensor& probabilities) {
  check_float("predicted_labels", "probabilities", probabilities);
  check_ndim("predicted_labels", "probabilities", probabilities, 2);
  CUDL_CHECK(!probabilities.is_cuda(), "predicted_labels: expected probabilities on the host, got ",
             probabilities.str());
  const std::int64_t n = probabilities.size(0), c = probabilities.size(1);
  const float* p = probabilities.data<float>();
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) labels[i] = std::max_element(p + i * c, p + (i + 1) * c) - (p + i * c);
  return labels;
}

std::vector<std::int64_t> label_histogram(const Tensor& probabilities) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(probabilities.dim() == 2 ? probabilities.size(1) : 0), 0);
  for (std::int64_t label : predicted_labels(probabilities)) ++counts[label];
  return counts;
}

double label_fraction(const std::vector<std::int64_t>& counts, std::int64_t label) {
  CUDL_CHECK(label >= 0 && label < static_cast<std::int64_t>(counts.size()), "label_fraction: label ", label,
             " is outside the ", counts.size(), " classes");
  std::int64_t total = 0;
  for (std::int64_t k : counts) total += k;
  CUDL_CHECK(total > 0, "label_fraction: the histogram is empty");
  return static_cast<double>(counts[label]) / static_cast<double>(total);
}

double asked_label_accuracy(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& asked) {
  CUDL_CHECK(predicted.size() == asked.size() && !asked.empty(), "asked_label_accuracy: expected one asked label per "
             "sample, got ", asked.size(), " asked for ", predicted.size(), " samples");
  std::int64_t hits = 0;
  for (std::size_t i = 0; i < asked.size(); ++i) hits += predicted[i] == asked[i];
  return static_cast<double>(hits) / static_cast<double>(asked.size());
}

}  // namespace cudl
