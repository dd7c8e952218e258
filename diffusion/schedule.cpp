#include "diffusion/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"

namespace cudl {

namespace {
constexpr const char* kOp = "noise_schedule";

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// abar(u) of the continuous schedules, before normalising by abar(0).
double continuous_alpha_bar(NoiseSchedule schedule, double u) {
  if (schedule == NoiseSchedule::Cosine) {
    constexpr double s = 0.008;
    const double c = std::cos((u + s) / (1 + s) * std::numbers::pi / 2);
    return c * c;
  }
  constexpr double start = -3, end = 3, tau = 1;
  const double lo = sigmoid(start / tau), hi = sigmoid(end / tau);
  return (hi - sigmoid((u * (end - start) + start) / tau)) / (hi - lo);
}
}  // namespace

NoiseSchedule parse_noise_schedule(const std::string& name) {
  if (name == "linear") return NoiseSchedule::Linear;
  if (name == "cosine") return NoiseSchedule::Cosine;
  if (name == "sigmoid") return NoiseSchedule::Sigmoid;
  detail::throw_error(kOp, ": expected linear, cosine or sigmoid, got '", name, "'");
}

const char* noise_schedule_name(NoiseSchedule schedule) {
  switch (schedule) {
    case NoiseSchedule::Linear: return "linear";
    case NoiseSchedule::Cosine: return "cosine";
    case NoiseSchedule::Sigmoid: return "sigmoid";
  }
  return "?";
}

std::vector<double> noise_schedule_betas(NoiseSchedule schedule, std::int64_t timesteps) {
  CUDL_CHECK(timesteps >= 1, kOp, ": expected timesteps >= 1, got ", timesteps);
  const auto steps = static_cast<std::size_t>(timesteps);
  std::vector<double> betas(steps);
  if (schedule == NoiseSchedule::Linear) {
    // torch.linspace's endpoints, exactly: the last beta is 0.02 s.
    const double scale = 1000.0 / static_cast<double>(timesteps), first = 1e-4 * scale, last = 0.02 * scale;
    for (std::size_t i = 0; i < steps; ++i)
      betas[i] = steps == 1 ? first : first + (last - first) * static_cast<double>(i) / static_cast<double>(steps - 1);
    return betas;
  }
  const double abar0 = continuous_alpha_bar(schedule, 0.0);
  double previous = 1.0;  // abar(u_0) / abar(0)
  for (std::size_t i = 0; i < steps; ++i) {
    const double next = continuous_alpha_bar(schedule, static_cast<double>(i + 1) / static_cast<double>(steps)) / abar0;
    betas[i] = std::clamp(1.0 - next / previous, 0.0, 0.999);
    previous = next;
  }
  return betas;
}

DiffusionTables diffusion_tables(NoiseSchedule schedule, std::int64_t timesteps) {
  DiffusionTables d;
  d.betas = noise_schedule_betas(schedule, timesteps);
  const std::size_t steps = d.betas.size();
  for (auto* table : {&d.alphas, &d.alphas_cumprod, &d.alphas_cumprod_prev, &d.sqrt_alphas_cumprod,
                      &d.sqrt_one_minus_alphas_cumprod, &d.sqrt_recip_alphas_cumprod, &d.sqrt_recipm1_alphas_cumprod,
                      &d.posterior_mean_coef1, &d.posterior_mean_coef2, &d.posterior_variance, &d.posterior_std,
                      &d.snr, &d.sqrt_snr})
    table->resize(steps);
  double abar = 1.0;
  for (std::size_t t = 0; t < steps; ++t) {
    const double beta = d.betas[t], alpha = 1.0 - beta, prev = abar;
    abar *= alpha;
    d.alphas[t] = alpha;
    d.alphas_cumprod[t] = abar;
    d.alphas_cumprod_prev[t] = prev;
    d.sqrt_alphas_cumprod[t] = std::sqrt(abar);
    d.sqrt_one_minus_alphas_cumprod[t] = std::sqrt(1.0 - abar);
    d.sqrt_recip_alphas_cumprod[t] = std::sqrt(1.0 / abar);
    d.sqrt_recipm1_alphas_cumprod[t] = std::sqrt(1.0 / abar - 1.0);
    d.posterior_mean_coef1[t] = beta * std::sqrt(prev) / (1.0 - abar);
    d.posterior_mean_coef2[t] = (1.0 - prev) * std::sqrt(alpha) / (1.0 - abar);
    d.posterior_variance[t] = beta * (1.0 - prev) / (1.0 - abar);
    // Zero at t = 0: the floor keeps the log-variance and the std finite.
    d.posterior_std[t] = std::sqrt(std::max(d.posterior_variance[t], 1e-20));
    d.snr[t] = abar / (1.0 - abar);
    d.sqrt_snr[t] = std::sqrt(d.snr[t]);
  }
  return d;
}

Tensor table_tensor(const std::vector<double>& table, Device device) {
  std::vector<float> values(table.begin(), table.end());
  return Tensor::from_vector(values, {static_cast<std::int64_t>(values.size())}, device);
}

}  // namespace cudl
