#include "train/nonfinite.h"

#include <cmath>

#include "kernels/optimizer_update.h"

namespace cudl {

namespace {

std::string describe(double v) { return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"); }

double squared_norm(const Parameter& p) { return sum_of_squares({&p.grad()}); }

}  // namespace

std::string nonfinite_step_reason(float loss, const std::vector<Parameter*>& parameters) {
  if (!std::isfinite(loss)) return "the loss is " + describe(loss);
  // One reduction (one device read-back on CUDA) for the common, finite case;
  // a NaN or infinity anywhere makes the sum non-finite.
  std::vector<const Tensor*> grads;
  for (const Parameter* p : parameters)
    if (p->grad().defined()) grads.push_back(&p->grad());
  const double total = sum_of_squares(grads);
  if (std::isfinite(total)) return "";
  for (const Parameter* p : parameters)
    if (p->grad().defined())
      if (const double s = squared_norm(*p); !std::isfinite(s))
        return "the gradient norm of " + p->name + " is " + describe(std::sqrt(s));
  return "the gradient norm is " + describe(std::sqrt(total));
}

}  // namespace cudl
