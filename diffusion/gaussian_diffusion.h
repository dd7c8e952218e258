// Gaussian diffusion (DDPM, Ho et al. 2020; DDIM, Song et al. 2021) around any
// denoiser: the training loss and the two samplers, as cs231n.md section 3 and
// lucidrains' GaussianDiffusion define them.
//
//   GaussianDiffusion diffusion({.timesteps = 100, .schedule = NoiseSchedule::Sigmoid}, device);
//   Denoiser eps = [&](const Var& x_t, const Tensor& t, const Tensor* cond) { return unet.forward(x_t, t, cond); };
//   optimization_step({&adam}, [&] { return diffusion.training_loss(eps, images, &labels, gen); }, 1.0f);
//   Tensor samples = diffusion.sample(eps, {25, 3, 32, 32}, &labels, gen, {.guidance = 3.0f});
//
// Images live in [-1, 1] (x0 = 2 img - 1); samples come back in that range.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"
#include "core/rng.h"
#include "diffusion/reverse_step.h"
#include "diffusion/schedule.h"

namespace cudl {

// What the denoiser predicts: the noise eps (loss weight 1), or x0 itself
// (loss weighted by SNR = abar / (1 - abar)).
enum class DiffusionObjective { PredictNoise, PredictX0 };
// "pred_noise" | "pred_x0" (lucidrains' pred_x_start is accepted too).
DiffusionObjective parse_diffusion_objective(const std::string& name);
const char* diffusion_objective_name(DiffusionObjective objective);

struct DiffusionConfig {
  std::int64_t timesteps = 1000;
  NoiseSchedule schedule = NoiseSchedule::Sigmoid;
  DiffusionObjective objective = DiffusionObjective::PredictNoise;
};

// The model: its prediction (eps or x0, per the objective) for x_t [N, ...] at
// steps t [N] int64 on x_t's device. cond null asks for the null condition: the
// model decides what that is (zeros, a learned null class), and dropping the
// condition in training (classifier-free guidance) is its business as well.
using Denoiser = std::function<Var(const Var& x_t, const Tensor& t, const Tensor* cond)>;

enum class Sampler { Ddpm, Ddim };

struct SampleOptions {
  Sampler sampler = Sampler::Ddpm;
  // DDIM: K evenly spaced steps, 1 <= K <= T (0: all T). DDPM always takes T.
  std::int64_t steps = 0;
  // DDIM: 0 is deterministic; 1 with K = T is DDPM's ancestral sampler.
  float eta = 0.0f;
  // Classifier-free guidance w: (1 + w) out(x, c) - w out(x, null), two
  // denoiser calls per step. Needs a condition; 0 calls the denoiser once.
  float guidance = 0.0f;
  bool clamp_x0 = true;  // the predicted x0 clamped to [-1, 1] before the posterior mean
};

class GaussianDiffusion {
 public:
  explicit GaussianDiffusion(const DiffusionConfig& config, Device device = Device::cpu());

  const DiffusionConfig& config() const { return config_; }
  std::int64_t timesteps() const { return config_.timesteps; }
  const DiffusionTables& tables() const { return tables_; }  // float64, on the host
  Device device() const { return device_; }
  void to(Device device);  // the device tables follow the model

  // x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, differentiable in both.
  Var q_sample(const Var& x0, const Var& noise, const Tensor& t) const;

  // t ~ U{0 .. T-1} per sample, int64 [n] on the device, from gen.
  Tensor sample_timesteps(std::int64_t n, Generator& gen) const;

  // mean(w (target - pred)^2) for a batch x0 [N, ...] in [-1, 1]: t, then the
  // noise, drawn from gen in that order; pred = denoiser(q_sample(x0, noise, t), t, cond).
  Var training_loss(const Denoiser& denoiser, const Tensor& x0, const Tensor* cond, Generator& gen) const;

  // Samples of `shape` from N(0, 1) noise, under NoGradGuard. The same seed
  // gives the same samples (every draw comes from gen).
  Tensor sample(const Denoiser& denoiser, const Shape& shape, const Tensor* cond, Generator& gen,
                const SampleOptions& options = {}) const;
  // The same chain, also returning `frames` >= 2 states evenly spaced along it,
  // the noise first and the sample last: a denoising strip.
  std::vector<Tensor> sample_chain(const Denoiser& denoiser, const Shape& shape, const Tensor* cond, Generator& gen,
                                   const SampleOptions& options, std::int64_t frames) const;

  // The timesteps a sampler visits, T-1 first; each step goes from entry k to
  // entry k+1, and the last entry is -1 (x0). DDPM: T-1, T-2, .., 0, -1.
  std::vector<std::int64_t> sampling_timesteps(const SampleOptions& options) const;
  // The coefficients of the step t -> t_prev (t_prev = -1: to x0) under the options' sampler.
  ReverseStep step_coefficients(std::int64_t t, std::int64_t t_prev, const SampleOptions& options) const;

 private:
  Tensor run_chain(const Denoiser& denoiser, const Shape& shape, const Tensor* cond, Generator& gen,
                   const SampleOptions& options, const std::function<void(std::size_t, const Tensor&)>& visit) const;

  DiffusionConfig config_;
  DiffusionTables tables_;
  Device device_;
  // The float32 tables the kernels read, on device_.
  Tensor sqrt_alphas_cumprod_, sqrt_one_minus_alphas_cumprod_, sqrt_snr_;
};

}  // namespace cudl
