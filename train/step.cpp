#include "train/step.h"

#include "core/check.h"
#include "train/nonfinite.h"

namespace cudl {

StepResult optimization_step(const std::vector<Optimizer*>& optimizers, const std::function<Var()>& loss,
                             float clip_norm) {
  CUDL_CHECK(!optimizers.empty(), "optimization_step: expected at least one optimizer");
  for (Optimizer* opt : optimizers) opt->zero_grad();
  const Var value = loss();
  value.backward();
  StepResult result;
  result.loss = value.item();
  std::vector<Parameter*> params;
  for (Optimizer* opt : optimizers) params.insert(params.end(), opt->parameters().begin(), opt->parameters().end());
  result.nonfinite = nonfinite_step_reason(result.loss, params);
  if (!result.nonfinite.empty()) return result;
  if (clip_norm > 0.0f) result.grad_norm = clip_grad_norm(params, clip_norm);
  for (Optimizer* opt : optimizers) opt->step();
  return result;
}

}  // namespace cudl
