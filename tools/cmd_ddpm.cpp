// cudl train ddpm and cudl sample ddpm: a denoising diffusion model
// (models/unet.h, diffusion/gaussian_diffusion.h) conditioned on Fashion-MNIST's
// classes or on emoji captions, and sampling from its checkpoints (train/ddpm.h).
// docs/ddpm.md describes the run folder.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "autograd/var.h"
#include "core/device.h"
#include "core/error.h"
#include "core/formats/json.h"
#include "core/formats/safetensors.h"
#include "core/random.h"
#include "data/caption.h"
#include "data/dataset.h"
#include "data/emoji.h"
#include "diffusion/ema.h"
#include "models/unet.h"
#include "train/checkpoint.h"
#include "train/ddpm.h"
#include "train/image_grid.h"
#include "train/optimizer.h"
#include "train/plot.h"
#include "train/run_folder.h"
#include "train/step.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace cudl::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kCheckpointFile = "checkpoint.safetensors";
constexpr std::uint64_t kGridSeed = 1234;   // every periodic grid starts from the same noise
constexpr std::int64_t kGridColumns = 8;    // samples per class (or prompt) in a periodic grid
constexpr std::int64_t kGridPrompts = 8;    // captions of an emoji grid, spread over the set
constexpr std::int64_t kGridSteps = 50;     // DDIM steps of a periodic grid
constexpr float kGridGuidance = 2.0f;

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint_ddpm(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);
}

struct DdpmSettings {
  std::string data = "fashion";
  std::string data_dir = kFashionMnistDir;
  std::int64_t iters = 20000;
  double minutes = 0.0;  // wall-clock budget of this invocation's training loop; 0: none
  std::int64_t batch_size = 64;
  double lr = 2e-4;
  std::int64_t width = 32;
  std::vector<std::int64_t> multipliers = {1, 2, 2};
  std::int64_t res_blocks = 2;
  std::vector<std::int64_t> attention = {16};
  std::int64_t timesteps = 1000;
  std::string schedule = "sigmoid";
  std::string objective = "pred_noise";
  double p_uncond = 0.2;
  double ema = 0.999;
  std::int64_t sample_every = 2000;
  std::int64_t save_every = 500;
  std::string device = "auto";
  std::string impl = "auto";
  std::uint64_t seed = 0;
  std::string out;
  bool resume = false;

  // What a resumed run keeps: everything but where it runs, how long and how often it reports.
  nlohmann::json to_json() const {
    return {{"data", data},           {"data_dir", data_dir},       {"batch_size", batch_size},
            {"lr", lr},               {"width", width},             {"multipliers", multipliers},
            {"res_blocks", res_blocks}, {"attention", attention},       {"timesteps", timesteps}, {"schedule", schedule},       {"objective", objective},
            {"p_uncond", p_uncond},   {"ema", ema},                 {"seed", seed}};
  }
  void restore(const nlohmann::json& j) {
    try {
      data = j.at("data");
      data_dir = j.at("data_dir");
      batch_size = j.at("batch_size");
      lr = j.at("lr");
      width = j.at("width");
      multipliers = j.at("multipliers").get<std::vector<std::int64_t>>();
      res_blocks = j.value("res_blocks", std::int64_t{2});  // runs before these flags had 2 and {16}
      attention = j.value("attention", std::vector<std::int64_t>{16});
      timesteps = j.at("timesteps");
      schedule = j.at("schedule");
      objective = j.at("objective");
      p_uncond = j.at("p_uncond");
      ema = j.at("ema");
      seed = j.at("seed");
    } catch (const nlohmann::json::exception& e) {
      detail::throw_error("--resume: the checkpoint's settings: ", e.what());
    }
  }
};

