// cudl eval: test accuracy and confusion matrix of a checkpoint written by cudl train.
#include <cstdio>

#include "core/device.h"
#include "data/dataset.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace cudl::cli {

int cmd_eval(const Args& args) {
  std::string checkpoint, data = kFashionMnistDir, device_name = "auto";
  std::int64_t batch_size = 500;
  FlagParser flags("cudl eval", "--checkpoint FILE [options]",
                   "Rebuilds the model of a cudl checkpoint from its metadata, normalises the test images as\n"
                   "it was trained (pixels scaled to [0, 1], then (x - input_mean) / input_std) and prints the\n"
                   "test accuracy and the confusion matrix.");
  flags.add("--checkpoint", "FILE", "a .safetensors file from cudl train (best.safetensors, last.safetensors)", "",
            [&](const std::string& v) { checkpoint = v; });
  flags.add("--data", "DIR", "folder with the MNIST-format test files (t10k-*)", kFashionMnistDir,
            [&](const std::string& v) { data = v; });
  flags.add("--device", "DEV", "auto, cpu, cuda or cuda:N", "auto", [&](const std::string& v) {
    if (v != "auto" && v != "cpu" && v != "cuda" && !v.starts_with("cuda:"))
      throw UsageError("--device must be auto, cpu, cuda or cuda:N, got '" + v + "'");
    device_name = v;
  });
  flags.add("--batch-size", "N", "images per forward pass", "500",
            [&](const std::string& v) { batch_size = parse_int("--batch-size", v, 1, 1 << 20); });
  try {
    const std::vector<std::string> positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (!positional.empty()) throw UsageError("unexpected argument '" + positional[0] + "'");
    if (checkpoint.empty()) throw UsageError("--checkpoint FILE is required");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cudl eval: error: %s (see cudl eval --help)\n", e.what());
    return 2;
  }

  const Device device = parse_device(device_name);
  std::printf("device: %s\n", describe(device).c_str());
  LoadedCheckpoint loaded = load_checkpoint(checkpoint, device);
  std::printf("model: %s from %s\n", loaded.model->config().kind.c_str(), checkpoint.c_str());
  DatasetSplits splits = load_mnist_format(data, loaded.class_names);
  normalize(splits.test, loaded.normalization);
  const std::vector<std::int64_t> predictions = predict(*loaded.model, splits.test, batch_size);
  const double acc = accuracy(predictions, splits.test.labels);
  std::printf("test accuracy: %.2f%% (%lld/%lld)\n\n", 100 * acc,
              static_cast<long long>(acc * static_cast<double>(splits.test.size()) + 0.5),
              static_cast<long long>(splits.test.size()));
  std::printf("%s", format_confusion_matrix(
                        confusion_matrix(predictions, splits.test.labels, static_cast<std::int64_t>(
                                                                               loaded.class_names.size())),
                        loaded.class_names)
                        .c_str());
  return 0;
}

}  // namespace cudl::cli
