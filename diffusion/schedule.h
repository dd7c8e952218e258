// DDPM noise schedules and the tables the forward process, the loss and the
// samplers read (cs231n.md section 3, FORMAT.md row ddpm_q_sample).
//
// Everything is computed in float64: 1 - abar near t = 0 and the posterior
// variance near t = 0 lose most of their digits when formed in float32. The
// tables a device reads are rounded to float32 only once, at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cudl {

// linear: beta from 1e-4 s to 0.02 s over T steps, s = 1000 / T (Ho et al.).
// cosine: abar(u) = cos((u + 0.008) / 1.008 * pi/2)^2 (Nichol & Dhariwal).
// sigmoid: abar(u) = (sigmoid(3) - sigmoid(6u - 3)) / (sigmoid(3) - sigmoid(-3)) (Jabri et al.).
// For cosine and sigmoid, abar(u) on u = i / T is normalised by abar(0) and
// beta_i = clip(1 - abar(u_{i+1}) / abar(u_i), 0, 0.999).
enum class NoiseSchedule { Linear, Cosine, Sigmoid };

// "linear" | "cosine" | "sigmoid"; anything else throws naming the three.
NoiseSchedule parse_noise_schedule(const std::string& name);
const char* noise_schedule_name(NoiseSchedule schedule);

// beta_t for t = 0 .. T-1.
std::vector<double> noise_schedule_betas(NoiseSchedule schedule, std::int64_t timesteps);

// Every per-timestep quantity, index t = 0 .. T-1, with abar_{-1} = 1.
struct DiffusionTables {
  std::vector<double> betas;
  std::vector<double> alphas;                      // 1 - beta
  std::vector<double> alphas_cumprod;              // abar_t
  std::vector<double> alphas_cumprod_prev;         // abar_{t-1}
  std::vector<double> sqrt_alphas_cumprod;         // q_sample's x0 scale
  std::vector<double> sqrt_one_minus_alphas_cumprod;  // q_sample's noise scale
  std::vector<double> sqrt_recip_alphas_cumprod;   // x0 = sqrt(1/abar) x_t - sqrt(1/abar - 1) eps
  std::vector<double> sqrt_recipm1_alphas_cumprod;
  std::vector<double> posterior_mean_coef1;        // beta sqrt(abar_{t-1}) / (1 - abar)
  std::vector<double> posterior_mean_coef2;        // (1 - abar_{t-1}) sqrt(alpha) / (1 - abar)
  std::vector<double> posterior_variance;          // beta (1 - abar_{t-1}) / (1 - abar)
  std::vector<double> posterior_std;               // sqrt(max(variance, 1e-20))
  std::vector<double> snr;                         // abar / (1 - abar)
  std::vector<double> sqrt_snr;                    // the x0 objective's loss weight, as a scale

  std::int64_t timesteps() const { return static_cast<std::int64_t>(betas.size()); }
};

DiffusionTables diffusion_tables(NoiseSchedule schedule, std::int64_t timesteps);

// A table as a float32 [T] tensor on `device`.
Tensor table_tensor(const std::vector<double>& table, Device device = Device::cpu());

}  // namespace cudl