void add_ddpm_flags(FlagParser& f, DdpmSettings& s) {
  f.add("--data", "NAME",
        "fashion (Fashion-MNIST padded to 32x32, conditioned on the class) or emoji (Noto's 32x32 RGB, conditioned "
        "on the caption)", "fashion",
        [&](const std::string& v) { s.data = parse_choice("--data", v, {"fashion", "emoji"}); });
  f.add("--data-dir", "DIR", "fashion: folder with the MNIST-format files", kFashionMnistDir,
        [&](const std::string& v) { s.data_dir = fs::absolute(v).string(); });
  f.add("--batch-size", "N", "images per step", "64",
        [&](const std::string& v) { s.batch_size = parse_int("--batch-size", v, 1, 1 << 16); });
  f.add("--lr", "X", "Adam learning rate", "0.0002", [&](const std::string& v) { s.lr = parse_float("--lr", v, 0, false); });
  f.add("--width", "N", "U-Net base width (channels of the first level; even, divisible by 8)", "32",
        [&](const std::string& v) { s.width = parse_int("--width", v, 8, 1024); });
  f.add("--multipliers", "N,N,...", "channel multiplier of each level (at most 4 levels for 32x32)", "1,2,2",
        [&](const std::string& v) { s.multipliers = parse_int_list("--multipliers", v, 16); });
  f.add("--res-blocks", "N", "ResNet blocks per level, down and up", "2",
        [&](const std::string& v) { s.res_blocks = parse_int("--res-blocks", v, 1, 16); });
  f.add("--attention", "S,S,...", "feature-map sizes whose levels attend (the middle always does; 0: none)", "16",
        [&](const std::string& v) {
          s.attention = v == "0" ? std::vector<std::int64_t>{} : parse_int_list("--attention", v, 32);
        });
  f.add("--timesteps", "T", "diffusion steps", "1000",
        [&](const std::string& v) { s.timesteps = parse_int("--timesteps", v, 2, 100000); });
  f.add("--schedule", "NAME", "noise schedule: linear, cosine or sigmoid", "sigmoid",
        [&](const std::string& v) { s.schedule = parse_choice("--schedule", v, {"linear", "cosine", "sigmoid"}); });
  f.add("--objective", "NAME", "what the U-Net predicts: pred_noise or pred_x0", "pred_noise",
        [&](const std::string& v) { s.objective = parse_choice("--objective", v, {"pred_noise", "pred_x0"}); });
  f.add("--p-uncond", "P", "probability of dropping the class in a training sample (classifier-free guidance)", "0.2",
        [&](const std::string& v) {
          s.p_uncond = parse_float("--p-uncond", v, 0);
          if (s.p_uncond > 1) throw UsageError("--p-uncond must be in [0, 1], got " + v);
        });
  f.add("--ema", "DECAY", "decay of the weights' exponential moving average, in [0, 1)", "0.999",
        [&](const std::string& v) {
          s.ema = parse_float("--ema", v, 0);
          if (s.ema >= 1) throw UsageError("--ema must be < 1, got " + v);
        });
  f.add("--sample-every", "N", "write a sample grid from the EMA weights every N steps and at the end (0: never)", "2000",
        [&](const std::string& v) { s.sample_every = parse_int("--sample-every", v, 0); });
  f.add("--save-every", "N", "write the checkpoint every N steps", "500",
        [&](const std::string& v) { s.save_every = parse_int("--save-every", v, 1); });
  add_impl_flag(f, s.impl);
  f.add("--device", "DEV", "auto, cpu, cuda or cuda:N", "auto", [&](const std::string& v) {
    if (v != "auto" && v != "cpu" && v != "cuda" && !v.starts_with("cuda:"))
      throw UsageError("--device must be auto, cpu, cuda or cuda:N, got '" + v + "'");
    s.device = v;
  });
  f.add("--seed", "N", "seed of the initialisation, batches, condition drops, timesteps and noise", "0",
        [&](const std::string& v) { s.seed = static_cast<std::uint64_t>(parse_int("--seed", v, 0)); });
  f.add("--out", "DIR", "run folder", "runs/ddpm-<seed>", [&](const std::string& v) { s.out = v; });
  f.add_switch("--resume", "continue the run in --out from its checkpoint, with its saved settings", &s.resume);
}

