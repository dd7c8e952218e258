#include "diffusion/gaussian_diffusion.h"

#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "core/check.h"
#include "core/random.h"

namespace cudl {

namespace {
constexpr const char* kOp = "GaussianDiffusion";

// Every sample at step t, int64 [n] on `device`.
Tensor constant_steps(std::int64_t n, std::int64_t t, Device device) {
  return Tensor::from_vector(std::vector<std::int64_t>(static_cast<std::size_t>(n), t), {n}, device);
}

// The denoiser's output for x, checked against x's shape and device.
Tensor predict(const Denoiser& denoiser, const Tensor& x, const Tensor& t, const Tensor* cond) {
  Tensor out = denoiser(Var(x.view()), t, cond).value().view();
  CUDL_CHECK(out.shape() == x.shape() && out.device() == x.device(), kOp, ": expected the denoiser's output ",
             "to match x_t ", x.str(), ", got ", out.str());
  return out;
}
}  // namespace

DiffusionObjective parse_diffusion_objective(const std::string& name) {
  if (name == "pred_noise") return DiffusionObjective::PredictNoise;
  if (name == "pred_x0" || name == "pred_x_start") return DiffusionObjective::PredictX0;
  detail::throw_error(kOp, ": expected the objective pred_noise or pred_x0, got '", name, "'");
}

const char* diffusion_objective_name(DiffusionObjective objective) {
  return objective == DiffusionObjective::PredictNoise ? "pred_noise" : "pred_x0";
}

GaussianDiffusion::GaussianDiffusion(const DiffusionConfig& config, Device device)
    : config_(config), tables_(diffusion_tables(config.schedule, config.timesteps)), device_(device) {
  to(device);
}

void GaussianDiffusion::to(Device device) {
  device_ = device;
  sqrt_alphas_cumprod_ = table_tensor(tables_.sqrt_alphas_cumprod, device);
  sqrt_one_minus_alphas_cumprod_ = table_tensor(tables_.sqrt_one_minus_alphas_cumprod, device);
  sqrt_snr_ = table_tensor(tables_.sqrt_snr, device);
}

Var GaussianDiffusion::q_sample(const Var& x0, const Var& noise, const Tensor& t) const {
  return ddpm_q_sample(x0, noise, t, sqrt_alphas_cumprod_, sqrt_one_minus_alphas_cumprod_);
}

Tensor GaussianDiffusion::sample_timesteps(std::int64_t n, Generator& gen) const {
  // 24-bit uniforms in [0, 1): u T in double is exact, so floor(u T) < T is uniform over the steps when T
  // divides 2^24 and within 2^-24 of uniform otherwise.
  const std::vector<float> u = rand({n}, gen).to_vector();
  std::vector<std::int64_t> steps(u.size());
  for (std::size_t i = 0; i < u.size(); ++i)
    steps[i] = static_cast<std::int64_t>(static_cast<double>(u[i]) * static_cast<double>(timesteps()));
  return Tensor::from_vector(steps, {n}, device_);
}

Var GaussianDiffusion::training_loss(const Denoiser& denoiser, const Tensor& x0, const Tensor* cond,
                                     Generator& gen) const {
  check_float(kOp, "x0", x0);
  CUDL_CHECK(x0.dim() >= 1 && x0.size(0) > 0, kOp, ": expected a batch x0 [N, ...], got ", x0.str());
  CUDL_CHECK(x0.device() == device_, kOp, ": expected x0 on ", device_.str(), " (the schedule's device), got ",
             x0.str());
  Tensor t = sample_timesteps(x0.size(0), gen);
  Tensor noise = randn(x0.shape(), gen, device_);
  const Var x_t = q_sample(Var(x0.view()), Var(noise.view()), t);  // data: no gradient reaches x0 or the noise
  const Var pred = denoiser(x_t, t, cond);
  CUDL_CHECK(pred.shape() == x0.shape(), kOp, ": expected the denoiser's output to match x0 ", x0.str(), ", got ",
             pred.value().str());
  if (config_.objective == DiffusionObjective::PredictNoise) return mse_loss(pred, noise);
  return timestep_weighted_mse_loss(pred, x0, t, sqrt_snr_);
}

std::vector<std::int64_t> GaussianDiffusion::sampling_timesteps(const SampleOptions& options) const {
  const std::int64_t T = timesteps();
  const std::int64_t K = options.sampler == Sampler::Ddpm || options.steps == 0 ? T : options.steps;
  CUDL_CHECK(K >= 1 && K <= T, kOp, ": expected 1 <= sampling steps <= T = ", T, ", got ", K);
  // tau_k = k T / K - 1, k = K .. 0: T-1 first, -1 last, evenly spaced.
  std::vector<std::int64_t> steps;
  for (std::int64_t k = K; k >= 0; --k) steps.push_back(k * T / K - 1);
  return steps;
}

ReverseStep GaussianDiffusion::step_coefficients(std::int64_t t, std::int64_t t_prev,
                                                 const SampleOptions& options) const {
  CUDL_CHECK(t >= 0 && t < timesteps() && t_prev >= -1 && t_prev < t, kOp, ": expected a step 0 <= t < ", timesteps(),
             " to -1 <= t_prev < t, got ", t, " -> ", t_prev);
  const auto i = static_cast<std::size_t>(t);
  ReverseStep s;
  s.clamp_x0 = options.clamp_x0;
  if (config_.objective == DiffusionObjective::PredictNoise) {  // x0 = sqrt(1/abar) x_t - sqrt(1/abar - 1) eps
    s.x0_from_xt = tables_.sqrt_recip_alphas_cumprod[i];
    s.x0_from_out = -tables_.sqrt_recipm1_alphas_cumprod[i];
  }
  if (options.sampler == Sampler::Ddpm) {
    CUDL_CHECK(t_prev == t - 1, kOp, ": DDPM steps one timestep at a time, got ", t, " -> ", t_prev);
    s.prev_from_x0 = tables_.posterior_mean_coef1[i];
    s.prev_from_xt = tables_.posterior_mean_coef2[i];
    s.noise_scale = t > 0 ? tables_.posterior_std[i] : 0.0;
    return s;
  }
  // DDIM: x_prev = sqrt(abar_prev) x0 + c eps + sigma z, with eps re-derived from the
  // (clamped) x0 as (x_t - sqrt(abar) x0) / sqrt(1 - abar) and c = sqrt(1 - abar_prev - sigma^2).
  const double abar = tables_.alphas_cumprod[i];
  const double abar_prev = t_prev < 0 ? 1.0 : tables_.alphas_cumprod[static_cast<std::size_t>(t_prev)];
  const double sigma = options.eta * std::sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev));
  const double c = std::sqrt(std::max(1 - abar_prev - sigma * sigma, 0.0)), root = std::sqrt(1 - abar);
  s.prev_from_x0 = std::sqrt(abar_prev) - c * std::sqrt(abar) / root;
  s.prev_from_xt = c / root;
  s.noise_scale = sigma;
  return s;
}

