#include "eval/score.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/check.h"

namespace cudl {

namespace {

// Rows [begin, begin + part.size(0)) of `whole` from `part`; both float32 host.
void copy_rows(Tensor& whole, std::int64_t begin, const Tensor& part) {
  std::memcpy(whole.data<float>() + begin * whole.size(1), part.data<float>(), part.nbytes());
}

}  // namespace

ClassifierOutputs classify_in_batches(const Tensor& images, const ClassifierFn& classifier, std::int64_t batch_size) {
  check_float("classify_in_batches", "images", images);
  CUDL_CHECK(images.dim() >= 2 && images.size(0) >= 1, "classify_in_batches: expected images [N, ...] with N >= 1, got ",
             images.str());
  CUDL_CHECK(batch_size >= 1, "classify_in_batches: expected batch_size >= 1, got ", batch_size);
  const std::int64_t n = images.size(0);
  ClassifierOutputs out;
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    const std::int64_t end = std::min(n, begin + batch_size);
    Tensor features, probabilities;
    classifier(images.slice(begin, end), features, probabilities);
    for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"features", &features},
                                  std::pair<const char*, const Tensor*>{"probabilities", &probabilities}}) {
      check_float("classify_in_batches", name, *t);
      CUDL_CHECK(t->dim() == 2 && t->size(0) == end - begin && !t->is_cuda(), "classify_in_batches: expected ", name,
                 " [", end - begin, ", K] on the host for images [", begin, ", ", end, "), got ", t->str());
    }
    if (begin == 0) {
      out.features = Tensor::empty({n, features.size(1)});
      out.probabilities = Tensor::empty({n, probabilities.size(1)});
    }
    CUDL_CHECK(features.size(1) == out.features.size(1) && probabilities.size(1) == out.probabilities.size(1),
               "classify_in_batches: the classifier changed its output widths at image ", begin, ": ", features.str(),
               ", ", probabilities.str());
    copy_rows(out.features, begin, features);
    copy_rows(out.probabilities, begin, probabilities);
  }
  return out;
}

SampleScore score_outputs(const ClassifierOutputs& outputs, const GaussianStats& reference, std::int64_t splits) {
  SampleScore score;
  score.count = outputs.probabilities.size(0);
  score.fid = frechet_distance(gaussian_stats(outputs.features), reference);
  score.inception = inception_score(outputs.probabilities, std::min(splits, score.count));
  score.labels = predicted_labels(outputs.probabilities);
  score.label_histogram.assign(static_cast<std::size_t>(outputs.probabilities.size(1)), 0);
  for (std::int64_t label : score.labels) ++score.label_histogram[label];
  return score;
}

std::string format_score_report(const SampleScore& score, const std::vector<std::string>& class_names) {
  char line[256];
  std::string out;
  std::snprintf(line, sizeof line, "samples: %lld\nFID (classifier features): %.4f  (mean term %.4f, trace term %.4f)\n",
                static_cast<long long>(score.count), score.fid.distance, score.fid.mean_term, score.fid.trace_term);
  out += line;
  if (score.fid.clamped_eigenvalues > 0) {
    std::snprintf(line, sizeof line,
                  "  %lld covariance eigenvalues at the rounding floor set to 0 (most negative %.3g of the "
                  "largest): fewer samples than features, or features that never vary\n",
                  static_cast<long long>(score.fid.clamped_eigenvalues), score.fid.most_negative_relative);
    out += line;
  }
  std::snprintf(line, sizeof line, "IS (classifier probabilities): %.4f +- %.4f\nlabels:\n", score.inception.mean,
                score.inception.std);
  out += line;
  std::size_t width = 5;
  for (const auto& n : class_names) width = std::max(width, n.size());
  for (std::size_t c = 0; c < score.label_histogram.size(); ++c) {
    const std::string name = c < class_names.size() ? class_names[c] : std::to_string(c);
    std::snprintf(line, sizeof line, "  %2zu %-*s %7lld  %5.1f%%\n", c, static_cast<int>(width), name.c_str(),
                  static_cast<long long>(score.label_histogram[c]),
                  100.0 * label_fraction(score.label_histogram, static_cast<std::int64_t>(c)));
    out += line;
  }
  return out;
}

}  // namespace cudl