// The training images [N, C, 32, 32] in [-1, 1] and their conditions: class ids
// int64 [N] or caption tokens int64 [N, L].
struct TrainingSet {
  Tensor images, conditions;
  std::vector<std::int64_t> null_condition;  // the row of a dropped condition
  std::vector<std::string> class_names;      // fashion
  std::optional<Vocabulary> vocabulary;      // emoji, from every caption
  std::vector<std::string> captions;         // emoji, one per image
};

UNetConfig unet_config(const DdpmSettings& s, const TrainingSet& data) {
  UNetConfig c;
  c.in_channels = c.out_channels = data.images.size(1);
  c.image_size = 32;
  c.width = s.width;
  c.multipliers = s.multipliers;
  c.num_res_blocks = s.res_blocks;
  c.attention_resolutions = s.attention;
  c.groups = 8;
  c.heads = 4;
  c.num_classes = static_cast<std::int64_t>(data.class_names.size());
  c.vocab_size = data.vocabulary ? data.vocabulary->size() : 0;
  return c;
}

DiffusionConfig diffusion_config(const DdpmSettings& s) {
  return {.timesteps = s.timesteps,
          .schedule = parse_noise_schedule(s.schedule),
          .objective = parse_diffusion_objective(s.objective)};
}

// Fashion-MNIST's training images [N, 1, 28, 28] in [0, 1] as [N, 1, 32, 32] in
// [-1, 1], the border at -1 (the background).
Tensor pad_and_scale(const Tensor& images) {
  const std::int64_t n = images.size(0), h = images.size(2), w = images.size(3), size = 32;
  const std::int64_t top = (size - h) / 2, left = (size - w) / 2;
  Tensor out = Tensor::full({n, 1, size, size}, -1.0f);
  const float* src = images.data<float>();
  float* dst = out.data<float>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        dst[(i * size + y + top) * size + x + left] = 2.0f * src[(i * h + y) * w + x] - 1.0f;
  return out;
}

TrainingSet load_training_set(const DdpmSettings& s) {
  TrainingSet set;
  if (s.data == "fashion") {
    DatasetSplits splits = load_mnist_format(s.data_dir, fashion_mnist_classes());
    set.images = pad_and_scale(splits.train.images);
    set.conditions = std::move(splits.train.labels);
    set.class_names = std::move(splits.train.class_names);
    set.null_condition = {static_cast<std::int64_t>(set.class_names.size())};
    return set;
  }
  const EmojiSet emoji = load_emoji_set({.size = 32});
  set.images = emoji.images_nchw();
  float* pixel = set.images.data<float>();
  for (std::int64_t i = 0; i < set.images.numel(); ++i) pixel[i] = 2.0f * pixel[i] - 1.0f;
  for (const EmojiEntry& e : emoji.entries) set.captions.push_back(emoji_caption(e.name));
  set.vocabulary = Vocabulary::from_captions(set.captions);
  set.conditions = caption_condition(*set.vocabulary, set.captions);
  set.null_condition.assign(static_cast<std::size_t>(set.conditions.size(1)), kNullToken);
  set.null_condition[0] = kStartToken;  // the empty caption
  set.null_condition[1] = kEndToken;
  return set;
}

// The batch of step `iter`: rows drawn with replacement, each condition kept
// with probability 1 - p_uncond (else the null condition). Everything a step
// draws comes from Generator(seed, iter << 32): a resumed run draws exactly what
// the uninterrupted one would.
struct Batch {
  Tensor images, conditions;
};
Batch draw_batch(const TrainingSet& set, std::int64_t batch_size, double p_uncond, Generator& gen, Device device) {
  const Tensor& images = set.images;
  const std::int64_t n = images.size(0), pixels = images.numel() / n;
  const std::int64_t width = static_cast<std::int64_t>(set.null_condition.size());
  const std::vector<float> pick = rand({batch_size}, gen).to_vector(), drop = rand({batch_size}, gen).to_vector();
  Tensor batch = Tensor::empty({batch_size, images.size(1), images.size(2), images.size(3)});
  Shape condition_shape = set.conditions.shape();
  condition_shape[0] = batch_size;
  Tensor conditions = Tensor::empty(condition_shape, DType::I64);
  for (std::int64_t b = 0; b < batch_size; ++b) {
    const std::int64_t row = std::min<std::int64_t>(n - 1, static_cast<std::int64_t>(static_cast<double>(pick[b]) * n));
    std::copy_n(images.data<float>() + row * pixels, pixels, batch.data<float>() + b * pixels);
    const std::int64_t* kept = set.conditions.data<std::int64_t>() + row * width;
    std::copy_n(drop[b] < p_uncond ? set.null_condition.data() : kept, width,
                conditions.data<std::int64_t>() + b * width);
  }
  return {batch.to(device), conditions.to(device)};
}