Tensor GaussianDiffusion::run_chain(const Denoiser& denoiser, const Shape& shape, const Tensor* cond, Generator& gen,
                                    const SampleOptions& options,
                                    const std::function<void(std::size_t, const Tensor&)>& visit) const {
  CUDL_CHECK(!shape.empty() && shape[0] > 0, kOp, ": expected a sample shape [N, ...], got ", shape_str(shape));
  CUDL_CHECK(options.guidance == 0.0f || cond != nullptr, kOp, ": guidance ", options.guidance,
             " needs a condition to guide towards");
  CUDL_CHECK(options.eta >= 0.0f, kOp, ": expected eta >= 0, got ", options.eta);
  const std::vector<std::int64_t> steps = sampling_timesteps(options);
  NoGradGuard no_grad;
  Tensor x = randn(shape, gen, device_);
  visit(0, x);
  for (std::size_t k = 0; k + 1 < steps.size(); ++k) {
    const Tensor t = constant_steps(shape[0], steps[k], device_);
    const Tensor out = predict(denoiser, x, t, cond);
    const Tensor uncond = options.guidance != 0.0f ? predict(denoiser, x, t, nullptr) : Tensor();
    const ReverseStep step = step_coefficients(steps[k], steps[k + 1], options);
    const Tensor z = step.noise_scale > 0 ? randn(shape, gen, device_) : Tensor();
    x = reverse_step(x, out, uncond.defined() ? &uncond : nullptr, options.guidance, z.defined() ? &z : nullptr, step);
    visit(k + 1, x);
  }
  return x;
}

Tensor GaussianDiffusion::sample(const Denoiser& denoiser, const Shape& shape, const Tensor* cond, Generator& gen,
                                 const SampleOptions& options) const {
  return run_chain(denoiser, shape, cond, gen, options, [](std::size_t, const Tensor&) {});
}

std::vector<Tensor> GaussianDiffusion::sample_chain(const Denoiser& denoiser, const Shape& shape, const Tensor* cond,
                                                    Generator& gen, const SampleOptions& options,
                                                    std::int64_t frames) const {
  const auto states = static_cast<std::int64_t>(sampling_timesteps(options).size());  // steps + 1, noise included
  CUDL_CHECK(frames >= 2 && frames <= states, kOp, ": expected 2 <= frames <= ", states, " (the chain's states), got ",
             frames);
  // Frame f is state round(f (states - 1) / (frames - 1)): the noise, the sample, and evenly between.
  std::vector<Tensor> strip;
  std::int64_t next = 0;
  run_chain(denoiser, shape, cond, gen, options, [&](std::size_t state, const Tensor& x) {
    const std::int64_t wanted = (next * (states - 1) * 2 + (frames - 1)) / (2 * (frames - 1));
    if (static_cast<std::int64_t>(state) != wanted) return;
    strip.push_back(x.view());  // each step makes a new tensor: the view stays that state
    ++next;
  });
  return strip;
}

}  // namespace cudl
