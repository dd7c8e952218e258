// cudl train captioner: CS231n's CaptioningTransformer on emoji, scenes or
// CS231n's COCO files, with BLEU on the training and validation images as it
// goes; cudl caption: captions of PNG images from a trained checkpoint.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "autograd/var.h"
#include "core/device.h"
#include "core/error.h"
#include "core/formats/atomic_file.h"
#include "core/formats/safetensors.h"
#include "kernels/shape.h"
#include "tools/caption_sources.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/progress.h"
#include "tools/run_folder.h"
#include "train/captioning.h"
#include "train/image_grid.h"
#include "train/plot.h"
#include "train/png.h"
#include "train/run_folder.h"

namespace cudl::cli {

namespace {

namespace fs = std::filesystem;

struct CaptionerSettings {
  std::string data = "emoji";
  std::int64_t iters = 3000;
  std::int64_t batch_size = 64;
  double lr = 1e-3;
  std::string schedule = "constant";
  std::int64_t warmup = 0;
  double clip = 1.0;
  std::int64_t width = 256, heads = 4, layers = 2, feedforward = 512;
  std::vector<std::int64_t> encoder = {32, 64};
  std::int64_t eval_every = 500;
  std::int64_t eval_images = 500;
  std::int64_t beam = 1;
  std::int64_t grid_images = 16;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string fashion_mnist = kFashionMnistDir;
  std::int64_t scenes = 20000;
  std::string out;
  std::string device = "auto";
  std::string impl = "auto";
  bool resume = false;
  bool iters_given = false;
};

void add_captioner_flags(FlagParser& f, CaptionerSettings& s) {
  f.add("--data", "SRC", "emoji (Noto Color Emoji, named), scenes (Fashion-MNIST items on a grid) or coco:DIR "
        "(CS231n's COCO files)", "emoji", [&](const std::string& v) { s.data = v; });
  f.add("--iters", "N", "Adam steps", "3000", [&](const std::string& v) {
    s.iters = parse_int("--iters", v, 1, 100000000);
    s.iters_given = true;
  });
  f.add("--batch-size", "N", "captions per step", "64",
        [&](const std::string& v) { s.batch_size = parse_int("--batch-size", v, 1, 1 << 20); });
  f.add("--lr", "X", "Adam learning rate (betas 0.9, 0.999)", "0.001",
        [&](const std::string& v) { s.lr = parse_float("--lr", v, 0, false); });
  f.add("--schedule", "NAME",
        "learning rate schedule: constant, or cosine (a half cosine from --lr down to 0 at --iters, after a "
        "linear --warmup)",
        "constant", [&](const std::string& v) { s.schedule = parse_choice("--schedule", v, {"constant", "cosine"}); });
  f.add("--warmup", "N", "steps of linear warm-up of --schedule cosine", "0",
        [&](const std::string& v) { s.warmup = parse_int("--warmup", v, 0, 100000000); });
  f.add("--clip", "X", "clip the global gradient norm at X (0: never)", "1",
        [&](const std::string& v) { s.clip = parse_float("--clip", v, 0); });
  f.add("--width", "N", "model width (CS231n's wordvec_dim)", "256",
        [&](const std::string& v) { s.width = parse_int("--width", v, 1, 1 << 16); });
  f.add("--heads", "N", "attention heads (must divide --width)", "4",
        [&](const std::string& v) { s.heads = parse_int("--heads", v, 1, 1 << 10); });
  f.add("--layers", "N", "decoder layers", "2", [&](const std::string& v) { s.layers = parse_int("--layers", v, 1, 64); });
  f.add("--feedforward", "N", "hidden width of each layer's feed-forward net", "512",
        [&](const std::string& v) { s.feedforward = parse_int("--feedforward", v, 1, 1 << 16); });
  f.add("--encoder", "C1,C2,...", "channels of the image encoder's conv3x3-relu-maxpool stages (images only)", "32,64",
        [&](const std::string& v) { s.encoder = parse_int_list("--encoder", v, 1 << 12); });
  f.add("--eval-every", "N", "BLEU, plots, caption grid and checkpoints every N steps", "500",
        [&](const std::string& v) { s.eval_every = parse_int("--eval-every", v, 1); });
  f.add("--eval-images", "N", "images scored for BLEU per split (0: all)", "500",
        [&](const std::string& v) { s.eval_images = parse_int("--eval-images", v, 0); });
  f.add("--beam", "K", "beam width of the final evaluation (1: greedy, as during training)", "1",
        [&](const std::string& v) { s.beam = parse_int("--beam", v, 1, 64); });
  f.add("--grid", "N", "validation images in each caption grid", "16",
        [&](const std::string& v) { s.grid_images = parse_int("--grid", v, 1, 256); });
  f.add("--seed", "N", "seed of the initialisation, the batch order, the emoji split and the scenes", "0",
        [&](const std::string& v) { s.seed = static_cast<std::uint64_t>(parse_int("--seed", v, 0)); });
  f.add("--fashion-mnist", "DIR", "Fashion-MNIST folder for --data scenes", kFashionMnistDir,
        [&](const std::string& v) { s.fashion_mnist = v; });
  f.add("--scenes", "N", "training scenes of --data scenes (a tenth as many for validation)", "20000",
        [&](const std::string& v) { s.scenes = parse_int("--scenes", v, 1, 10000000); });
  f.add("--out", "DIR", "run folder", "runs/captioner-<data>-<timestamp>", [&](const std::string& v) { s.out = v; });
  add_impl_flag(f, s.impl);
  f.add("--device", "DEV", "auto (cuda when usable, else cpu), cpu, cuda or cuda:N", "auto",
        [&](const std::string& v) {
          if (v != "auto" && v != "cpu" && v != "cuda" && !v.starts_with("cuda:"))
            throw UsageError("--device must be auto, cpu, cuda or cuda:N, got '" + v + "'");
          s.device = v;
        });
  f.add("--threads", "N", "CPU threads", "every core",
        [&](const std::string& v) { s.threads = static_cast<int>(parse_int("--threads", v, 1, 4096)); });
  f.add_switch("--resume", "continue the run in --out DIR with its saved settings (--iters may extend it)", &s.resume);
}

struct EvalRow {
  std::int64_t iteration = 0;
  CaptionScores train, val;
};

void write_metrics_csv(const fs::path& path, const std::vector<EvalRow>& rows) {
  write_file_atomic(path.string(), [&](std::ostream& f) {
    f << "iteration,train_bleu1,train_bleu2,train_bleu3,train_bleu4,train_exact,val_bleu1,val_bleu2,val_bleu3,"
         "val_bleu4,val_exact\n";
    for (const EvalRow& r : rows) {
      f << r.iteration;
      for (const CaptionScores* s : {&r.train, &r.val}) {
        for (double b : s->bleu.bleu) f << ',' << b;
        f << ',' << s->exact_match;
      }
      f << '\n';
    }
  });
}

// The rows of an earlier metrics.csv (BLEU and exact match; what the plot needs).
std::vector<EvalRow> read_metrics_csv(const fs::path& path) {
  std::vector<EvalRow> rows;
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::vector<double> v;
    std::size_t pos = 0;
    while (pos <= line.size()) {
      const std::size_t comma = std::min(line.find(',', pos), line.size());
      v.push_back(std::strtod(line.substr(pos, comma - pos).c_str(), nullptr));
      pos = comma + 1;
    }
    CUDL_CHECK(v.size() == 11, path.string(), ": expected 11 columns per row, got ", v.size(), " in '", line.substr(0, 80), "'");
    EvalRow r;
    r.iteration = static_cast<std::int64_t>(v[0]);
    for (int k = 0; k < 4; ++k) r.train.bleu.bleu[k] = v[1 + k], r.val.bleu.bleu[k] = v[6 + k];
    r.train.exact_match = v[5], r.val.exact_match = v[10];
    rows.push_back(std::move(r));
  }
  return rows;
}

void plot_bleu(const fs::path& path, const std::vector<EvalRow>& rows) {
  std::vector<double> x, train1, train4, val1, val4;
  for (const EvalRow& r : rows) {
    x.push_back(static_cast<double>(r.iteration));
    train1.push_back(r.train.bleu.bleu[0]), train4.push_back(r.train.bleu.bleu[3]);
    val1.push_back(r.val.bleu.bleu[0]), val4.push_back(r.val.bleu.bleu[3]);
  }
  const Rgb blue{31, 119, 180}, orange{255, 127, 14};
  write_line_plot(path.string(),
                  {{"train BLEU-4", x, train4, blue, 2, true},
                   {"val BLEU-4", x, val4, orange, 2, true},
                   {"train BLEU-1", x, train1, {165, 200, 225}, 1, true},
                   {"val BLEU-1", x, val1, {255, 204, 153}, 1, true}},
                  {"Caption BLEU (greedy)", "iteration", "BLEU"});
}

std::string grid_path(const fs::path& run_dir, std::int64_t iteration) {
  char name[40];
  std::snprintf(name, sizeof name, "val_iter_%06lld.png", static_cast<long long>(iteration));
  return (run_dir / "captions" / name).string();
}

// The first validation images with the generated caption (dark) and the true one (green).
void write_caption_grid(const std::string& path, const CaptionDataset& val, const CaptionScores& scores,
                        std::int64_t count) {
  const std::int64_t n = std::min<std::int64_t>(count, std::ssize(scores.images));
  std::vector<std::vector<std::string>> lines;
  for (std::int64_t i = 0; i < n; ++i)
    lines.push_back({scores.hypotheses[static_cast<std::size_t>(i)], scores.references[static_cast<std::size_t>(i)]});
  write_captioned_grid(path, val.images.slice(scores.images[0], scores.images[static_cast<std::size_t>(n - 1)] + 1),
                       lines);
}

void print_scores(const char* split, const CaptionScores& s) {
  std::printf("  %-5s BLEU-1 %.3f  BLEU-2 %.3f  BLEU-3 %.3f  BLEU-4 %.3f  exact %.1f%%  (%zu images)\n", split,
              s.bleu.bleu[0], s.bleu.bleu[1], s.bleu.bleu[2], s.bleu.bleu[3], 100.0 * s.exact_match, s.images.size());
}

int usage_error(const char* command, const UsageError& e) {
  std::fprintf(stderr, "%s: error: %s (see %s --help)\n", command, e.what(), command);
  return 2;
}

}  // namespace