std::map<std::string, std::string> checkpoint_metadata(const DdpmSettings& s, const UNetConfig& config,
                                                       std::int64_t iteration, const TrainingSet& data) {
  std::map<std::string, std::string> meta{{"model", kDdpmCheckpointKind},
          {"config", config.to_json()},
          {"diffusion", nlohmann::json{{"timesteps", s.timesteps}, {"schedule", s.schedule}, {"objective", s.objective}}.dump()},
          {"settings", s.to_json().dump()},
          {"iteration", std::to_string(iteration)},
          {"class_names", nlohmann::json(data.class_names).dump()}};
  if (data.vocabulary) meta.emplace("vocabulary", data.vocabulary->to_json());
  return meta;
}

// The model, "ema." + its average, the optimizer state and the loss history, in one file.
void save_ddpm_checkpoint(const fs::path& path, UNet& unet, ExponentialMovingAverage& ema, const Optimizer& opt,
                          const std::vector<float>& losses, const std::map<std::string, std::string>& metadata) {
  TensorMap tensors = model_state_dict(unet);
  for (auto& [name, shadow] : ema.state_dict()) tensors.emplace("ema." + name, shadow->to(Device::cpu()));
  for (auto& [name, t] : opt.state_dict()) tensors.emplace(name, std::move(t));
  if (!losses.empty())
    tensors.emplace("train.loss_history", Tensor::from_vector(losses, {static_cast<std::int64_t>(losses.size())}));
  write_safetensors(path.string(), tensors, metadata);
}

// The conditions of a periodic grid, kGridColumns samples each: every class, or
// kGridPrompts captions spread over the emoji set (listed once in the log).
Tensor grid_conditions(const TrainingSet& data) {
  if (!data.vocabulary) {
    std::vector<std::int64_t> ids;
    for (std::int64_t k = 0; k < static_cast<std::int64_t>(data.class_names.size()); ++k)
      ids.insert(ids.end(), kGridColumns, k);
    return Tensor::from_vector(ids, {static_cast<std::int64_t>(ids.size())});
  }
  std::vector<std::string> prompts;
  const std::size_t stride = std::max<std::size_t>(1, data.captions.size() / kGridPrompts);
  for (std::size_t i = 0; i < data.captions.size() && prompts.size() < kGridColumns * kGridPrompts; i += stride)
    prompts.insert(prompts.end(), kGridColumns, data.captions[i]);
  return caption_condition(*data.vocabulary, prompts);
}

// A grid of the EMA weights' samples, DDIM from fixed noise, one row per condition.
void write_condition_grid(const fs::path& path, const GaussianDiffusion& diffusion, UNet& unet,
                          ExponentialMovingAverage& ema, const Tensor& conditions) {
  ema.swap();
  Generator gen(kGridSeed);
  const Tensor samples = sample_ddpm(diffusion, unet, &conditions, conditions.size(0), gen,
                                     {.sampler = Sampler::Ddim, .steps = std::min(kGridSteps, diffusion.timesteps()),
                                      .guidance = kGridGuidance});
  ema.swap();
  write_image_grid(path.string(), samples, {.columns = static_cast<int>(kGridColumns), .scale = 2, .low = -1.0f});
}

std::string format_eta(double seconds) {
  const long long s = static_cast<long long>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  return buf;
}

int usage_error(const char* command, const UsageError& e) {
  std::fprintf(stderr, "%s: error: %s (see %s --help)\n", command, e.what(), command);
  return 2;
}

}  // namespace

