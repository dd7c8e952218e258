#include "train/solver.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/formats/json.h"
#include "core/formats/safetensors.h"
#include "autograd/functions.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/state_fields.h"
#include "train/step.h"

namespace cudl {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const char* kModelPrefix = "model.";
const char* kBestPrefix = "best.";
}  // namespace

Solver::Solver(Model& model, const Dataset& train, const Dataset& val, SolverOptions options)
    : model_(model),
      train_(train),
      val_(val),
      train_eval_(train.slice(0, std::min(train.size(), std::max<std::int64_t>(options.train_eval_samples, 1)))),
      options_(std::move(options)),
      loader_(train, {.batch_size = options_.batch_size,
                      .shuffle = true,
                      .seed = options_.seed,
                      .drop_last = false,
                      .augment = options_.augment,
                      .device = model.device()}) {
  CUDL_CHECK(options_.epochs >= 1 && options_.batch_size >= 1, "Solver: epochs and batch_size must be >= 1, got ",
             options_.epochs, " and ", options_.batch_size);
  CUDL_CHECK(options_.lr > 0, "Solver: lr must be > 0, got ", options_.lr);
  CUDL_CHECK(train.size() > 0, "Solver: the training set is empty");
  options_.schedule.base_lr = options_.lr;
  OptimizerConfig config = options_.optim_config;
  config.lr = options_.lr;
  optimizer_ = make_optimizer(options_.update_rule, model.parameters(), config);
}

Solver::~Solver() = default;

bool Solver::train() {
  const std::int64_t per_epoch = loader_.batches_per_epoch();
  while (epoch_ < options_.epochs) {
    model_.set_training(true);
    const Clock::time_point epoch_start = Clock::now();
    std::int64_t images_this_session = 0, batches_this_session = 0;
    while (auto batch = loader_.next()) {
      if (options_.stop_requested && options_.stop_requested()) {
        // Hand the batch back so a resumed run sees it again.
        LoaderState s = loader_.state();
        s.position -= batch->labels.numel();
        loader_.set_state(s);
        epoch_seconds_before_ += seconds_since(epoch_start);
        return false;
      }
      const float lr = options_.schedule.lr(step_, epoch_);
      optimizer_->set_learning_rate(lr);
      const StepResult r = optimization_step({optimizer_.get()}, [&] {
        return cross_entropy(model_.forward(Var(batch->images.view())), batch->labels);
      });
      const float loss_value = r.loss;
      // A diverged step never reaches the parameters: training stops (or, when
      // asked, skips the step), so the last saved state stays a good one.
      CUDL_CHECK(r.nonfinite.empty() || options_.skip_nonfinite, "training diverged at step ", step_ + 1, " (epoch ",
                 epoch_ + 1, "): ", r.nonfinite, "; try a lower learning rate");
      if (r.nonfinite.empty()) {
        loss_history_.push_back(loss_value);
        epoch_loss_sum_ += loss_value;
        ++epoch_steps_;
      } else {
        ++skipped_steps_;
      }
      ++step_;
      images_this_session += batch->labels.numel();
      ++batches_this_session;
      if (options_.on_step) {
        const double elapsed = seconds_since(epoch_start);
        // The last batch of an epoch may be short, so round up.
        const std::int64_t batch_index = (loader_.state().position + options_.batch_size - 1) / options_.batch_size;
        const std::int64_t remaining = (options_.epochs - epoch_ - 1) * per_epoch + (per_epoch - batch_index);
        options_.on_step({.epoch = epoch_,
                          .epochs = options_.epochs,
                          .batch = batch_index,
                          .batches_per_epoch = per_epoch,
                          .step = step_,
                          .loss = loss_value,
                          .lr = lr,
                          .images_per_second = elapsed > 0 ? images_this_session / elapsed : 0.0,
                          .eta_seconds = elapsed / batches_this_session * remaining});
      }
      if (options_.max_steps > 0 && step_ >= options_.max_steps) {
        epoch_seconds_before_ += seconds_since(epoch_start);
        return false;
      }
    }
    finish_epoch(epoch_seconds_before_ + seconds_since(epoch_start));
  }
  return true;
}

void Solver::finish_epoch(double train_seconds) {
  EpochRecord r;
  r.epoch = epoch_ + 1;
  r.train_loss = epoch_steps_ ? epoch_loss_sum_ / epoch_steps_ : 0.0;
  r.lr = optimizer_->learning_rate();
  r.seconds = train_seconds;
  r.images_per_second = train_seconds > 0 ? train_.size() / train_seconds : 0.0;
  r.train_accuracy = check_accuracy(train_eval_);
  r.val_accuracy = val_.size() > 0 ? check_accuracy(val_) : 0.0;
  records_.push_back(r);
  // Ties go to the later epoch only without a validation set (then "best" is the last).
  if (r.val_accuracy > best_val_accuracy_ || val_.size() == 0) {
    best_val_accuracy_ = r.val_accuracy;
    best_epoch_ = r.epoch;
    best_params_ = model_state_dict(model_);
  }
  ++epoch_;
  epoch_loss_sum_ = 0.0;
  epoch_steps_ = 0;
  epoch_seconds_before_ = 0.0;
  if (options_.on_epoch) options_.on_epoch(r);
}

