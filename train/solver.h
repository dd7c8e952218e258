// Solver: trains a classifier with minibatch gradient descent, in the spirit
// of CS231n's Solver (solver.py).
//
//   Solver solver(model, splits.train, splits.val,
//                 {.epochs = 5, .batch_size = 64, .update_rule = "adam", .lr = 1e-3f});
//   solver.train();
//   solver.restore_best();  // the parameters of the best validation epoch
//
// Differences from CS231n, on purpose: an epoch is one pass over a shuffled
// permutation of the training set (not batches drawn with replacement), the loss
// is the data loss only (weight decay lives in the optimizer), the training
// accuracy is measured on a fixed subset of the first `train_eval_samples`
// training samples, and the whole training state can be saved and resumed so
// that the resumed run reproduces the uninterrupted one bit for bit.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "models/models.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace cudl {

// Sent after every step.
struct StepReport {
  std::int64_t epoch = 0;   // 0-based
  std::int64_t epochs = 0;  // total
  std::int64_t batch = 0;   // 1-based within the epoch
  std::int64_t batches_per_epoch = 0;
  std::int64_t step = 0;  // steps taken so far, over the whole run
  float loss = 0.0f;
  float lr = 0.0f;
  double images_per_second = 0.0;  // this epoch so far
  double eta_seconds = 0.0;        // to the end of training, eval excluded
};

struct EpochRecord {
  std::int64_t epoch = 0;  // 1-based, as printed
  double train_loss = 0.0;  // mean over the epoch's steps
  double train_accuracy = 0.0;
  double val_accuracy = 0.0;
  double lr = 0.0;  // the rate of the epoch's last step
  double seconds = 0.0;  // training time of the epoch (eval excluded)
  double images_per_second = 0.0;
};

struct SolverOptions {
  std::int64_t epochs = 10;
  std::int64_t batch_size = 100;
  std::string update_rule = "sgd";  // sgd | sgd_momentum | rmsprop | adam | adamw
  float lr = 1e-2f;
  OptimizerConfig optim_config;  // its lr is ignored: `lr` and `schedule` set the rate
  // The rate of each step; its base_lr is replaced by `lr`. CS231n's lr_decay d
  // is LrSchedule::step_decay(lr, d).
  LrSchedule schedule = LrSchedule::constant(1e-2f);
  std::uint64_t seed = 0;  // shuffle order (and augmentation) of the loader
  Augmentation augment;
  std::int64_t train_eval_samples = 1000;
  std::int64_t eval_batch_size = 500;
  // Stop once this many steps have been taken in total (0: no limit), as if the
  // run were interrupted there.
  std::int64_t max_steps = 0;
  // A step whose loss or gradient is not finite throws cudl::Error naming it
  // (before the update); with skip_nonfinite the step is counted but not applied.
  bool skip_nonfinite = false;
  std::function<void(const StepReport&)> on_step;
  std::function<void(const EpochRecord&)> on_epoch;
  // Polled before every step; returning true stops training (e.g. after Ctrl-C).
  std::function<bool()> stop_requested;
};

class Solver {
 public:
  // `model`, `train` and `val` must outlive the solver. `val` may be empty: the
  // best parameters are then those of the last epoch.
  Solver(Model& model, const Dataset& train, const Dataset& val, SolverOptions options);
  ~Solver();

  // Trains until all epochs are done; returns false when stopped early
  // (max_steps or stop_requested), in which case save_state() can resume it.
  bool train();
  // Accuracy of the model (eval mode) on the first `num_samples` of `data` (0: all).
  double check_accuracy(const Dataset& data, std::int64_t num_samples = 0);

  const std::vector<float>& loss_history() const { return loss_history_; }
  const std::vector<EpochRecord>& history() const { return records_; }
  double best_val_accuracy() const { return best_val_accuracy_; }
  std::int64_t best_epoch() const { return best_epoch_; }  // 1-based; 0 before the first epoch ends
  // Copies the parameters of the best epoch into the model.
  void restore_best();
  std::int64_t steps_taken() const { return step_; }
  std::int64_t steps_skipped() const { return skipped_steps_; }  // non-finite ones, this session
  std::int64_t epochs_done() const { return epoch_; }
  bool finished() const { return epoch_ >= options_.epochs; }
  Optimizer& optimizer() { return *optimizer_; }
  const SolverOptions& options() const { return options_; }

  // Everything a resumed run needs (model parameters and buffers, best
  // parameters, optimizer state, model Generator, loader position, step, epoch,
  // histories), written atomically to one safetensors file.
  void save_state(const std::string& path);
  // Restores a save_state() file into this solver and its model. The model and
  // options must be built as they were for the saved run.
  void load_state(const std::string& path);

 private:
  void finish_epoch(double train_seconds);

  Model& model_;
  const Dataset& train_;
  const Dataset& val_;
  Dataset train_eval_;  // the fixed subset for the training accuracy
  SolverOptions options_;
  std::unique_ptr<Optimizer> optimizer_;
  DataLoader loader_;

  std::int64_t step_ = 0;
  std::int64_t skipped_steps_ = 0;
  std::int64_t epoch_ = 0;  // epochs completed
  double epoch_loss_sum_ = 0.0;
  std::int64_t epoch_steps_ = 0;
  double epoch_seconds_before_ = 0.0;  // training time of the current epoch before a resume
  std::vector<float> loss_history_;
  std::vector<EpochRecord> records_;
  double best_val_accuracy_ = -1.0;
  std::int64_t best_epoch_ = 0;
  TensorMap best_params_;
};

}  // namespace cudl
