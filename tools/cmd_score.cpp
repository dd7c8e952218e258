// cudl score: sample quality of generated images, judged by a trained classifier.
#include <cstdio>

#include "core/device.h"
#include "eval/samples.h"
#include "train/gan.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/sample_scoring.h"

namespace cudl::cli {

int cmd_score(const Args& args) {
  std::string classifier, samples, gan_checkpoint, data = kFashionMnistDir, device_name = "auto";
  bool floor = false;
  std::int64_t batch_size = 500, splits = 10, label = -1, floor_count = 10000, count = 10000;
  std::uint64_t seed = 0;
  FlagParser flags("cudl score", "--classifier FILE (--samples PATH | --checkpoint G | --floor) [options]",
                   "Scores generated 28x28 grey images with a classifier checkpoint from cudl train (the deep\n"
                   "ConvNet): the Frechet distance of its penultimate features to those of the real test images\n"
                   "(FID on our classifier; comparable only between runs scored by the same checkpoint and with\n"
                   "the same number of samples), the Inception Score of its probabilities, and the histogram of\n"
                   "its labels (mode collapse shows as empty classes). --checkpoint scores --count images of a\n"
                   "cudl train gan generator; --floor scores real training images instead: the FID of real\n"
                   "images at that count, the best a generator can hope for.");
  flags.add("--classifier", "FILE", "a .safetensors classifier checkpoint from cudl train", "",
            [&](const std::string& v) { classifier = v; });
  flags.add("--samples", "PATH", "a .npy of [N,1,28,28] or [N,28,28] (float32 in [0,1] or uint8), or a folder of PNGs",
            "", [&](const std::string& v) { samples = v; });
  flags.add("--checkpoint", "G", "a cudl train gan checkpoint (last.safetensors) whose generator makes the samples", "",
            [&](const std::string& v) { gan_checkpoint = v; });
  flags.add("--count", "N", "images --checkpoint's generator makes (as many as the real test images, for FID)",
            "10000", [&](const std::string& v) { count = parse_int("--count", v, 2); });
  flags.add("--seed", "N", "seed of --checkpoint's noise", "0",
            [&](const std::string& v) { seed = static_cast<std::uint64_t>(parse_int("--seed", v, 0)); });
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
    if (int(!samples.empty()) + int(!gan_checkpoint.empty()) + int(floor) != 1)
      throw UsageError("give exactly one of --samples PATH, --checkpoint G and --floor");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cudl score: error: %s (see cudl score --help)\n", e.what());
    return 2;
  }

  // Samples first: a bad file should fail before minutes of feature extraction.
  const Device device = parse_device(device_name);
  Tensor images;
  std::string what = samples;
  if (!samples.empty()) images = read_samples(samples);
  if (!gan_checkpoint.empty()) {
    LoadedGan gan = load_gan_checkpoint(gan_checkpoint, device);
    images = gan_samples_for_scoring(*gan.generator, gan.info.noise_dim, count, seed, device);
    what = std::to_string(count) + " images of " + gan_checkpoint + "'s generator (seed " + std::to_string(seed) + ")";
  }
  const SampleScorer scorer(classifier, data, device, batch_size, splits);
  if (label >= scorer.class_count())
    detail::throw_error("--class ", label, " is outside the classifier's ", scorer.class_count(), " classes");
  if (floor) {
    if (floor_count > scorer.training_images().size())
      detail::throw_error("--floor-count ", floor_count, " exceeds the ", scorer.training_images().size(),
                          " training images in ", data);
    images = scorer.training_images().slice(0, floor_count).images;
    what = "the first " + std::to_string(floor_count) + " real training images";
  }
  std::printf("device: %s\n%sscoring: %s\n", describe(device).c_str(), scorer.describe().c_str(), what.c_str());
  std::printf("%s", scorer.report(scorer.score(images), label).c_str());
  return 0;
}

}  // namespace cudl::cli
