// cudl score: sample quality of generated images, judged by a trained classifier.
#include <cstdio>

#include "core/device.h"
#include "data/dataset.h"
#include "eval/classifier.h"
#include "eval/samples.h"
#include "eval/score.h"
#include "train/checkpoint.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace cudl::cli {

int cmd_score(const Args& args) {
  std::string classifier, samples, data = kFashionMnistDir, device_name = "auto";
  bool floor = false;
  std::int64_t batch_size = 500, splits = 10, label = -1, floor_count = 10000;
  FlagParser flags("cudl score", "--classifier FILE (--samples PATH | --floor) [options]",
                   "Scores generated 28x28 grey images with a classifier checkpoint from cudl train (the deep\n"
                   "ConvNet): the Frechet distance of its penultimate features to those of the real test images\n"
                   "(FID on our classifier; comparable only between runs scored by the same checkpoint and with\n"
                   "the same number of samples), the Inception Score of its probabilities, and the histogram of\n"
                   "its labels (mode collapse shows as empty classes). --floor scores real training images\n"
                   "instead: the FID of real images at that count, the best a generator can hope for.");
  flags.add("--classifier", "FILE", "a .safetensors classifier checkpoint from cudl train", "",
            [&](const std::string& v) { classifier = v; });
  flags.add("--samples", "PATH", "a .npy of [N,1,28,28] or [N,28,28] (float32 in [0,1] or uint8), or a folder of PNGs",
            "", [&](const std::string& v) { samples = v; });
  flags.add_switch("--floor", "score the first --floor-count real training images instead of samples", &floor);
  flags.add("--floor-count", "N", "training images for --floor (match the number of samples)", "10000",
            [&](const std::string& v) { floor_count = parse_int("--floor-count", v, 2); });
  flags.add("--class", "K", "also print the fraction of samples labelled K (a class-conditional generator's)", "",
            [&](const std::string& v) { label = parse_int("--class", v, 0); });
  flags.add("--splits", "N", "parts for the Inception Score's mean and std", "10",
            [&](const std::string& v) { splits = parse_int("--splits", v, 1); });
  flags.add("--data", "DIR", "folder with the MNIST-format files (the real images)", kFashionMnistDir,
            [&](const std::string& v) { data = v; });
  flags.add("--device", "DEV", "auto, cpu, cuda or cuda:N", "auto", [&](const std::string& v) {
    if (v != "auto" && v != "cpu" && v != "cuda" && !v.starts_with("cuda:"))
      throw UsageError("--device must be auto, cpu, cuda or cuda:N, got '" + v + "'");
    device_name = v;
  });
  flags.add("--batch-size", "N", "images per forward pass", "500",
            [&](const std::string& v) { batch_size = parse_int("--batch-size", v, 1); });
  try {
    const std::vector<std::string> positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (!positional.empty()) throw UsageError("unexpected argument '" + positional[0] + "'");
    if (classifier.empty()) throw UsageError("--classifier FILE is required");
    if (samples.empty() == !floor) throw UsageError("give exactly one of --samples PATH and --floor");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cudl score: error: %s (see cudl score --help)\n", e.what());
    return 2;
  }

  // Samples first: a bad file should fail before minutes of feature extraction.
  Tensor images;
  if (!samples.empty()) images = read_samples(samples);
  const Device device = parse_device(device_name);
  LoadedCheckpoint loaded = load_checkpoint(classifier, device);
  if (label >= static_cast<std::int64_t>(loaded.class_names.size()))
    detail::throw_error("--class ", label, " is outside the classifier's ", loaded.class_names.size(), " classes");
  DatasetSplits real = load_mnist_format(data, loaded.class_names);
  if (floor) {
    if (floor_count > real.train.size())
      detail::throw_error("--floor-count ", floor_count, " exceeds the ", real.train.size(), " training images in ",
                          data);
    images = std::move(real.train.slice(0, floor_count).images);
  }
  const ClassifierFn classify = model_classifier(*loaded.model, loaded.normalization);
  std::printf("device: %s\nclassifier: %s (%s)\n", describe(device).c_str(), classifier.c_str(),
              loaded.model->config().kind.c_str());
  const GaussianStats reference = gaussian_stats(classify_in_batches(real.test.images, classify, batch_size).features);
  std::printf("reference: %lld real test images, %lld features\n", static_cast<long long>(reference.count),
              static_cast<long long>(reference.dim));
  std::printf("scoring: %s\n", floor ? ("the first " + std::to_string(floor_count) + " real training images").c_str()
                                     : samples.c_str());
  const SampleScore score = score_outputs(classify_in_batches(images, classify, batch_size), reference, splits);
  std::printf("%s", format_score_report(score, loaded.class_names).c_str());
  if (label >= 0)
    std::printf("class %lld (%s): %.1f%% of the samples\n", static_cast<long long>(label),
                loaded.class_names[label].c_str(), 100.0 * label_fraction(score.label_histogram, label));
  return 0;
}

}  // namespace cudl::cli
