// Detecting a diverged training step (a NaN or infinite loss or gradient, e.g.
// from a learning rate far too large) before it reaches the parameters.
#pragma once

#include <string>
#include <vector>

#include "layers/module.h"

namespace cudl {

// Empty when `loss` and the global gradient norm are finite; otherwise what is
// not, e.g. "the loss is nan" or "the gradient norm of fc1.weight is inf". The
// norm is one sum_of_squares over all gradients (kernels/optimizer_update.h).
std::string nonfinite_step_reason(float loss, const std::vector<Parameter*>& parameters);

}  // namespace cudl