int cmd_train_ddpm(const Args& args) {
  DdpmSettings s;
  bool iters_given = false;
  FlagParser flags("cudl train ddpm", "[options]",
                   "Trains a DDPM U-Net (32x32, [-1, 1]) with Adam, gradient clipping at 1 and an EMA of the\n"
                   "weights, conditioned on Fashion-MNIST's class or on an emoji's caption (the mean of learned\n"
                   "word embeddings), the condition dropped with --p-uncond for classifier-free guidance. The run\n"
                   "folder gets checkpoint.safetensors (model, ema.*, optimizer state; see `cudl sample ddpm`),\n"
                   "samples-<iter>.png grids (one row per class or prompt, EMA weights, fixed noise) and\n"
                   "loss.png. Ctrl-C saves the checkpoint for --resume.");
  add_ddpm_flags(flags, s);
  flags.add("--iters", "N", "optimisation steps in total (a resumed run may extend them)", "20000",
            [&](const std::string& v) {
              s.iters = parse_int("--iters", v, 1, 100000000);
              iters_given = true;
            });
  flags.add("--minutes", "M",
            "also stop taking steps after M minutes (periodic grids count; the final save and grid follow), "
            "as at the end of --iters; --resume continues (0: no limit)", "0",
            [&](const std::string& v) { s.minutes = parse_float("--minutes", v, 0); });
  try {
    const std::vector<std::string> positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (!positional.empty()) throw UsageError("unexpected argument '" + positional[0] + "'");
    if (s.resume && s.out.empty()) throw UsageError("--resume needs --out DIR, the run folder to continue");
  } catch (const UsageError& e) {
    return usage_error("cudl train ddpm", e);
  }
  const fs::path run_dir = s.out.empty() ? fs::path("runs") / ("ddpm-" + std::to_string(s.seed)) : fs::path(s.out);
  const RunFolderLock lock(run_dir);
  const fs::path checkpoint_path = run_dir / kCheckpointFile;

  std::int64_t start_iter = 0;
  std::optional<DdpmCheckpoint> resumed;
  if (s.resume) {
    CUDL_CHECK(fs::exists(checkpoint_path), "--resume: ", run_dir.string(), " has no ", kCheckpointFile,
               " (the run stopped before its first save)");
    resumed = read_ddpm_checkpoint(checkpoint_path.string());
    const std::int64_t iters = s.iters;
    const std::string device = s.device;
    s.restore(formats::parse_json(resumed->file.metadata.at("settings"), "settings"));
    if (iters_given) s.iters = iters;
    s.device = device;
    start_iter = resumed->iteration;
  } else {
    CUDL_CHECK(!fs::exists(checkpoint_path), run_dir.string(), " already holds a run; continue it with --resume or choose another --out");
  }

  const Device device = parse_device(s.device);
  std::printf("device: %s\n", describe(device).c_str());
  const ImplScope impl_scope(Impl(s.impl));  // every op of the models and the optimizers
  if (s.impl != "auto") std::printf("impl: %s\n", s.impl.c_str());
  const TrainingSet data = load_training_set(s);
  if (data.vocabulary)
    std::printf("data: %lld emoji, 32x32 RGB in [-1, 1], captions of %lld words\n",
                static_cast<long long>(data.images.size(0)), static_cast<long long>(data.vocabulary->size()));
  else
    std::printf("data: %s: %lld training images, 32x32 in [-1, 1], %zu classes\n", s.data_dir.c_str(),
                static_cast<long long>(data.images.size(0)), data.class_names.size());

  const UNetConfig config = unet_config(s, data);
  const Tensor grid = grid_conditions(data);
  if (data.vocabulary && s.sample_every > 0) {
    std::printf("grid rows:");
    for (std::int64_t r = 0; r < grid.size(0); r += kGridColumns)
      std::printf(" \"%s\"", data.vocabulary->decode(grid.data<std::int64_t>() + r * grid.size(1), grid.size(1)).c_str());
    std::printf("\n");
  }
  UNet unet(config, s.seed, device);
  const GaussianDiffusion diffusion(diffusion_config(s), device);
  Adam adam(unet.parameters(), static_cast<float>(s.lr));
  std::vector<float> losses;
  if (resumed) load_model_state(unet, resumed->file.tensors);
  ExponentialMovingAverage ema(unet.parameters(), static_cast<float>(s.ema));
  if (resumed) {
    ema.load_state_dict(resumed->file.tensors, "ema.");
    adam.load_state_dict(resumed->file.tensors);
    const auto history = resumed->file.tensors.find("train.loss_history");
    if (history != resumed->file.tensors.end()) losses = history->second.to_vector();
    std::printf("resumed %s at step %lld\n", run_dir.string().c_str(), static_cast<long long>(start_iter));
  }
  std::printf("model: %s, %lld parameters\ndiffusion: %lld steps, %s schedule, %s; p_uncond %.2f, EMA %.4f\n"
              "optimizer: %s, clip 1.0, batch %lld, %lld steps\nrun folder: %s\n",
              unet.name().c_str(), static_cast<long long>(unet.num_parameters()), static_cast<long long>(s.timesteps),
              s.schedule.c_str(), s.objective.c_str(), s.p_uncond, s.ema, adam.describe().c_str(),
              static_cast<long long>(s.batch_size), static_cast<long long>(s.iters), run_dir.string().c_str());
  std::fflush(stdout);

  std::int64_t iter = start_iter;
  auto save = [&] {
    save_ddpm_checkpoint(checkpoint_path, unet, ema, adam, losses, checkpoint_metadata(s, config, iter, data));
    if (!losses.empty()) plot_loss((run_dir / "loss.png").string(), std::vector<double>(losses.begin(), losses.end()));
  };
  const bool tty = isatty(fileno(stdout)) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_print = start;
  std::signal(SIGINT, on_sigint_ddpm);
  // The budget is checked after each step, which it then makes the last (saved, final grid):
  // a run ends within one step and one grid of it, and every invocation makes a step.
  bool out_of_time = false;
  while (iter < s.iters && !g_interrupted && !out_of_time) {
    Generator gen(s.seed, static_cast<std::uint64_t>(iter) << 32);
    const Batch batch = draw_batch(data, s.batch_size, s.p_uncond, gen, device);
    const StepResult r = optimization_step(
        {&adam}, [&] { return diffusion.training_loss(unet.denoiser(), batch.images, &batch.conditions, gen); }, 1.0f);
    if (!r.nonfinite.empty()) {
      if (tty) std::printf("\n");
      throw Error("step " + std::to_string(iter + 1) + ": " + r.nonfinite + "; " + checkpoint_path.string() +
                  (fs::exists(checkpoint_path) ? " keeps the last save" : " was not written"));
    }
    ema.update();
    losses.push_back(r.loss);
    ++iter;

    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    out_of_time = s.minutes > 0 && elapsed >= 60.0 * s.minutes;
    const bool last = iter == s.iters || out_of_time;
    if (last || now - last_print > std::chrono::milliseconds(tty ? 200 : 30000)) {
      last_print = now;
      const double rate = static_cast<double>((iter - start_iter) * s.batch_size) / elapsed;
      double eta = static_cast<double>(s.iters - iter) * s.batch_size / rate;
      if (s.minutes > 0) eta = std::min(eta, std::max(0.0, 60.0 * s.minutes - elapsed));
      std::printf(tty ? "\rstep %lld/%lld  loss %.4f  %.1f img/s  ETA %s\033[K" : "step %lld/%lld  loss %.4f  %.1f img/s  ETA %s\n",
                  static_cast<long long>(iter), static_cast<long long>(s.iters), r.loss, rate, format_eta(eta).c_str());
      std::fflush(stdout);
    }
    if (iter % s.save_every == 0 || last) save();
    if (s.sample_every > 0 && (iter % s.sample_every == 0 || last)) {
      char name[48];
      std::snprintf(name, sizeof name, "samples-%07lld.png", static_cast<long long>(iter));
      write_condition_grid(run_dir / name, diffusion, unet, ema, grid);
    }
  }
  std::signal(SIGINT, SIG_DFL);
  if (tty) std::printf("\n");
  if (out_of_time) {
    std::printf("time budget of %g minutes reached at step %lld (%.1f minutes); checkpoint: %s; continue with: "
                "cudl train ddpm --resume --out %s\n", s.minutes, static_cast<long long>(iter),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60.0,
                checkpoint_path.string().c_str(), run_dir.string().c_str());
    return 0;
  }
  if (iter < s.iters) {
    save();
    std::printf("stopped at step %lld; continue with: cudl train ddpm --resume --out %s\n",
                static_cast<long long>(iter), run_dir.string().c_str());
    return 130;
  }
  std::printf("checkpoint: %s (step %lld)\n", checkpoint_path.string().c_str(), static_cast<long long>(iter));
  return 0;
}

