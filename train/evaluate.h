// Predictions, accuracy and the confusion matrix of a classifier.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/models.h"

namespace cudl {

// The argmax class of every sample, in dataset order, computed in eval mode on
// the model's device (the model's train/eval mode is restored afterwards).
std::vector<std::int64_t> predict(Model& model, const Dataset& data, std::int64_t batch_size = 500);

// Fraction of predictions equal to `labels` (int64 [N], host).
double accuracy(const std::vector<std::int64_t>& predictions, const Tensor& labels);

// counts[true][predicted].
std::vector<std::vector<std::int64_t>> confusion_matrix(const std::vector<std::int64_t>& predictions,
                                                        const Tensor& labels, std::int64_t num_classes);
// A table with one row per true class (named), one column per prediction, and
// each row's recall.
std::string format_confusion_matrix(const std::vector<std::vector<std::int64_t>>& counts,
                                    const std::vector<std::string>& class_names);

}  // namespace cudl
