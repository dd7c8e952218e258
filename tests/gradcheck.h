// Finite-difference gradient checks of modules (layers, compositions, models).
//
// The scalar loss is a fixed random projection of the output, L = sum(out * P),
// so backward(P) must return dL/dx and accumulate dL/dparam. Each checked
// coordinate gets the central difference (L(v + h) - L(v - h)) / 2h. At a kink
// (relu at 0, a max-pool window whose argmax changes) the central difference
// means nothing; such coordinates are recognised because the one-sided slopes
// (L(v + h) - L(v)) / h and (L(v) - L(v - h)) / h disagree, and skipped. The
// error of a tensor is ||numeric - analytic|| / max(||numeric||, ||analytic||)
// over its checked coordinates, where the denominator is at least
// `absolute_floor` per coordinate (RMS): a gradient that is truly zero, like a
// bias feeding batch norm, then compares float32 noise with noise and passes.
// The report keeps the worst tensor.
//
// Everything runs in float32 (cudl's dtype), so h is larger than CS231n's 1e-5:
// 1e-2 keeps float32 rounding of L (~1e-7 relative) well below the differences.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/random.h"
#include "layers/module.h"

namespace cudl::test {

struct GradCheckOptions {
  double h = 1e-2;
  std::int64_t coords_per_tensor = 24;  // sampled coordinates of x and of each parameter
  double kink_tolerance = 0.05;          // one-sided slopes further apart than this (relative) mark a kink
  double absolute_floor = 1e-3;
  std::uint64_t seed = 7;
  std::function<void()> before_forward;  // e.g. rewind a dropout Generator so every pass draws the same mask
};

struct GradCheckReport {
  double max_error = 0.0;
  std::string worst;  // the tensor with the largest error ("x", "0.weight", ...)
  std::int64_t checked = 0;
  std::int64_t skipped = 0;  // coordinates at kinks
};

inline double projected_loss(Module& m, const Tensor& x, const std::vector<float>& projection,
                             const GradCheckOptions& o) {
  if (o.before_forward) o.before_forward();
  const std::vector<float> out = m.forward(x).to_vector();
  double loss = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) loss += static_cast<double>(out[i]) * projection[i];
  return loss;
}

// Checks dL/dx and dL/dparam of `m` at `x` (a CPU tensor, perturbed in place and restored).
inline GradCheckReport gradcheck(Module& m, Tensor& x, const GradCheckOptions& o = {}) {
  if (o.before_forward) o.before_forward();
  const Shape out_shape = m.forward(x).shape();
  Generator projection_gen(1234);
  const std::vector<float> projection = randn(out_shape, projection_gen).to_vector();

  m.zero_grad();
  if (o.before_forward) o.before_forward();
  m.forward(x);
  const Tensor dx = m.backward(Tensor::from_vector(projection, out_shape));

  struct Target {
    std::string name;
    Tensor* value;
    std::vector<float> analytic;
  };
  std::vector<Target> targets = {{"x", &x, dx.to_vector()}};
  for (Parameter* p : m.parameters()) targets.push_back({p->name, &p->value, p->grad.to_vector()});

  GradCheckReport report;
  std::mt19937_64 rng(o.seed);
  const double f0 = projected_loss(m, x, projection, o);
  for (Target& t : targets) {
    std::vector<std::int64_t> coords(static_cast<std::size_t>(t.value->numel()));
    for (std::size_t i = 0; i < coords.size(); ++i) coords[i] = static_cast<std::int64_t>(i);
    std::shuffle(coords.begin(), coords.end(), rng);
    coords.resize(std::min<std::size_t>(coords.size(), static_cast<std::size_t>(o.coords_per_tensor)));
    double diff = 0.0, numeric_norm = 0.0, analytic_norm = 0.0;
    for (std::int64_t i : coords) {
      float* v = t.value->data<float>() + i;
      const float saved = *v;
      *v = static_cast<float>(saved + o.h);
      const double f_plus = projected_loss(m, x, projection, o);
      *v = static_cast<float>(saved - o.h);
      const double f_minus = projected_loss(m, x, projection, o);
      *v = saved;
      const double right = (f_plus - f0) / o.h, left = (f0 - f_minus) / o.h;
      if (std::abs(right - left) > o.kink_tolerance * (std::abs(right) + std::abs(left) + 1e-3)) {
        ++report.skipped;
        continue;
      }
      const double numeric = (f_plus - f_minus) / (2 * o.h), analytic = t.analytic[static_cast<std::size_t>(i)];
      diff += (numeric - analytic) * (numeric - analytic);
      numeric_norm += numeric * numeric;
      analytic_norm += analytic * analytic;
      ++report.checked;
    }
    const double floor = o.absolute_floor * std::sqrt(static_cast<double>(std::max<std::size_t>(coords.size(), 1)));
    const double error = std::sqrt(diff) / std::max({std::sqrt(numeric_norm), std::sqrt(analytic_norm), floor});
    if (error > report.max_error || report.worst.empty()) {
      report.max_error = std::max(report.max_error, error);
      report.worst = t.name;
    }
  }
  return report;
}

}  // namespace cudl::test
