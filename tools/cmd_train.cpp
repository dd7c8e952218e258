// cudl train: trains a built-in model on Fashion-MNIST (or any MNIST-format
// folder) and leaves a run folder with checkpoints, metrics and plots.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "autograd/var.h"
#include "core/cpu_threads.h"
#include "core/device.h"
#include "core/error.h"
#include "core/formats/atomic_file.h"
#include "core/formats/json.h"
#include "data/dataset.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/plot.h"
#include "train/run_folder.h"
#include "train/solver.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/progress.h"
#include "tools/run_folder.h"

namespace cudl::cli {

namespace {

namespace fs = std::filesystem;

struct TrainSettings {
  std::string task;                  // convnet | fcnet
  std::string model = "small";  // convnet: three_layer | small | deep
  std::string device = "auto";
  std::string impl = "auto";
  std::int64_t epochs = 0;      // 0: the model's default
  std::int64_t batch_size = 64;
  double lr = 1e-3;
  std::string optimizer = "adam";
  double weight_decay = 0.0;
  double lr_decay = 0.9;  // used by --schedule step
  std::string schedule = "cosine";
  int threads = 0;  // 0: the CPUs this process may use (core/cpu_threads.h)
  std::uint64_t seed = 0;
  std::string data = kFashionMnistDir;
  std::string out;
  bool resume = false;
  std::int64_t subset = 0;
  std::int64_t val = 5000;
  std::int64_t max_steps = 0;
  std::vector<std::int64_t> hidden, channels;
  std::string norm;
  double dropout = -1.0;
  std::int64_t crop_padding = 0;
  bool flip = false;
  std::int64_t save_every = 0;  // steps; 0: every kSaveSeconds
  bool skip_nonfinite = false;
};

// Without --save-every, the resumable state is written this often during an
// epoch, so a kill -9 loses at most this much training.
constexpr double kSaveSeconds = 120;

// Each model's default number of epochs (when --epochs is not given): `small`
// is the default because it passes 91% test accuracy within minutes on a
// 2-core CPU; `deep` is the one for 93%.
std::int64_t default_epochs(const TrainSettings& s) {
  if (s.task == "fcnet") return 10;
  return s.model == "deep" ? 4 : (s.model == "small" ? 3 : 8);
}

void add_train_flags(FlagParser& f, TrainSettings& s) {
  f.add("--model", "NAME",
        "convnet: three_layer (CS231n's ThreeLayerConvNet), small (conv32-bn-relu-pool, conv64-bn-relu-pool,\n"
        "                          fc128-bn-relu, fc) or deep (two conv-bn-relu per stage, fc256, dropout 0.3)",
        "small", [&](const std::string& v) { s.model = parse_choice("--model", v, {"three_layer", "small", "deep"}); });
  f.add("--device", "DEV", "auto (cuda when usable, else cpu), cpu, cuda or cuda:N", "auto",
        [&](const std::string& v) {
          if (v != "auto" && v != "cpu" && v != "cuda" && !v.starts_with("cuda:"))
            throw UsageError("--device must be auto, cpu, cuda or cuda:N, got '" + v + "'");
          s.device = v;
        });
  add_impl_flag(f, s.impl);
  f.add("--epochs", "N", "passes over the training set", "3 small, 8 three_layer, 4 deep, 10 fcnet",
        [&](const std::string& v) { s.epochs = parse_int("--epochs", v, 1, 100000); });
  f.add("--batch-size", "N", "images per step", "64",
        [&](const std::string& v) { s.batch_size = parse_int("--batch-size", v, 1, 1 << 20); });
  f.add("--lr", "X", "learning rate", "0.001", [&](const std::string& v) { s.lr = parse_float("--lr", v, 0, false); });
  f.add("--optimizer", "NAME", "update rule: sgd, momentum (0.9), rmsprop, adam or adamw", "adam",
        [&](const std::string& v) {
          s.optimizer = parse_choice("--optimizer", v, {"sgd", "momentum", "rmsprop", "adam", "adamw"});
        });
  f.add("--weight-decay", "X", "L2 weight decay (decoupled for adamw)", "0, adamw 0.01",
        [&](const std::string& v) { s.weight_decay = parse_float("--weight-decay", v, 0); });
  f.add("--schedule", "NAME", "learning-rate schedule: constant, step (x lr-decay per epoch) or cosine (to 0)",
        "cosine", [&](const std::string& v) { s.schedule = parse_choice("--schedule", v, {"constant", "step", "cosine"}); });
  f.add("--lr-decay", "X", "per-epoch factor of --schedule step (CS231n's lr_decay)", "0.9",
        [&](const std::string& v) { s.lr_decay = parse_float("--lr-decay", v, 0, false); });
  f.add("--seed", "N", "seed of the initialisation, dropout and shuffling", "0",
        [&](const std::string& v) { s.seed = static_cast<std::uint64_t>(parse_int("--seed", v, 0)); });
  f.add("--data", "DIR", "folder with the four MNIST-format files", kFashionMnistDir,
        [&](const std::string& v) { s.data = v; });
  f.add("--out", "DIR", "run folder (checkpoints, metrics.csv, plots)", "runs/<model>-<timestamp>",
        [&](const std::string& v) { s.out = v; });
  f.add_switch("--resume", "continue the interrupted run in --out DIR (same settings unless overridden)",
               &s.resume);
  f.add("--subset", "N", "train on the first N training images only", "all",
        [&](const std::string& v) { s.subset = parse_int("--subset", v, 1); });
  f.add("--val", "N", "images held out of the training set for validation (the last N)", "5000",
        [&](const std::string& v) { s.val = parse_int("--val", v, 0); });
  f.add("--hidden", "N,N,...", "hidden fc widths", "100 three_layer, 128 small, 256 deep, 512,256 fcnet",
        [&](const std::string& v) { s.hidden = parse_int_list("--hidden", v, 1 << 16); });
  f.add("--channels", "N,N,...", "small, deep: conv channels of each stage", "32,64",
        [&](const std::string& v) { s.channels = parse_int_list("--channels", v, 4096); });
  f.add("--norm", "NAME", "fcnet: none, batch or layer", "batch",
        [&](const std::string& v) { s.norm = parse_choice("--norm", v, {"none", "batch", "layer"}); });
  f.add("--dropout", "P", "probability of dropping (0 = no dropout)", "0.3 deep, 0 otherwise", [&](const std::string& v) {
    s.dropout = parse_float("--dropout", v, 0);
    if (s.dropout >= 1) throw UsageError("--dropout must be < 1, got " + v);
  });
  f.add("--crop-padding", "N", "augment: pad by N and crop back at a random offset", "0",
        [&](const std::string& v) { s.crop_padding = parse_int("--crop-padding", v, 0, 64); });
  f.add_switch("--flip", "augment: flip images horizontally at random", &s.flip);
  f.add("--threads", "N", "CPU threads (on a busy machine fewer threads can be faster)", "the usable CPUs",
        [&](const std::string& v) { s.threads = static_cast<int>(parse_int("--threads", v, 1, 1024)); });
  f.add("--max-steps", "N", "stop after N steps in total, resumable with --resume", "no limit",
        [&](const std::string& v) { s.max_steps = parse_int("--max-steps", v, 1); });
  f.add("--save-every", "N", "also write the resumable state every N steps within an epoch", "every 2 minutes",
        [&](const std::string& v) { s.save_every = parse_int("--save-every", v, 1); });
  f.add_switch("--skip-nonfinite",
               "skip steps whose loss or gradient is NaN or infinite instead of stopping the run", &s.skip_nonfinite);
}

ModelConfig model_config(const TrainSettings& s, const Dataset& train) {
  ModelConfig c = ModelConfig::defaults(s.task == "fcnet" ? "fcnet" : (s.model == "small" ? "deep" : s.model));
  if (s.task == "convnet" && s.model == "small") {
    c.convs_per_stage = 1;
    c.hidden = {128};
    c.dropout = 0.0f;
  }
  c.in_channels = train.channels();
  c.height = train.height();
  c.width = train.width();
  c.num_classes = train.num_classes();
  if (!s.hidden.empty()) c.hidden = s.hidden;
  if (!s.channels.empty()) c.channels = s.channels;
  if (!s.norm.empty()) c.norm = s.norm;
  if (s.dropout >= 0) c.dropout = static_cast<float>(s.dropout);
  return c;
}

void write_metrics_csv(const fs::path& path, const std::vector<EpochRecord>& records) {
  std::ofstream f(path);
  f << "epoch,train_loss,train_accuracy,val_accuracy,lr,seconds,images_per_second\n";
  for (const EpochRecord& r : records)
    f << r.epoch << ',' << r.train_loss << ',' << r.train_accuracy << ',' << r.val_accuracy << ',' << r.lr << ','
      << r.seconds << ',' << r.images_per_second << '\n';
  CUDL_CHECK(f.good(), "cannot write ", path.string());
}

void write_plots(const fs::path& dir, const Solver& solver) {
  const std::vector<double> losses(solver.loss_history().begin(), solver.loss_history().end());
  plot_loss((dir / "loss.png").string(), losses);
  std::vector<double> train_acc, val_acc;
  for (const EpochRecord& r : solver.history()) {
    train_acc.push_back(r.train_accuracy);
    val_acc.push_back(r.val_accuracy);
  }
  plot_accuracy((dir / "accuracy.png").string(), train_acc, val_acc);
}

}  // namespace

int cmd_train(const Args& args) {
  if (!args.empty() && args[0] == "gan") return cmd_train_gan(Args(args.begin() + 1, args.end()));
  if (!args.empty() && args[0] == "ddpm") return cmd_train_ddpm(Args(args.begin() + 1, args.end()));
  if (!args.empty() && args[0] == "captioner") return cmd_train_captioner(Args(args.begin() + 1, args.end()));
  TrainSettings s;
  FlagParser flags("cudl train", "convnet|fcnet [options]  (also: cudl train gan|ddpm|captioner --help)",
                   "Trains a classifier on Fashion-MNIST. Prints progress and per-epoch accuracy, then the test\n"
                   "accuracy of the best-validation parameters and a confusion matrix. The run folder gets\n"
                   "best.safetensors and last.safetensors (torch.nn state_dict names; see `cudl eval`),\n"
                   "state.safetensors (for --resume), metrics.csv, loss.png and accuracy.png. Ctrl-C stops\n"
                   "after the current step and saves the state for --resume. GANs: see `cudl train gan --help`.");
  add_train_flags(flags, s);
  std::vector<std::string> positional;
  try {
    positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (s.resume) {
      if (s.out.empty()) throw UsageError("--resume needs --out DIR, the run folder to continue");
      // The saved settings first, then whatever this command line overrides.
      const Args saved_args = saved_run_args(s.out);
      const std::string out = s.out;
      s = TrainSettings{};
      FlagParser replay("cudl train", "", "");
      add_train_flags(replay, s);
      positional = replay.parse(saved_args);
      const std::vector<std::string> extra = flags.parse(args);
      s.out = out;
      s.resume = true;
      if (positional.empty()) positional = extra;
    }
    if (positional.size() != 1) throw UsageError("expected one task, convnet or fcnet (or gan, first: cudl train gan [options])");
    s.task = parse_choice("task", positional[0], {"convnet", "fcnet"});
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cudl train: error: %s (see cudl train --help)\n", e.what());
    return 2;
  }
  if (s.epochs == 0) s.epochs = default_epochs(s);

  // `--model small` is a smaller configuration of the deep architecture: name both.
  const std::string model_name = s.task == "fcnet" ? std::string("fcnet") : s.model;
  const fs::path run_dir = s.out.empty() ? fs::path("runs") / (model_name + "-" + timestamp()) : fs::path(s.out);
  const RunFolderLock lock(run_dir);  // before anything is read from or written to the folder
  if (s.resume && !fs::exists(run_dir / "state.safetensors"))
    throw Error("--resume: " + run_dir.string() +
                " has no state.safetensors yet (the run stopped before its first save); start it again without --resume");

  if (s.threads > 0) set_cpu_threads(s.threads);
  const Device device = parse_device(s.device);
  std::printf("device: %s\n", describe(device).c_str());
  const ImplScope impl_scope(Impl(s.impl));  // every op of the model and the optimizer
  if (s.impl != "auto") std::printf("impl: %s\n", s.impl.c_str());

  DatasetSplits splits = load_mnist_format(s.data, fashion_mnist_classes());
  const std::int64_t images = splits.train.size();
  CUDL_CHECK(s.val < images, "--val ", s.val, " leaves no training images: ", s.data, " has ", images,
             " training images");
  if (s.val > 0) split_validation_last(splits, s.val);
  if (s.subset > 0 && s.subset < splits.train.size()) splits.train = splits.train.slice(0, s.subset);
  CUDL_CHECK(s.batch_size <= splits.train.size(), "--batch-size ", s.batch_size, " is larger than the ",
             splits.train.size(), " training images");
  const Normalization norm = normalize_splits(splits);
  std::printf("data: %s: %lld train, %lld val, %lld test images\n", s.data.c_str(),
              static_cast<long long>(splits.train.size()), static_cast<long long>(splits.val.size()),
              static_cast<long long>(splits.test.size()));

  const ModelConfig config = model_config(s, splits.train);
  auto model = build_model(config, s.seed, device);
  std::printf("model: %s%s, %lld parameters\n%s\n", model_name.c_str(),
              model_name == config.kind ? "" : (" (" + config.kind + " architecture)").c_str(),
              static_cast<long long>(model->num_parameters()), model->name().c_str());

  SolverOptions options;
  options.epochs = s.epochs;
  options.batch_size = s.batch_size;
  options.update_rule = s.optimizer == "momentum" ? "sgd_momentum" : s.optimizer;
  options.lr = static_cast<float>(s.lr);
  if (s.weight_decay > 0 || s.optimizer != "adamw") options.optim_config.weight_decay = static_cast<float>(s.weight_decay);
  const std::int64_t steps_per_epoch = (splits.train.size() + s.batch_size - 1) / s.batch_size;
  if (s.schedule == "step") {
    options.schedule = LrSchedule::step_decay(options.lr, static_cast<float>(s.lr_decay));
  } else if (s.schedule == "cosine") {
    options.schedule = LrSchedule::warmup_cosine(options.lr, 0, s.epochs * steps_per_epoch);
  }
  options.seed = s.seed;
  options.augment = {.crop_padding = s.crop_padding, .horizontal_flip = s.flip};
  options.max_steps = s.max_steps;
  options.skip_nonfinite = s.skip_nonfinite;
  options.stop_requested = [] { return interrupted(); };

  Progress progress(isatty(fileno(stdout)) != 0);
  // The resumable state, also within an epoch (--save-every, else every kSaveSeconds).
  Solver* solver_ptr = nullptr;
  std::int64_t saved_step = 0;
  auto last_save = std::chrono::steady_clock::now();
  auto save_state = [&] {
    solver_ptr->save_state((run_dir / "state.safetensors").string());
    saved_step = solver_ptr->steps_taken();
    last_save = std::chrono::steady_clock::now();
  };
  options.on_step = [&](const StepReport& r) {
    progress.step(r);
    const bool due = s.save_every > 0 ? r.step % s.save_every == 0
                                      : std::chrono::steady_clock::now() - last_save > std::chrono::duration<double>(kSaveSeconds);
    if (due && r.batch < r.batches_per_epoch) save_state();  // an epoch's end saves anyway
  };
  const std::map<std::string, std::string> run_metadata = {{"seed", std::to_string(s.seed)}};
  auto save_epoch = [&](Solver& solver) {
    const EpochRecord& r = solver.history().back();
    std::map<std::string, std::string> meta = run_metadata;
    meta["epoch"] = std::to_string(r.epoch);
    meta["val_accuracy"] = std::to_string(r.val_accuracy);
    save_checkpoint((run_dir / "last.safetensors").string(), *model, norm, splits.train.class_names, meta);
    if (solver.best_epoch() == r.epoch)
      save_checkpoint((run_dir / "best.safetensors").string(), *model, norm, splits.train.class_names, meta);
    save_state();
    write_metrics_csv(run_dir / "metrics.csv", solver.history());
    write_plots(run_dir, solver);
  };
  options.on_epoch = [&](const EpochRecord& r) {
    progress.clear();
    std::printf("epoch %lld/%lld  loss %.4f  train acc %.2f%%  val acc %.2f%%  lr %.2e  %s  %.0f img/s\n",
                static_cast<long long>(r.epoch), static_cast<long long>(s.epochs), r.train_loss,
                100 * r.train_accuracy, 100 * r.val_accuracy, r.lr, format_seconds(r.seconds).c_str(),
                r.images_per_second);
    std::fflush(stdout);
    save_epoch(*solver_ptr);
  };

  Solver solver(*model, splits.train, splits.val, options);
  solver_ptr = &solver;
  if (s.resume) {
    solver.load_state((run_dir / "state.safetensors").string());
    std::printf("resumed %s at step %lld (epoch %lld)\n", run_dir.string().c_str(),
                static_cast<long long>(solver.steps_taken()), static_cast<long long>(solver.epochs_done() + 1));
    saved_step = solver.steps_taken();
  } else {
    save_run_args(run_dir, args);
  }
  std::printf("optimizer: %s, schedule %s, batch %lld, %lld epochs\nrun folder: %s\n",
              solver.optimizer().describe().c_str(), options.schedule.describe().c_str(),
              static_cast<long long>(s.batch_size), static_cast<long long>(s.epochs), run_dir.string().c_str());
  std::fflush(stdout);

  catch_interrupts();
  const auto start = std::chrono::steady_clock::now();
  bool finished = false;
  try {
    finished = solver.train();
  } catch (const Error& e) {  // a diverged step: nothing after the last save is written
    progress.clear();
    throw Error(std::string(e.what()) + "; " +
                (saved_step > 0 ? run_dir.string() + "/state.safetensors keeps step " + std::to_string(saved_step)
                                : std::string("no state was saved before it")));
  }
  release_interrupts();
  progress.clear();
  if (solver.steps_skipped() > 0)
    std::printf("skipped %lld steps with a non-finite loss or gradient\n", static_cast<long long>(solver.steps_skipped()));
  if (!finished) {
    save_state();
    std::printf("stopped at step %lld; continue with: cudl train %s --resume --out %s\n",
                static_cast<long long>(solver.steps_taken()), s.task.c_str(), run_dir.string().c_str());
    return interrupted() ? 130 : 0;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("trained in %s (this session, evaluation included)\n", format_seconds(seconds).c_str());

  solver.restore_best();
  const std::vector<std::int64_t> predictions = predict(*model, splits.test);
  const double test_accuracy = accuracy(predictions, splits.test.labels);
  std::printf("best epoch %lld (val acc %.2f%%): test accuracy %.2f%% on %lld images\n\n",
              static_cast<long long>(solver.best_epoch()), 100 * solver.best_val_accuracy(), 100 * test_accuracy,
              static_cast<long long>(splits.test.size()));
  std::printf("%s", format_confusion_matrix(
                        confusion_matrix(predictions, splits.test.labels, splits.test.num_classes()),
                        splits.test.class_names)
                        .c_str());
  std::map<std::string, std::string> meta = run_metadata;
  meta["epoch"] = std::to_string(solver.best_epoch());
  meta["val_accuracy"] = std::to_string(solver.best_val_accuracy());
  meta["test_accuracy"] = std::to_string(test_accuracy);
  save_checkpoint((run_dir / "best.safetensors").string(), *model, norm, splits.train.class_names, meta);
  std::printf("\ncheckpoint: %s\n", (run_dir / "best.safetensors").string().c_str());
  return 0;
}

}  // namespace cudl::cli
