// One optimisation step on the graph, the loop body every trainer shares:
//
//   StepResult r = optimization_step({&opt}, [&] { return cross_entropy(model.forward(x), y); });
//   // a GAN: optimization_step({&opt_d}, d_loss); optimization_step({&opt_g}, g_loss);
//
// It drops the optimizers' gradients, evaluates `loss` (building the graph),
// back-propagates, clips the global gradient norm over all the optimizers'
// parameters when clip_norm > 0, and steps each optimizer, unless the loss or a
// gradient is not finite: then nothing is stepped and `nonfinite` says what
// diverged, for the caller to stop or skip. Parameters outside
// the optimizers (a frozen discriminator) are not touched, and with
// requires_grad off they get no gradient at all.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"
#include "train/optimizer.h"

namespace cudl {

struct StepResult {
  float loss = 0.0f;
  float grad_norm = -1.0f;  // before clipping; -1 when not clipped
  std::string nonfinite;    // empty when the step was taken
};

StepResult optimization_step(const std::vector<Optimizer*>& optimizers, const std::function<Var()>& loss,
                             float clip_norm = 0.0f);

}  // namespace cudl