int cmd_train_captioner(const Args& args) {
  CaptionerSettings s;
  FlagParser flags("cudl train captioner", "[options]",
                   "Trains CS231n's CaptioningTransformer: a conv encoder (or precomputed features) gives the\n"
                   "memory tokens, a post-norm Transformer decoder writes the caption. Adam with gradient clipping\n"
                   "on the temporal softmax loss. Every --eval-every steps: greedy captions of training and\n"
                   "validation images scored by corpus BLEU-1..4 (metrics.csv, bleu.png), loss.png, a grid of\n"
                   "validation images with generated and true captions (captions/), checkpoint.safetensors\n"
                   "(torch.nn names; docs/captioner.md) and state.safetensors (--resume). Ctrl-C saves and stops.");
  add_captioner_flags(flags, s);
  try {
    std::vector<std::string> positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (s.resume) {
      if (s.out.empty()) throw UsageError("--resume needs --out DIR, the run folder to continue");
      const std::string out = s.out;
      const std::string device = s.device;
      const std::int64_t iters = s.iters;
      const bool extended = s.iters_given;
      s = CaptionerSettings{};
      FlagParser replay("cudl train captioner", "", "");
      add_captioner_flags(replay, s);
      replay.parse(saved_run_args(out));
      if (extended) s.iters = iters;
      s.out = out, s.device = device, s.resume = true;
    }
    if (!positional.empty()) throw UsageError("unexpected argument '" + positional[0] + "'");
    if (s.width % s.heads != 0) throw UsageError("--heads " + std::to_string(s.heads) + " must divide --width " + std::to_string(s.width));
  } catch (const UsageError& e) {
    return usage_error("cudl train captioner", e);
  }

  if (s.threads > 0) omp_set_num_threads(s.threads);
  const Device device = parse_device(s.device);
  const ImplScope impl_scope(Impl(s.impl));  // every op of the model and the optimizer
  CaptionSource data;
  try {
    data = load_caption_source(s.data, {.seed = s.seed, .fashion_mnist = s.fashion_mnist, .scenes = s.scenes});
  } catch (const UsageError& e) {
    return usage_error("cudl train captioner", e);
  }
  std::printf("device: %s\n", describe(device).c_str());
  const fs::path run_dir = s.out.empty() ? fs::path("runs") / ("captioner-" + data.kind + "-" + timestamp()) : fs::path(s.out);
  const RunFolderLock lock(run_dir);
  fs::create_directories(run_dir / "captions");

  CaptionerConfig config;
  config.wordvec_dim = s.width, config.num_heads = s.heads, config.num_layers = s.layers;
  config.feedforward = s.feedforward, config.encoder_channels = s.encoder, config.max_length = 0;
  CaptionTrainer trainer(data.train, {.model = config,
                                      .batch_size = s.batch_size,
                                      .schedule = s.schedule == "cosine"
                                                      ? LrSchedule::warmup_cosine(static_cast<float>(s.lr),
                                                                                  std::min(s.warmup, s.iters), s.iters)
                                                      : LrSchedule::constant(static_cast<float>(s.lr)),
                                      .clip_norm = static_cast<float>(s.clip),
                                      .seed = s.seed,
                                      .device = device});
  std::printf("model: %s, %lld parameters\n", trainer.model().name().c_str(),
              static_cast<long long>(trainer.model().num_parameters()));
  const fs::path state_path = run_dir / "state.safetensors", checkpoint_path = run_dir / "checkpoint.safetensors";
  std::vector<EvalRow> rows;
  if (s.resume) {
    CUDL_CHECK(fs::exists(state_path), "--resume: ", run_dir.string(), " has no state.safetensors");
    trainer.load_state(state_path.string());
    if (fs::exists(run_dir / "metrics.csv")) rows = read_metrics_csv(run_dir / "metrics.csv");
    while (!rows.empty() && rows.back().iteration > trainer.iteration()) rows.pop_back();  // evaluated after the save
    std::printf("resumed %s at iteration %lld\n", run_dir.string().c_str(), static_cast<long long>(trainer.iteration()));
  } else {
    save_run_args(run_dir, args);
  }
  std::printf("optimizer: adam, %s, clip %g, batch %lld, %lld steps (%lld per epoch)\nrun folder: %s\n", trainer.options().schedule.describe().c_str(), s.clip,
              static_cast<long long>(s.batch_size), static_cast<long long>(s.iters),
              static_cast<long long>(trainer.batches_per_epoch()), run_dir.string().c_str());
  std::fflush(stdout);

  const std::map<std::string, std::string> metadata{{"data", s.data}};
  const auto evaluate = [&](std::int64_t beam) {
    EvalRow row{trainer.iteration(), score_captions(trainer.model(), data.train, s.eval_images, beam),
                score_captions(trainer.model(), data.val, s.eval_images, beam)};
    return row;
  };
  const auto save = [&](const EvalRow* row) {
    trainer.save_checkpoint(checkpoint_path.string(), metadata);
    trainer.save_state(state_path.string());
    const std::vector<double> losses(trainer.losses().begin(), trainer.losses().end());
    if (!losses.empty()) plot_loss((run_dir / "loss.png").string(), losses, "Captioning loss");
    if (row == nullptr) return;
    write_metrics_csv(run_dir / "metrics.csv", rows);
    plot_bleu(run_dir / "bleu.png", rows);
    if (data.val.images.dim() == 4) write_caption_grid(grid_path(run_dir, row->iteration), data.val, row->val, s.grid_images);
  };

  Progress progress(isatty(fileno(stdout)) != 0);
  const std::int64_t first = trainer.iteration();
  const auto start = std::chrono::steady_clock::now();
  double eval_seconds = 0.0;
  catch_interrupts();
  while (trainer.iteration() < s.iters && !interrupted()) {
    const float loss = trainer.step();
    const std::int64_t it = trainer.iteration();
    const bool eval_now = it % s.eval_every == 0 && it < s.iters;
    if (progress.due(eval_now || it % std::max<std::int64_t>(1, s.iters / 20) == 0)) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - eval_seconds;
      const double per_step = elapsed / static_cast<double>(it - first);
      char line[200];
      std::snprintf(line, sizeof line, "iter %lld/%lld  epoch %lld  loss %.4f  %.0f captions/s  ETA %s",
                    static_cast<long long>(it), static_cast<long long>(s.iters),
                    static_cast<long long>(trainer.epoch() + 1), loss, static_cast<double>(s.batch_size) / per_step,
                    format_seconds(per_step * static_cast<double>(s.iters - it)).c_str());
      progress.show(line);
    }
    if (eval_now) {
      const auto eval_start = std::chrono::steady_clock::now();
      rows.push_back(evaluate(1));
      progress.clear();
      std::printf("iter %lld: greedy captions\n", static_cast<long long>(it));
      print_scores("train", rows.back().train);
      print_scores("val", rows.back().val);
      save(&rows.back());
      eval_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
    }
  }
  release_interrupts();
  progress.clear();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (trainer.iteration() < s.iters) {
    save(nullptr);
    std::printf("stopped at iteration %lld; continue with: cudl train captioner --resume --out %s\n",
                static_cast<long long>(trainer.iteration()), run_dir.string().c_str());
    return 130;
  }
  std::printf("trained %lld steps in %s (%.0f captions/s, evaluation included)\n",
              static_cast<long long>(trainer.iteration() - first), format_seconds(seconds).c_str(),
              static_cast<double>((trainer.iteration() - first) * s.batch_size) / std::max(seconds, 1e-9));
  rows.push_back(evaluate(s.beam));
  std::printf("final captions (%s):\n", s.beam > 1 ? ("beam " + std::to_string(s.beam)).c_str() : "greedy");
  print_scores("train", rows.back().train);
  print_scores("val", rows.back().val);
  save(&rows.back());
  const CaptionScores& val = rows.back().val;
  for (std::size_t i = 0; i < std::min<std::size_t>(5, val.images.size()); ++i)
    std::printf("  val image %lld: \"%s\" (true: \"%s\")\n", static_cast<long long>(val.images[i]),
                val.hypotheses[i].c_str(), val.references[i].c_str());
  std::printf("checkpoint: %s\n", checkpoint_path.string().c_str());
  if (data.val.images.dim() == 4) std::printf("captions: %s\n", grid_path(run_dir, trainer.iteration()).c_str());
  return 0;
}