double Solver::check_accuracy(const Dataset& data, std::int64_t num_samples) {
  if (num_samples > 0 && num_samples < data.size()) {
    const Dataset subset = data.slice(0, num_samples);
    return accuracy(predict(model_, subset, options_.eval_batch_size), subset.labels);
  }
  return accuracy(predict(model_, data, options_.eval_batch_size), data.labels);
}

void Solver::restore_best() {
  CUDL_CHECK(!best_params_.empty(), "Solver::restore_best: no epoch has finished yet");
  load_model_state(model_, best_params_);
}

void Solver::save_state(const std::string& path) {
  TensorMap tensors = optimizer_->state_dict();
  for (auto& [name, t] : model_state_dict(model_)) tensors.emplace(kModelPrefix + name, std::move(t));
  for (const auto& [name, t] : best_params_) tensors.emplace(kBestPrefix + name, t.clone());
  tensors.emplace("loss_history",
                  Tensor::from_vector(loss_history_, {static_cast<std::int64_t>(loss_history_.size())}));
  nlohmann::json records = nlohmann::json::array();
  for (const EpochRecord& r : records_)
    records.push_back({r.epoch, r.train_loss, r.train_accuracy, r.val_accuracy, r.lr, r.seconds, r.images_per_second});
  // Integers above 2^53 (seeds, offsets) are kept exact as decimal strings.
  const nlohmann::json solver = {{"step", step_},
                                 {"epoch", epoch_},
                                 {"epoch_loss_sum", epoch_loss_sum_},
                                 {"epoch_steps", epoch_steps_},
                                 {"epoch_seconds", epoch_seconds_before_},
                                 {"generator_seed", std::to_string(model_.generator().seed())},
                                 {"generator_offset", std::to_string(model_.generator().offset())},
                                 {"loader_epoch", loader_.state().epoch},
                                 {"loader_position", loader_.state().position},
                                 {"best_val_accuracy", best_val_accuracy_},
                                 {"best_epoch", best_epoch_},
                                 {"records", records}};
  write_safetensors(path, tensors, {{"cudl_training_state", solver.dump()}, {"config", model_.config().to_json()}});
}

void Solver::load_state(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  const auto it = file.metadata.find("cudl_training_state");
  CUDL_CHECK(it != file.metadata.end(), "training state ", path, ": no 'cudl_training_state' in __metadata__");
  const auto config = file.metadata.find("config");
  CUDL_CHECK(config != file.metadata.end() && config->second == model_.config().to_json(), "training state ", path,
             ": saved for another model configuration");
  try {
    const nlohmann::json s = formats::parse_json(it->second, "training state " + path + ": cudl_training_state");
    const StateFields f(s, path);
    const std::int64_t per_epoch = loader_.batches_per_epoch();
    const std::int64_t epoch = f.integer("epoch", 0, options_.epochs);
    const std::int64_t step = f.integer("step", epoch * per_epoch, std::numeric_limits<std::int64_t>::max() / 2);
    const std::int64_t epoch_steps = f.integer("epoch_steps", 0, per_epoch);
    const std::int64_t best_epoch = f.integer("best_epoch", 0, epoch);
    const LoaderState loader{f.integer("loader_epoch", epoch, epoch + 1), f.integer("loader_position", 0, train_.size())};
    const nlohmann::json& records = f.field("records");
    CUDL_CHECK(records.is_array() && static_cast<std::int64_t>(records.size()) == epoch, "training state ", path,
               ": expected one record per finished epoch (", epoch, ")");
    load_model_state(model_, file.tensors, kModelPrefix);
    optimizer_->load_state_dict(file.tensors);
    best_params_.clear();
    if (best_epoch > 0) {
      const std::string prefix = kBestPrefix;
      for (auto& [name, t] : file.tensors)
        if (name.starts_with(prefix)) best_params_.emplace(name.substr(prefix.size()), t.clone());
    }
    const auto history = file.tensors.find("loss_history");
    CUDL_CHECK(history != file.tensors.end() && history->second.dtype() == DType::F32 &&
                   history->second.numel() <= step,
               "training state ", path, ": no float32 loss_history of at most ", step, " steps");
    loss_history_ = history->second.to_vector();
    step_ = step;
    epoch_ = epoch;
    epoch_loss_sum_ = f.number("epoch_loss_sum", -1e300, 1e300);
    epoch_steps_ = epoch_steps;
    epoch_seconds_before_ = f.number("epoch_seconds", 0, 1e12);
    model_.generator() = Generator(f.decimal("generator_seed"), f.decimal("generator_offset"));
    loader_.set_state(loader);
    best_val_accuracy_ = f.number("best_val_accuracy", -1, 1);
    best_epoch_ = best_epoch;
    records_.clear();
    for (const auto& r : records)
      records_.push_back({r.at(0).get<std::int64_t>(), r.at(1).get<double>(), r.at(2).get<double>(),
                          r.at(3).get<double>(), r.at(4).get<double>(), r.at(5).get<double>(), r.at(6).get<double>()});
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error("training state ", path, ": bad metadata: ", e.what());
  }
}

}  // namespace cudl
