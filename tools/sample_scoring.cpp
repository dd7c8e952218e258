#include "tools/sample_scoring.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/random.h"
#include "eval/classifier.h"
#include "models/unet.h"
#include "train/ddpm.h"
#include "train/gan.h"
#include "tools/progress.h"

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

Tensor ddpm_samples_for_scoring(const GaussianDiffusion& diffusion, UNet& unet, std::int64_t count, std::uint64_t seed,
                                const SampleOptions& options, std::vector<std::int64_t>& asked) {
  constexpr std::int64_t kChunk = 250, kSide = 28;
  const UNetConfig& c = unet.config();
  CUDL_CHECK(c.num_classes > 0 && c.in_channels == 1 && c.image_size >= kSide,
             "scoring a DDPM: expected a class-conditional grey model of at least 28x28 (cudl train ddpm --data "
             "fashion), got ", unet.name());
  const std::int64_t side = c.image_size, offset = (side - kSide) / 2;
  asked.resize(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) asked[i] = i % c.num_classes;
  Generator gen(seed);
  Tensor all = Tensor::empty({count, 1, kSide, kSide});
  Progress progress(isatty(fileno(stdout)) != 0);
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t begin = 0; begin < count; begin += kChunk) {
    const std::int64_t rows = std::min(kChunk, count - begin);
    const Tensor classes = Tensor::from_vector(std::vector<std::int64_t>(asked.begin() + begin, asked.begin() + begin + rows), {rows});
    const Tensor images = sample_ddpm(diffusion, unet, &classes, rows, gen, options).to(Device::cpu());
    const float* from = images.data<float>();
    float* to = all.data<float>() + begin * kSide * kSide;
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t y = 0; y < kSide; ++y)
        for (std::int64_t x = 0; x < kSide; ++x)
          to[(i * kSide + y) * kSide + x] = 0.5f * (from[(i * side + y + offset) * side + x + offset] + 1.0f);
    const std::int64_t done = begin + rows;
    if (progress.due(done == count)) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double rate = static_cast<double>(done) / seconds;
      const long long eta = static_cast<long long>(static_cast<double>(count - done) / rate);
      char line[160];
      std::snprintf(line, sizeof line, "sampling %lld/%lld  %.1f samples/s  ETA %lldm%02llds",
                    static_cast<long long>(done), static_cast<long long>(count), rate, eta / 60, eta % 60);
      progress.show(line);
    }
  }
  progress.clear();
  return all;
}

}  // namespace cudl::cli