int cmd_sample_ddpm(const Args& args) {
  std::string checkpoint, sampler = "ddim", out = "grid.png", strip, device_name = "auto", weights = "ema";
  std::optional<std::string> prompt;
  std::int64_t steps = 50, n = 16, class_id = -1, frames = 10;
  double guidance = 0.0, eta = 0.0;
  std::uint64_t seed = 0;
  bool steps_given = false;
  FlagParser flags("cudl sample", "ddpm --checkpoint FILE [options]",
                   "Samples images from a `cudl train ddpm` checkpoint into a PNG grid; --strip also writes one\n"
                   "sample's denoising chain from the noise (left) to the image (right).");
  flags.add("--checkpoint", "FILE", "checkpoint.safetensors of a ddpm run", "required",
            [&](const std::string& v) { checkpoint = v; });
  flags.add("--sampler", "NAME", "ddpm (all T steps) or ddim", "ddim",
            [&](const std::string& v) { sampler = parse_choice("--sampler", v, {"ddpm", "ddim"}); });
  flags.add("--steps", "K", "ddim: evenly spaced steps, 1..T", "50", [&](const std::string& v) {
    steps = parse_int("--steps", v, 1);
    steps_given = true;
  });
  flags.add("--eta", "X", "ddim: 0 deterministic, 1 ancestral", "0", [&](const std::string& v) { eta = parse_float("--eta", v, 0); });
  flags.add("--guidance", "W", "classifier-free guidance weight (0: conditional only)", "0",
            [&](const std::string& v) { guidance = parse_float("--guidance", v, 0); });
  flags.add("--class", "C", "a class-conditional model: the class of every sample, 0..classes-1", "the classes in turn",
            [&](const std::string& v) { class_id = parse_int("--class", v, 0); });
  flags.add("--prompt", "TEXT", "a caption-conditional model: the caption of every sample (\"\": unconditioned)",
            "required", [&](const std::string& v) { prompt = v; });
  flags.add("--n", "N", "samples", "16", [&](const std::string& v) { n = parse_int("--n", v, 1, 4096); });
  flags.add("--seed", "N", "seed of the noise", "0", [&](const std::string& v) { seed = static_cast<std::uint64_t>(parse_int("--seed", v, 0)); });
  flags.add("--weights", "NAME", "ema (the average) or raw (the trained weights)", "ema",
            [&](const std::string& v) { weights = parse_choice("--weights", v, {"ema", "raw"}); });
  flags.add("--out", "FILE", "the sample grid (PNG)", "grid.png", [&](const std::string& v) { out = v; });
  flags.add("--strip", "FILE", "also the denoising chain of one sample (PNG)", "none", [&](const std::string& v) { strip = v; });
  flags.add("--frames", "N", "states in the --strip", "10", [&](const std::string& v) { frames = parse_int("--frames", v, 2, 1000); });
  flags.add("--device", "DEV", "auto, cpu, cuda or cuda:N", "auto", [&](const std::string& v) { device_name = v; });
  try {
    const std::vector<std::string> positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (positional.size() != 1 || positional[0] != "ddpm")
      throw UsageError("expected the model kind 'ddpm' (cudl sample ddpm --checkpoint FILE)");
    if (checkpoint.empty()) throw UsageError("--checkpoint FILE is required");
    if (sampler == "ddpm" && (steps_given || eta != 0.0)) throw UsageError("--steps and --eta apply to --sampler ddim only");
  } catch (const UsageError& e) {
    return usage_error("cudl sample", e);
  }
  DdpmCheckpoint c = read_ddpm_checkpoint(checkpoint);
  const std::int64_t classes = c.config.num_classes;
  CUDL_CHECK(class_id < classes, "--class ", class_id, " is out of range: the model has ", classes, " classes (0..",
             classes - 1, ")");
  CUDL_CHECK(!prompt || c.vocabulary, "--prompt needs a caption-conditional model; this one ",
             classes > 0 ? "takes --class" : "is unconditional");
  CUDL_CHECK(prompt || !c.vocabulary, "--prompt TEXT is required: this model is conditioned on captions");
  CUDL_CHECK(classes > 0 || c.vocabulary || guidance == 0.0,
             "--guidance needs a conditional model; this one is unconditional");
  CUDL_CHECK(sampler == "ddpm" || steps <= c.diffusion.timesteps, "--steps ", steps, " exceeds the model's ",
             c.diffusion.timesteps, " diffusion steps");

  // One condition row per sample: the prompt's tokens, or a class id.
  Tensor conditions;
  std::string condition_text;
  if (c.vocabulary) {
    std::vector<std::string> unknown;
    conditions = caption_condition(*c.vocabulary, std::vector<std::string>(static_cast<std::size_t>(n), *prompt), &unknown);
    condition_text = "prompt \"" + *prompt + "\"";
    for (const std::string& word : unknown)
      std::fprintf(stderr, "cudl sample: warning: '%s' is not in the model's vocabulary (it reads as <UNK>)\n",
                   word.c_str());
  } else if (classes > 0) {
    std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) ids[i] = class_id >= 0 ? class_id : i % classes;
    conditions = Tensor::from_vector(ids, {n});
    condition_text = class_id >= 0 ? "class " + c.class_names.at(class_id) : "the classes in turn";
  }
  const Tensor* condition = conditions.numel() > 0 ? &conditions : nullptr;

  const Device device = parse_device(device_name);
  UNet unet(c.config, 0, device);
  load_model_state(unet, c.file.tensors, weights == "ema" ? "ema." : "");
  const GaussianDiffusion diffusion(c.diffusion, device);
  const SampleOptions options{.sampler = sampler == "ddpm" ? Sampler::Ddpm : Sampler::Ddim,
                              .steps = sampler == "ddpm" ? 0 : steps,
                              .eta = static_cast<float>(eta),
                              .guidance = static_cast<float>(guidance)};
  Generator noise(seed);
  const Tensor samples = sample_ddpm(diffusion, unet, condition, n, noise, options);
  write_image_grid(out, samples, {.scale = 2, .low = -1.0f});
  const std::string how = sampler == "ddim" ? "ddim " + std::to_string(steps) + " steps" : sampler;
  std::printf("%lld samples (%s, step %lld, %s, guidance %.2f%s%s) -> %s\n", static_cast<long long>(n),
              checkpoint.c_str(), static_cast<long long>(c.iteration), how.c_str(), guidance,
              condition_text.empty() ? "" : ", ", condition_text.c_str(), out.c_str());
  if (!strip.empty()) {
    const Tensor first = condition != nullptr ? conditions.slice(0, 1).to(device) : Tensor();
    Generator gen(seed);
    const std::vector<Tensor> chain =
        diffusion.sample_chain(unet.denoiser(), {1, c.config.in_channels, c.config.image_size, c.config.image_size},
                               condition != nullptr ? &first : nullptr, gen, options, frames);
    const std::int64_t pixels = chain[0].numel();
    Tensor row = Tensor::empty({frames, c.config.in_channels, c.config.image_size, c.config.image_size});
    for (std::int64_t f = 0; f < frames; ++f)
      std::copy_n(chain[f].to(Device::cpu()).data<float>(), pixels, row.data<float>() + f * pixels);
    write_image_grid(strip, row, {.columns = static_cast<int>(frames), .scale = 2, .low = -1.0f});
    std::printf("denoising strip of %lld states -> %s\n", static_cast<long long>(frames), strip.c_str());
  }
  return 0;
}

}  // namespace cudl::cli
