// Finite-difference gradient checks: of single ops (numeric_gradient, every
// coordinate) and of modules (gradcheck: layers, compositions, models).
//
// For graphs (modules, compositions), the scalar loss is a fixed random projection of the
// output, L = sum(out * P), so backward(P) must leave dL/dleaf in every leaf's grad. Each checked
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

// sum(a * b) accumulated in double: the scalar whose gradient with respect to
// an op's input is that op's backward applied to b.
inline double dot(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  double sum = 0.0;
  for (std::size_t i = 0; i < va.size(); ++i) sum += static_cast<double>(va[i]) * vb[i];
  return sum;
}

// loss() with *v moved by +h and by -h, then restored. `step` is the distance
// between the two float32 values actually taken, which rounding can make differ
// from 2h; dividing by it keeps the difference quotient honest.
struct CentralDifference {
  double plus, minus, step;
  double slope() const { return (plus - minus) / step; }
};
inline CentralDifference central_difference(const std::function<double()>& loss, float* v, double h) {
  const float saved = *v, up = static_cast<float>(saved + h), down = static_cast<float>(saved - h);
  *v = up;
  const double plus = loss();
  *v = down;
  const double minus = loss();
  *v = saved;
  return {plus, minus, static_cast<double>(up) - down};
}

// d loss / d input by central differences, every element. `input` (a host float32
// tensor that loss() reads) is perturbed in place and restored.
inline std::vector<float> numeric_gradient(const std::function<double()>& loss, Tensor& input, float h) {
  float* p = input.data<float>();
  std::vector<float> grad(static_cast<std::size_t>(input.numel()));
  for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = static_cast<float>(central_difference(loss, p + i, h).slope());
  return grad;
}

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
  double worst_norm = 0.0;  // max(||numeric||, ||analytic||) of that tensor's checked coordinates
  std::int64_t checked = 0;
  std::int64_t skipped = 0;  // coordinates at kinks
};

// sum(f() * projection) with nothing recorded.
inline double projected_loss(const std::function<Var()>& f, const std::vector<float>& projection,
                             const GradCheckOptions& o) {
  NoGradGuard no_grad;
  if (o.before_forward) o.before_forward();
  const std::vector<float> out = f().value().to_vector();
  double loss = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) loss += static_cast<double>(out[i]) * projection[i];
  return loss;
}

// Checks d L / d leaf through the graph of `f`, for every named leaf (CPU Vars
// that f reads; perturbed in place and restored).
inline GradCheckReport gradcheck(const std::function<Var()>& f, std::vector<std::pair<std::string, Var>> leaves,
                                 const GradCheckOptions& o = {}) {
  for (auto& [name, leaf] : leaves) leaf.zero_grad();
  if (o.before_forward) o.before_forward();
  const Var out = f();
  Generator projection_gen(1234);
  const Tensor projection_tensor = randn(out.shape(), projection_gen);
  const std::vector<float> projection = projection_tensor.to_vector();
  out.backward(projection_tensor);

  GradCheckReport report;
  std::mt19937_64 rng(o.seed);
  const double f0 = projected_loss(f, projection, o);
  for (auto& [name, leaf] : leaves) {
    Tensor& value = leaf.value();
    // A leaf that the output does not depend on has no gradient: it must be zero.
    const std::vector<float> analytic =
        leaf.grad().defined() ? leaf.grad().to_vector() : std::vector<float>(static_cast<std::size_t>(value.numel()));
    std::vector<std::int64_t> coords(static_cast<std::size_t>(value.numel()));
    for (std::size_t i = 0; i < coords.size(); ++i) coords[i] = static_cast<std::int64_t>(i);
    std::shuffle(coords.begin(), coords.end(), rng);
    coords.resize(std::min<std::size_t>(coords.size(), static_cast<std::size_t>(o.coords_per_tensor)));
    double diff = 0.0, numeric_norm = 0.0, analytic_norm = 0.0;
    for (std::int64_t i : coords) {
      const CentralDifference d =
          central_difference([&] { return projected_loss(f, projection, o); }, value.data<float>() + i, o.h);
      const double right = (d.plus - f0) / (d.step / 2), left = (f0 - d.minus) / (d.step / 2);
      if (std::abs(right - left) > o.kink_tolerance * (std::abs(right) + std::abs(left) + 1e-3)) {
        ++report.skipped;
        continue;
      }
      const double numeric = d.slope(), exact = analytic[static_cast<std::size_t>(i)];
      diff += (numeric - exact) * (numeric - exact);
      numeric_norm += numeric * numeric;
      analytic_norm += exact * exact;
      ++report.checked;
    }
    const double floor = o.absolute_floor * std::sqrt(static_cast<double>(std::max<std::size_t>(coords.size(), 1)));
    const double error = std::sqrt(diff) / std::max({std::sqrt(numeric_norm), std::sqrt(analytic_norm), floor});
    if (error > report.max_error || report.worst.empty()) {
      report.max_error = std::max(report.max_error, error);
      report.worst = name;
      report.worst_norm = std::max(std::sqrt(numeric_norm), std::sqrt(analytic_norm));
    }
  }
  return report;
}

// A layer at input x (a CPU tensor) and all its parameters.
inline GradCheckReport gradcheck(Layer& m, Tensor& x, const GradCheckOptions& o = {}) {
  Var input(x.view(), /*requires_grad=*/true);
  std::vector<std::pair<std::string, Var>> leaves{{"x", input}};
  for (Parameter* p : m.parameters()) leaves.emplace_back(p->name, *p);
  return gradcheck([&] { return m.forward(input); }, std::move(leaves), o);
}

}  // namespace cudl::test
