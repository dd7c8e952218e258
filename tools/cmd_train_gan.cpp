// cudl train gan: trains one of CS231n's GANs on Fashion-MNIST (or any MNIST-format
// folder of 28x28 images) and leaves a run folder with sample grids, loss plots,
// a torch-loadable checkpoint and the state that --resume continues bit for bit.
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "autograd/var.h"
#include "core/device.h"
#include "core/error.h"
#include "core/formats/atomic_file.h"
#include "data/dataset.h"
#include "train/gan.h"
#include "train/image_grid.h"
#include "train/plot.h"
#include "train/run_folder.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/progress.h"
#include "tools/run_folder.h"
#include "tools/sample_scoring.h"

namespace cudl::cli {

namespace {

namespace fs = std::filesystem;

struct GanSettings {
  std::string model = "fc";
  std::string loss = "vanilla";
  std::int64_t iters = 0, epochs = 0;  // at most one given; neither: CS231n's epochs
  std::int64_t batch_size = 128;
  std::int64_t noise_dim = 96;
  double lr = 1e-3;
  std::int64_t sample_every = 250;
  std::int64_t subset = 0;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string data = kFashionMnistDir;
  std::string out;
  std::string device = "auto";
  std::string impl = "auto";
  std::string classifier;  // empty: no score at the end
  std::int64_t score_count = 10000;
  bool resume = false;
};

// CS231n trains the fc GANs 10 epochs and the DCGAN 5.
std::int64_t default_epochs(const GanSettings& s) { return s.model == "dcgan" ? 5 : 10; }

void add_gan_flags(FlagParser& f, GanSettings& s) {
  f.add("--model", "NAME", "fc (CS231n's fully connected nets) or dcgan (conv discriminator, InfoGAN generator)", "fc",
        [&](const std::string& v) { s.model = parse_choice("--model", v, {"fc", "dcgan"}); });
  f.add("--loss", "NAME", "vanilla (BCE on logits) or ls (least squares, LSGAN)", "vanilla",
        [&](const std::string& v) { s.loss = parse_choice("--loss", v, {"vanilla", "ls"}); });
  f.add("--iters", "N", "iterations (one D step and one G step each)", "10 epochs fc, 5 dcgan",
        [&](const std::string& v) { s.iters = parse_int("--iters", v, 1); });
  f.add("--epochs", "N", "passes over the training images instead of --iters", "",
        [&](const std::string& v) { s.epochs = parse_int("--epochs", v, 1); });
  f.add("--batch-size", "N", "real images per iteration (as many fakes)", "128",
        [&](const std::string& v) { s.batch_size = parse_int("--batch-size", v, 1); });
  f.add("--noise-dim", "N", "dimension of the generator's uniform noise", "96",
        [&](const std::string& v) { s.noise_dim = parse_int("--noise-dim", v, 1); });
  f.add("--lr", "X", "Adam learning rate of both nets (betas 0.5, 0.999)", "0.001",
        [&](const std::string& v) { s.lr = parse_float("--lr", v, 0, false); });
  f.add("--sample-every", "N", "write a sample grid, the checkpoint and the plots every N iterations", "250",
        [&](const std::string& v) { s.sample_every = parse_int("--sample-every", v, 1); });
  f.add("--subset", "N", "train on the first N training images only", "all",
        [&](const std::string& v) { s.subset = parse_int("--subset", v, 1); });
  f.add("--seed", "N", "seed of the initialisation, the noise and the batch order", "0",
        [&](const std::string& v) { s.seed = static_cast<std::uint64_t>(parse_int("--seed", v, 0)); });
  f.add("--data", "DIR", "folder with the MNIST-format files (28x28 grey images)", kFashionMnistDir,
        [&](const std::string& v) { s.data = v; });
  f.add("--out", "DIR", "run folder", "runs/gan-<model>-<loss>-<timestamp>", [&](const std::string& v) { s.out = v; });
  add_impl_flag(f, s.impl);
  f.add("--device", "DEV", "auto (cuda when usable, else cpu), cpu, cuda or cuda:N", "auto",
        [&](const std::string& v) {
          if (v != "auto" && v != "cpu" && v != "cuda" && !v.starts_with("cuda:"))
            throw UsageError("--device must be auto, cpu, cuda or cuda:N, got '" + v + "'");
          s.device = v;
        });
  f.add("--threads", "N", "CPU threads", "every core",
        [&](const std::string& v) { s.threads = static_cast<int>(parse_int("--threads", v, 1)); });
  f.add("--classifier", "FILE",
        "at the end, score --score-count samples of the generator with this classifier checkpoint (cudl train "
        "convnet --model deep; docs/sample-quality.md): FID and IS on its features, its label histogram; score.txt",
        "", [&](const std::string& v) { s.classifier = v; });
  f.add("--score-count", "N", "samples --classifier scores (as many as the test images, for FID)", "10000",
        [&](const std::string& v) { s.score_count = parse_int("--score-count", v, 2); });
  f.add_switch("--resume", "continue the run in --out DIR (same settings; --iters or --epochs may extend it)",
               &s.resume);
}

void write_losses_csv(const fs::path& path, const GanTrainer& trainer) {
  write_file_atomic(path.string(), [&](std::ostream& f) {
    f << "iteration,discriminator_loss,generator_loss\n";
    for (std::size_t i = 0; i < trainer.discriminator_losses().size(); ++i)
      f << i + 1 << ',' << trainer.discriminator_losses()[i] << ',' << trainer.generator_losses()[i] << '\n';
  });
}

void plot_gan_losses(const fs::path& path, const GanTrainer& trainer) {
  const std::vector<double> d(trainer.discriminator_losses().begin(), trainer.discriminator_losses().end());
  const std::vector<double> g(trainer.generator_losses().begin(), trainer.generator_losses().end());
  const Rgb blue{31, 119, 180}, orange{255, 127, 14};
  write_line_plot(path.string(),
                  {{"D", {}, d, {165, 200, 225}}, {"G", {}, g, {255, 204, 153}},
                   {"D smoothed", {}, smooth(d), blue, 2}, {"G smoothed", {}, smooth(g), orange, 2}},
                  {"GAN losses", "iteration", "loss"});
}

std::string sample_grid_path(const fs::path& run_dir, std::int64_t iteration) {
  char name[32];
  std::snprintf(name, sizeof name, "iter_%06lld.png", static_cast<long long>(iteration));
  return (run_dir / "samples" / name).string();
}

// Everything a look at the run needs, as of now: the grid of the fixed noise, the
// checkpoint, the state for --resume, the losses.
void save_progress(const fs::path& run_dir, GanTrainer& trainer) {
  write_image_grid(sample_grid_path(run_dir, trainer.iteration()), trainer.samples(),
                   {.columns = 8, .padding = 2, .scale = 1, .low = -1.0f, .high = 1.0f});
  trainer.save_checkpoint((run_dir / "last.safetensors").string());
  trainer.save_state((run_dir / "state.safetensors").string());
  if (trainer.iteration() > 0) {
    write_losses_csv(run_dir / "losses.csv", trainer);
    plot_gan_losses(run_dir / "loss.png", trainer);
  }
}

}  // namespace

int cmd_train_gan(const Args& args) {
  GanSettings s;
  FlagParser flags("cudl train gan", "[options]",
                   "Trains a GAN of CS231n's assignment 3 on Fashion-MNIST: each iteration one discriminator step\n"
                   "and one generator step, Adam for both. Prints the D and G losses; the run folder gets a\n"
                   "sample grid of the same 64 noise vectors every --sample-every iterations (samples/), loss.png,\n"
                   "losses.csv, last.safetensors (torch.nn state_dict names; see docs/gan.md and `cudl sample gan`)\n"
                   "and state.safetensors (for --resume). Ctrl-C stops after the current iteration and saves.");
  add_gan_flags(flags, s);
  try {
    std::vector<std::string> positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (s.resume) {
      if (s.out.empty()) throw UsageError("--resume needs --out DIR, the run folder to continue");
      // The saved settings first, then whatever this command line overrides.
      const std::string out = s.out;
      const bool extended = s.iters > 0 || s.epochs > 0;
      s = GanSettings{};
      FlagParser replay("cudl train gan", "", "");
      add_gan_flags(replay, s);
      replay.parse(saved_run_args(out));
      if (extended) s.iters = s.epochs = 0;  // the new length replaces the saved one
      positional = flags.parse(args);
      s.out = out;
      s.resume = true;
    }
    if (!positional.empty()) throw UsageError("unexpected argument '" + positional[0] + "'");
    if (s.iters > 0 && s.epochs > 0) throw UsageError("give --iters or --epochs, not both");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cudl train gan: error: %s (see cudl train gan --help)\n", e.what());
    return 2;
  }

  if (s.threads > 0) omp_set_num_threads(s.threads);
  const Device device = parse_device(s.device);
  std::printf("device: %s\n", describe(device).c_str());
  const ImplScope impl_scope(Impl(s.impl));  // every op of the models and the optimizers
  if (s.impl != "auto") std::printf("impl: %s\n", s.impl.c_str());
  DatasetSplits splits = load_mnist_format(s.data, fashion_mnist_classes());
  Dataset& train = splits.train;
  CUDL_CHECK(train.channels() == 1 && train.height() == kGanImageSide && train.width() == kGanImageSide, "data ",
             s.data, ": the GANs take grey ", kGanImageSide, "x", kGanImageSide, " images, these are ",
             train.channels(), "-channel ", train.height(), "x", train.width());
  if (s.subset > 0 && s.subset < train.size()) train = train.slice(0, s.subset);
  const std::int64_t image_count = train.size();
  // Loaded before training, so that a wrong classifier fails now rather than at the end.
  std::optional<SampleScorer> scorer;
  if (!s.classifier.empty()) scorer.emplace(s.classifier, s.data, device);
  std::printf("data: %s: %lld training images\n", s.data.c_str(), static_cast<long long>(image_count));

  GanTrainer trainer(std::move(train), {.model = s.model,
                                        .loss = parse_gan_loss(s.loss),
                                        .noise_dim = s.noise_dim,
                                        .batch_size = s.batch_size,
                                        .lr = static_cast<float>(s.lr),
                                        .seed = s.seed,
                                        .device = device});
  const std::int64_t total =
      s.iters > 0 ? s.iters : (s.epochs > 0 ? s.epochs : default_epochs(s)) * trainer.iterations_per_epoch();
  std::printf("model: %s GAN, %s loss: generator %lld parameters, discriminator %lld\n", s.model.c_str(),
              s.loss.c_str(), static_cast<long long>(trainer.generator().num_parameters()),
              static_cast<long long>(trainer.discriminator().num_parameters()));

  const fs::path run_dir =
      s.out.empty() ? fs::path("runs") / ("gan-" + s.model + "-" + s.loss + "-" + timestamp()) : fs::path(s.out);
  const RunFolderLock lock(run_dir);
  fs::create_directories(run_dir / "samples");
  if (s.resume) {
    trainer.load_state((run_dir / "state.safetensors").string());
    std::printf("resumed %s at iteration %lld\n", run_dir.string().c_str(),
                static_cast<long long>(trainer.iteration()));
  } else {
    save_run_args(run_dir, args);
    save_progress(run_dir, trainer);  // iteration 0: what the untrained generator makes
  }
  std::printf("optimizer: adam(lr=%g, beta1=0.5, beta2=0.999) for both nets, batch %lld, %lld iterations "
              "(%lld per epoch)\nrun folder: %s\n",
              s.lr, static_cast<long long>(s.batch_size), static_cast<long long>(total),
              static_cast<long long>(trainer.iterations_per_epoch()), run_dir.string().c_str());
  std::fflush(stdout);

  Progress progress(isatty(fileno(stdout)) != 0);
  const std::int64_t first = trainer.iteration();
  const auto start = std::chrono::steady_clock::now();
  catch_interrupts();
  std::int64_t saved = trainer.iteration();  // what state.safetensors holds
  while (trainer.iteration() < total && !interrupted()) {
    GanLosses losses;
    try {
      losses = trainer.step();
    } catch (const Error& e) {  // a diverged step: nothing after the last save is written
      progress.clear();
      throw Error(std::string(e.what()) + "; " + (run_dir / "state.safetensors").string() + " keeps iteration " +
                  std::to_string(saved));
    }
    const std::int64_t it = trainer.iteration();
    const bool sample_now = it % s.sample_every == 0 || it == total;
    if (progress.due(sample_now || it % std::max<std::int64_t>(1, total / 20) == 0)) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double per_iteration = elapsed / static_cast<double>(it - first);
      char line[200];
      std::snprintf(line, sizeof line, "iter %lld/%lld  D %.4f  G %.4f  %.0f img/s  ETA %s",
                    static_cast<long long>(it), static_cast<long long>(total), losses.discriminator,
                    losses.generator, static_cast<double>(s.batch_size) / per_iteration,
                    format_seconds(per_iteration * static_cast<double>(total - it)).c_str());
      progress.show(line);
    }
    if (sample_now) {
      save_progress(run_dir, trainer);
      saved = it;
    }
  }
  release_interrupts();
  progress.clear();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (trainer.iteration() < total) {
    save_progress(run_dir, trainer);
    std::printf("stopped at iteration %lld; continue with: cudl train gan --resume --out %s\n",
                static_cast<long long>(trainer.iteration()), run_dir.string().c_str());
    return 130;
  }
  const std::int64_t done = trainer.iteration() - first;
  std::printf("trained %lld iterations in %s (%.0f img/s)\nsamples: %s\ncheckpoint: %s\n",
              static_cast<long long>(done), format_seconds(seconds).c_str(),
              seconds > 0 ? static_cast<double>(done * s.batch_size) / seconds : 0.0,
              sample_grid_path(run_dir, trainer.iteration()).c_str(),
              (run_dir / "last.safetensors").string().c_str());
  if (scorer) {
    // The same figures as `cudl score --checkpoint last.safetensors --seed 0`.
    const std::string text =
        scorer->describe() + "scoring: " + std::to_string(s.score_count) + " samples (seed 0)\n" +
        scorer->report(scorer->score(gan_samples_for_scoring(trainer.generator(), s.noise_dim, s.score_count, 0, device)));
    std::printf("%s", text.c_str());
    write_file_atomic((run_dir / "score.txt").string(), [&](std::ostream& f) { f << text; });
  }
  return 0;
}

}  // namespace cudl::cli
