// One step of a reverse (denoising) chain, x_t -> x_prev, for every element at
// once: the update both samplers share (DDPM ancestral and DDIM differ only in
// the coefficients, which gaussian_diffusion.cpp derives per step in float64).
// One formula for the CPU loop and the CUDA kernel. Not differentiated: sampling
// runs under NoGradGuard on plain tensors.
#pragma once

#include "core/host_device.h"
#include "core/tensor.h"

namespace cudl {

// Classifier-free guidance: (1 + w) out(x, c) - w out(x, null). It is affine in
// the model output with weights summing to one, so guiding an x0 prediction
// equals guiding the eps it implies.
CUDL_HOST_DEVICE double guided_output(double cond, double uncond, double w) { return (1.0 + w) * cond - w * uncond; }

//   x0     = x0_from_xt x_t + x0_from_out out,  clamped to [-1, 1] when clamp_x0
//   x_prev = prev_from_x0 x0 + prev_from_xt x_t + noise_scale z
// In double: x0 from eps at large t is the difference of two terms ~1/sqrt(abar)
// times larger than itself.
struct ReverseStep {
  double x0_from_xt = 0, x0_from_out = 1;
  bool clamp_x0 = true;
  double prev_from_x0 = 0, prev_from_xt = 0, noise_scale = 0;
};

CUDL_HOST_DEVICE float reverse_step_value(const ReverseStep& s, float x_t, double out, float z) {
  double x0 = s.x0_from_xt * x_t + s.x0_from_out * out;
  if (s.clamp_x0) x0 = x0 < -1.0 ? -1.0 : (x0 > 1.0 ? 1.0 : x0);
  return static_cast<float>(s.prev_from_x0 * x0 + s.prev_from_xt * x_t + s.noise_scale * z);
}

// x_prev for all of x_t [N, ...] on its device. out: the model output;
// out_uncond (with guidance weight w) the null-condition one, or null for no
// guidance; z: the step's N(0, 1) draw, or null when noise_scale is 0.
Tensor reverse_step(const Tensor& x_t, const Tensor& out, const Tensor* out_uncond, float guidance, const Tensor* z,
                    const ReverseStep& step);

}  // namespace cudl
