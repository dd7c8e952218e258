#include "train/evaluate.h"

#include <algorithm>
#include <cstdio>

#include "autograd/var.h"
#include "core/check.h"
#include "data/loader.h"

namespace cudl {

std::vector<std::int64_t> predict(Model& model, const Dataset& data, std::int64_t batch_size) {
  const bool was_training = model.training();
  model.set_training(false);
  NoGradGuard no_grad;
  LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = false;
  options.device = model.device();
  DataLoader loader(data, options);
  std::vector<std::int64_t> predictions;
  predictions.reserve(static_cast<std::size_t>(data.size()));
  while (auto batch = loader.next()) {
    const Var scores = model.forward(Var(std::move(batch->images)));
    const std::vector<float> s = scores.value().to_vector();
    const std::int64_t classes = scores.size(1);
    for (std::int64_t i = 0; i < scores.size(0); ++i) {
      const float* row = s.data() + i * classes;
      predictions.push_back(std::max_element(row, row + classes) - row);
    }
  }
  model.set_training(was_training);
  return predictions;
}

double accuracy(const std::vector<std::int64_t>& predictions, const Tensor& labels) {
  CUDL_CHECK(static_cast<std::int64_t>(predictions.size()) == labels.numel(), "accuracy: ", predictions.size(),
             " predictions for ", labels.numel(), " labels");
  if (predictions.empty()) return 0.0;
  const std::int64_t* y = labels.data<std::int64_t>();
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < predictions.size(); ++i) correct += predictions[i] == y[i];
  return static_cast<double>(correct) / static_cast<double>(predictions.size());
}

std::vector<std::vector<std::int64_t>> confusion_matrix(const std::vector<std::int64_t>& predictions,
                                                        const Tensor& labels, std::int64_t num_classes) {
  CUDL_CHECK(static_cast<std::int64_t>(predictions.size()) == labels.numel(), "confusion_matrix: ",
             predictions.size(), " predictions for ", labels.numel(), " labels");
  std::vector<std::vector<std::int64_t>> counts(num_classes, std::vector<std::int64_t>(num_classes, 0));
  const std::int64_t* y = labels.data<std::int64_t>();
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    CUDL_CHECK(y[i] >= 0 && y[i] < num_classes && predictions[i] >= 0 && predictions[i] < num_classes,
               "confusion_matrix: class out of range at sample ", i);
    ++counts[y[i]][predictions[i]];
  }
  return counts;
}

std::string format_confusion_matrix(const std::vector<std::vector<std::int64_t>>& counts,
                                    const std::vector<std::string>& class_names) {
  std::size_t name_width = 4;
  for (const auto& n : class_names) name_width = std::max(name_width, n.size());
  std::string out;
  char cell[64];
  out += std::string(name_width, ' ') + " |";
  for (std::size_t j = 0; j < counts.size(); ++j) {
    std::snprintf(cell, sizeof cell, "%6zu", j);
    out += cell;
  }
  out += "  recall\n" + std::string(name_width + 2 + 6 * counts.size() + 8, '-') + "\n";
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const std::string name = i < class_names.size() ? class_names[i] : std::to_string(i);
    out += name + std::string(name_width - std::min(name_width, name.size()), ' ') + " |";
    std::int64_t total = 0;
    for (std::int64_t c : counts[i]) {
      std::snprintf(cell, sizeof cell, "%6lld", static_cast<long long>(c));
      out += cell;
      total += c;
    }
    std::snprintf(cell, sizeof cell, "  %5.1f%%\n", total ? 100.0 * counts[i][i] / total : 0.0);
    out += cell;
  }
  out += "(rows: true class, columns: predicted class index";
  for (std::size_t i = 0; i < class_names.size(); ++i) out += (i ? ", " : ": ") + std::to_string(i) + "=" + class_names[i];
  return out + ")\n";
}

}  // namespace cudl
