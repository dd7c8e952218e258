// Learning-rate schedules: pure functions of the training position, so a
// resumed run recomputes the same rate from its (step, epoch).
//
//   LrSchedule schedule = LrSchedule::warmup_cosine(1e-3f, 500, 20000);
//   optimizer.set_learning_rate(schedule.lr(step, epoch));   // before each step
#pragma once

#include <cstdint>
#include <string>

namespace cudl {

// base_lr * gamma^floor(epoch / every_epochs): CS231n's Solver lr_decay is
// every_epochs = 1 (the rate is multiplied by lr_decay after each epoch).
float step_decay_lr(float base_lr, float gamma, std::int64_t every_epochs, std::int64_t epoch);

// Linear warm-up from base_lr / warmup_steps (step 0) to base_lr (step
// warmup_steps - 1), then a half cosine from base_lr down to min_lr at
// total_steps; min_lr after that. `step` is 0-based, the step about to be taken.
float warmup_cosine_lr(float base_lr, std::int64_t step, std::int64_t warmup_steps, std::int64_t total_steps,
                       float min_lr = 0.0f);

struct LrSchedule {
  enum class Kind { Constant, StepDecay, WarmupCosine };
  Kind kind = Kind::Constant;
  float base_lr = 1e-3f;
  float gamma = 1.0f;              // StepDecay
  std::int64_t every_epochs = 1;   // StepDecay
  std::int64_t warmup_steps = 0;   // WarmupCosine
  std::int64_t total_steps = 0;    // WarmupCosine
  float min_lr = 0.0f;             // WarmupCosine

  static LrSchedule constant(float base_lr);
  static LrSchedule step_decay(float base_lr, float gamma, std::int64_t every_epochs = 1);
  static LrSchedule warmup_cosine(float base_lr, std::int64_t warmup_steps, std::int64_t total_steps,
                                  float min_lr = 0.0f);

  // The rate for the step about to be taken (0-based) in (0-based) `epoch`.
  float lr(std::int64_t step, std::int64_t epoch) const;
  // "constant(lr=0.001)", "step_decay(lr=0.01, gamma=0.95, every=1)", "warmup_cosine(...)".
  std::string describe() const;
};

}  // namespace cudl
