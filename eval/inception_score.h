// Scores of generated samples from a classifier's class probabilities: the
// Inception Score (Salimans et al. 2016) computed on our own classifier, and the
// histogram of predicted labels, where mode collapse shows as empty classes.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace cudl {

struct InceptionScore {
  double mean = 0;  // over the splits
  double std = 0;   // population std over the splits (numpy.std), 0 for one split
};

// probabilities: float32 [N, C] on the host, rows summing to 1 (checked to
// 1e-3). The N rows are cut into `splits` consecutive parts (sizes differ by at
// most one); each part scores exp(mean_x KL(p(y|x) || p(y))) with p(y) that
// part's mean row, computed in double. 0 log 0 counts as 0. IS is 1 when every
// sample gets the same distribution and C when each part is confident and
// spread evenly over the classes.
InceptionScore inception_score(const Tensor& probabilities, std::int64_t splits = 10);

// The argmax of each row (the first on ties): the classifier's label of each sample.
std::vector<std::int64_t> predicted_labels(const Tensor& probabilities);

// counts[c] = number of rows whose argmax is c (the first on ties), c < C.
std::vector<std::int64_t> label_histogram(const Tensor& probabilities);

// counts[label] / sum(counts): the fraction of samples labelled `label`, as in
// "the classifier labels the asked class in >= 70% of the samples".
double label_fraction(const std::vector<std::int64_t>& counts, std::int64_t label);

// The fraction of samples whose predicted label is the one asked for: a
// class-conditional generator's accuracy. The two lists have one entry per sample.
double asked_label_accuracy(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& asked);

}  // namespace cudl
