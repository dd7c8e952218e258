#include "train/schedule.h"

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace cudl {

float step_decay_lr(float base_lr, float gamma, std::int64_t every_epochs, std::int64_t epoch) {
  CUDL_CHECK(every_epochs >= 1, "step_decay_lr: expected every_epochs >= 1, got ", every_epochs);
  CUDL_CHECK(epoch >= 0, "step_decay_lr: expected epoch >= 0, got ", epoch);
  return static_cast<float>(base_lr * std::pow(static_cast<double>(gamma), static_cast<double>(epoch / every_epochs)));
}

float warmup_cosine_lr(float base_lr, std::int64_t step, std::int64_t warmup_steps, std::int64_t total_steps,
                       float min_lr) {
  CUDL_CHECK(step >= 0 && warmup_steps >= 0 && total_steps >= warmup_steps, "warmup_cosine_lr: expected 0 <= step and ",
             "0 <= warmup_steps <= total_steps, got step ", step, ", warmup_steps ", warmup_steps, ", total_steps ",
             total_steps);
  if (step < warmup_steps) return static_cast<float>(double(base_lr) * (step + 1) / warmup_steps);
  if (step >= total_steps) return min_lr;
  const double progress = double(step - warmup_steps) / double(total_steps - warmup_steps);  // [0, 1)
  const double pi = 3.14159265358979323846;
  return static_cast<float>(min_lr + 0.5 * (double(base_lr) - min_lr) * (1.0 + std::cos(pi * progress)));
}

LrSchedule LrSchedule::constant(float base_lr) {
  LrSchedule s;
  s.base_lr = base_lr;
  return s;
}

LrSchedule LrSchedule::step_decay(float base_lr, float gamma, std::int64_t every_epochs) {
  LrSchedule s;
  s.kind = Kind::StepDecay;
  s.base_lr = base_lr;
  s.gamma = gamma;
  s.every_epochs = every_epochs;
  return s;
}

LrSchedule LrSchedule::warmup_cosine(float base_lr, std::int64_t warmup_steps, std::int64_t total_steps,
                                     float min_lr) {
  LrSchedule s;
  s.kind = Kind::WarmupCosine;
  s.base_lr = base_lr;
  s.warmup_steps = warmup_steps;
  s.total_steps = total_steps;
  s.min_lr = min_lr;
  return s;
}

float LrSchedule::lr(std::int64_t step, std::int64_t epoch) const {
  switch (kind) {
    case Kind::Constant: return base_lr;
    case Kind::StepDecay: return step_decay_lr(base_lr, gamma, every_epochs, epoch);
    case Kind::WarmupCosine: return warmup_cosine_lr(base_lr, step, warmup_steps, total_steps, min_lr);
  }
  return base_lr;
}

std::string LrSchedule::describe() const {
  std::ostringstream s;
  switch (kind) {
    case Kind::Constant: s << "constant(lr=" << base_lr << ")"; break;
    case Kind::StepDecay: s << "step_decay(lr=" << base_lr << ", gamma=" << gamma << ", every=" << every_epochs << ")"; break;
    case Kind::WarmupCosine:
      s << "warmup_cosine(lr=" << base_lr << ", warmup=" << warmup_steps << ", total=" << total_steps
        << ", min_lr=" << min_lr << ")";
      break;
  }
  return s.str();
}

}  // namespace cudl
