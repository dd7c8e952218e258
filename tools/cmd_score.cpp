// cudl score: sample quality of generated images, judged by a trained classifier.
#include <cstdio>

#include "core/device.h"
#include "core/formats/safetensors.h"
#include "eval/samples.h"
#include "models/unet.h"
#include "train/checkpoint.h"
#include "train/ddpm.h"
#include "train/gan.h"
#include "train/plot.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/sample_scoring.h"

namespace cudl::cli {

namespace {

// How a DDPM checkpoint's samples are drawn (the flags of cudl sample ddpm).
struct DdpmScoring {
  std::string sampler = "ddim";
  std::int64_t steps = 50;
  double eta = 0.0;
  std::vector<double> guidance = {2.0};
  std::string plot;
  bool given = false;  // any of these flags: they need a DDPM checkpoint
};

// One line of the guidance table, and the FID / IS / asked-class accuracy per
// weight; with --plot, accuracy against w as a PNG.
int score_ddpm(const std::string& path, const DdpmScoring& d, std::int64_t count, std::uint64_t seed,
               const SampleScorer& scorer, Device device) {
  const DdpmCheckpoint c = read_ddpm_checkpoint(path);
  CUDL_CHECK(c.class_names == std::vector<std::string>() || static_cast<std::int64_t>(c.class_names.size()) ==
             scorer.class_count(), path, ": the model has ", c.class_names.size(), " classes, the classifier ",
             scorer.class_count());
  CUDL_CHECK(d.sampler == "ddpm" || d.steps <= c.diffusion.timesteps, "--steps ", d.steps, " exceeds the model's ",
             c.diffusion.timesteps, " diffusion steps");
  UNet unet(c.config, 0, device);
  load_model_state(unet, c.file.tensors, "ema.");
  const GaussianDiffusion diffusion(c.diffusion, device);
  char eta[32];
  std::snprintf(eta, sizeof eta, "%g", d.eta);  // "0", "0.5": the plot's title has room for no more
  const std::string how = d.sampler == "ddim" ? "DDIM " + std::to_string(d.steps) + " steps, eta " + eta
                                              : "DDPM " + std::to_string(c.diffusion.timesteps) + " steps";
  std::vector<double> accuracy;
  std::string table = "guidance  FID       IS      asked class\n";
  for (double w : d.guidance) {
    std::printf("scoring: %lld samples of %s (step %lld, EMA weights, %s, guidance %.2f, seed %llu), sample i of "
                "class i mod %lld\n", static_cast<long long>(count), path.c_str(), static_cast<long long>(c.iteration),
                how.c_str(), w, static_cast<unsigned long long>(seed), static_cast<long long>(c.config.num_classes));
    std::fflush(stdout);
    std::vector<std::int64_t> asked;
    const Tensor images = ddpm_samples_for_scoring(
        diffusion, unet, count, seed,
        {.sampler = d.sampler == "ddpm" ? Sampler::Ddpm : Sampler::Ddim, .steps = d.sampler == "ddpm" ? 0 : d.steps,
         .eta = static_cast<float>(d.eta), .guidance = static_cast<float>(w)},
        asked);
    const SampleScore score = scorer.score(images);
    accuracy.push_back(asked_label_accuracy(score.labels, asked));
    std::printf("%sasked class: %.1f%% of the samples are labelled as the class they were asked for\n",
                scorer.report(score).c_str(), 100.0 * accuracy.back());
    char line[128];
    std::snprintf(line, sizeof line, "%-8.2f  %-8.4f  %-6.3f  %.1f%%\n", w, score.fid.distance, score.inception.mean,
                  100.0 * accuracy.back());
    table += line;
  }
  if (d.guidance.size() > 1) std::printf("\n%s", table.c_str());
  if (!d.plot.empty()) {
    std::vector<double> percent;
    for (double a : accuracy) percent.push_back(100.0 * a);
    write_line_plot(d.plot, {{.label = "asked class (%)", .x = d.guidance, .y = percent, .thickness = 2, .markers = true}},
                    {.title = "Classifier-free guidance: " + std::to_string(count) + " samples, " + how,
                     .x_label = "guidance weight w", .y_label = "labelled as the asked class (%)"});
    std::printf("plot: %s\n", d.plot.c_str());
  }
  return 0;
}

}  // namespace

int cmd_score(const Args& args) {
  std::string classifier, samples, gan_checkpoint, data = kFashionMnistDir, device_name = "auto";
  bool floor = false;
  std::int64_t batch_size = 500, splits = 10, label = -1, floor_count = 10000, count = 10000;
  std::uint64_t seed = 0;
  DdpmScoring ddpm;
  FlagParser flags("cudl score", "--classifier FILE (--samples PATH | --checkpoint G | --floor) [options]",
                   "Scores generated 28x28 grey images with a classifier checkpoint from cudl train (the deep\n"
                   "ConvNet): the Frechet distance of its penultimate features to those of the real test images\n"
                   "(FID on our classifier; comparable only between runs scored by the same checkpoint and with\n"
                   "the same number of samples), the Inception Score of its probabilities, and the histogram of\n"
                   "its labels (mode collapse shows as empty classes). --checkpoint scores --count images of a\n"
                   "cudl train gan generator, or of a cudl train ddpm --data fashion model (sample i asks for\n"
                   "class i mod 10; the share labelled as asked is reported too, for each --guidance weight);\n"
                   "--floor scores real training images instead: the FID of real images at that count, the\n"
                   "best a generator can hope for.");
  flags.add("--classifier", "FILE", "a .safetensors classifier checkpoint from cudl train", "",
            [&](const std::string& v) { classifier = v; });
  flags.add("--samples", "PATH", "a .npy of [N,1,28,28] or [N,28,28] (float32 in [0,1] or uint8), or a folder of PNGs",
            "", [&](const std::string& v) { samples = v; });
  flags.add("--checkpoint", "G", "a cudl train gan (last.safetensors) or train ddpm (checkpoint.safetensors) checkpoint "
            "whose model makes the samples", "", [&](const std::string& v) { gan_checkpoint = v; });
  flags.add("--count", "N", "images --checkpoint's model makes (as many as the real test images, for FID)",
            "10000", [&](const std::string& v) { count = parse_int("--count", v, 2); });
  flags.add("--seed", "N", "seed of --checkpoint's noise", "0",
            [&](const std::string& v) { seed = static_cast<std::uint64_t>(parse_int("--seed", v, 0)); });
  flags.add("--sampler", "NAME", "ddpm checkpoints: ddpm (all T steps) or ddim", "ddim", [&](const std::string& v) {
    ddpm.sampler = parse_choice("--sampler", v, {"ddpm", "ddim"});
    ddpm.given = true;
  });
  flags.add("--steps", "K", "ddpm checkpoints: DDIM steps", "50", [&](const std::string& v) {
    ddpm.steps = parse_int("--steps", v, 1);
    ddpm.given = true;
  });
  flags.add("--eta", "X", "ddpm checkpoints: DDIM's eta (0 deterministic)", "0", [&](const std::string& v) {
    ddpm.eta = parse_float("--eta", v, 0);
    ddpm.given = true;
  });
  flags.add("--guidance", "W[,W...]", "ddpm checkpoints: classifier-free guidance weights, each scored in turn", "2",
            [&](const std::string& v) {
              ddpm.guidance = parse_float_list("--guidance", v, 0);
              ddpm.given = true;
            });
  flags.add("--plot", "FILE", "ddpm checkpoints: a PNG of the asked-class accuracy against the guidance weight", "none",
            [&](const std::string& v) {
              ddpm.plot = v;
              ddpm.given = true;
            });
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
  const bool is_ddpm = !gan_checkpoint.empty() && read_safetensors(gan_checkpoint).metadata["model"] == kDdpmCheckpointKind;
  CUDL_CHECK(is_ddpm || !ddpm.given, "--sampler, --steps, --eta, --guidance and --plot apply to a ddpm --checkpoint only");
  if (is_ddpm) {
    const SampleScorer scorer(classifier, data, device, batch_size, splits);
    std::printf("device: %s\n%s", describe(device).c_str(), scorer.describe().c_str());
    return score_ddpm(gan_checkpoint, ddpm, count, seed, scorer, device);
  }
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
