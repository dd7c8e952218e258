#include "tools/sample_scoring.h"

#include <algorithm>
#include <cstdio>

#include "core/random.h"
#include "eval/classifier.h"
#include "train/gan.h"

namespace cudl::cli {

SampleScorer::SampleScorer(const std::string& classifier_path, const std::string& data, Device device,
                           std::int64_t batch_size, std::int64_t splits)
    : classifier_path_(classifier_path),
      batch_size_(batch_size),
      splits_(splits),
      loaded_(load_checkpoint(classifier_path, device)),
      real_(load_mnist_format(data, loaded_.class_names)),
      classify_(model_classifier(*loaded_.model, loaded_.normalization)),
      reference_(gaussian_stats(classify_in_batches(real_.test.images, classify_, batch_size_).features)) {}

std::string SampleScorer::describe() const {
  return "classifier: " + classifier_path_ + " (" + loaded_.model->config().kind + ")\nreference: " +
         std::to_string(reference_.count) + " real test images, " + std::to_string(reference_.dim) + " features\n";
}

SampleScore SampleScorer::score(const Tensor& images) const {
  return score_outputs(classify_in_batches(images, classify_, batch_size_), reference_, splits_);
}

std::string SampleScorer::report(const SampleScore& score, std::int64_t label) const {
  std::string text = format_score_report(score, loaded_.class_names);
  if (label >= 0) {
    char line[200];
    std::snprintf(line, sizeof line, "class %lld (%s): %.1f%% of the samples\n", static_cast<long long>(label),
                  loaded_.class_names.at(label).c_str(), 100.0 * label_fraction(score.label_histogram, label));
    text += line;
  }
  return text;
}

Tensor gan_samples_for_scoring(Sequential& generator, std::int64_t noise_dim, std::int64_t count, std::uint64_t seed,
                               Device device) {
  constexpr std::int64_t kChunk = 500;
  Generator gen(seed);
  Tensor all = Tensor::empty({count, 1, kGanImageSide, kGanImageSide});
  const std::int64_t per_image = kGanImageSide * kGanImageSide;
  for (std::int64_t begin = 0; begin < count; begin += kChunk) {
    const std::int64_t rows = std::min(kChunk, count - begin);
    const Tensor images = generate_images(generator, sample_noise(rows, noise_dim, gen, device));
    const float* from = images.data<float>();
    float* to = all.data<float>() + begin * per_image;
    for (std::int64_t i = 0; i < rows * per_image; ++i) to[i] = 0.5f * (from[i] + 1.0f);
  }
  return all;
}

}  // namespace cudl::cli