int cmd_caption(const Args& args) {
  std::string checkpoint, device_name = "cpu", logits_path;
  std::int64_t beam = 1;
  bool black = false;
  FlagParser flags("cudl caption", "--checkpoint F [options] IMAGE.png...",
                   "Prints a caption for each PNG image, from a checkpoint of `cudl train captioner`. The image\n"
                   "must have the size the model was trained on; transparency is composited onto white.");
  flags.add("--checkpoint", "F", "checkpoint.safetensors of a captioner run", "", [&](const std::string& v) { checkpoint = v; });
  flags.add("--beam", "K", "beam search of width K (1: greedy)", "1",
            [&](const std::string& v) { beam = parse_int("--beam", v, 1, 64); });
  flags.add("--device", "DEV", "cpu, cuda or cuda:N", "cpu", [&](const std::string& v) { device_name = v; });
  flags.add_switch("--black", "composite transparency onto black (emoji trained with --black)", &black);
  flags.add("--logits", "F",
            "also write F.safetensors: the images, the captions fed back (<START> + words) and the model's\n"
            "scores for them, for scripts/torch_captioner.py to compare with PyTorch",
            "", [&](const std::string& v) { logits_path = v; });
  std::vector<std::string> images;
  try {
    images = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (checkpoint.empty()) throw UsageError("--checkpoint F is required");
    if (images.empty()) throw UsageError("expected at least one IMAGE.png");
  } catch (const UsageError& e) {
    return usage_error("cudl caption", e);
  }
  LoadedCaptioner loaded = load_captioner_checkpoint(checkpoint, parse_device(device_name));
  const Shape& shape = loaded.model->config().input_shape;
  CUDL_CHECK(shape.size() == 3, checkpoint, ": this captioner reads ", shape[0],
             "-dimensional feature vectors, not images");
  std::vector<Tensor> batch;
  for (const std::string& path : images) {
    const Tensor image = png_to_tensor(read_png(path, static_cast<int>(shape[0]), black));
    check_caption_image(image, shape, path);
    batch.push_back(image.reshape({1, shape[0], shape[1], shape[2]}));
  }
  std::vector<const Tensor*> parts;
  for (const Tensor& image : batch) parts.push_back(&image);
  const Tensor inputs = concat_forward(parts, 0);
  const std::vector<std::vector<std::int64_t>> ids =
      beam > 1 ? loaded.model->sample_beam(inputs, beam) : loaded.model->sample_greedy(inputs);
  for (std::size_t i = 0; i < images.size(); ++i)
    std::printf("%s: %s\n", images[i].c_str(), loaded.vocab.decode(ids[i]).c_str());
  if (!logits_path.empty()) {
    // The captions as the model reads them: <START>, then the words, <NULL>-padded.
    const std::int64_t n = inputs.size(0), t = loaded.model->config().max_length;
    std::vector<std::int64_t> fed(static_cast<std::size_t>(n * t), kNullToken);
    for (std::int64_t i = 0; i < n; ++i) {
      fed[static_cast<std::size_t>(i * t)] = kStartToken;
      const auto& words = ids[static_cast<std::size_t>(i)];
      for (std::size_t j = 0; j + 1 < static_cast<std::size_t>(t) && j < words.size(); ++j)
        fed[static_cast<std::size_t>(i * t) + j + 1] = words[j];
    }
    const Tensor captions = Tensor::from_vector(fed, {n, t});
    NoGradGuard no_grad;
    loaded.model->set_training(false);
    const Device device = loaded.model->device();
    const Var scores = loaded.model->forward(Var(inputs.to(device)), captions.to(device));
    TensorMap out;
    out.emplace("images", inputs.view());
    out.emplace("captions", captions.view());
    out.emplace("scores", scores.value().view());
    write_safetensors(logits_path, out);
    std::printf("logits: %s\n", logits_path.c_str());
  }
  return 0;
}

}  // namespace cudl::cli
