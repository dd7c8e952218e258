// ddpm_q_sample: DDPM's forward (noising) process with a timestep per sample
// (FORMAT.md row ddpm_q_sample),
//   x_t[n] = sqrt(abar[t_n]) x0[n] + sqrt(1 - abar[t_n]) noise[n],
// differentiable in x0 and noise: each gradient is dout scaled per sample.
//
// The two scales come as [T] float32 tables (diffusion/schedule.h's
// sqrt_alphas_cumprod and sqrt_one_minus_alphas_cumprod, made once in float64)
// rather than being re-derived from abar, where 1 - abar near t = 0 would keep
// only a few float32 digits.
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

// x0, noise [N, ...] float32; t [N] int64 in [0, T); x0_scale, noise_scale [T].
Tensor ddpm_q_sample_forward(const Tensor& x0, const Tensor& noise, const Tensor& t, const Tensor& x0_scale,
                             const Tensor& noise_scale, Impl impl = Impl::Auto);

struct DdpmQSampleGrads {
  Tensor dx0;     // x0_scale[t_n] dout[n]
  Tensor dnoise;  // noise_scale[t_n] dout[n]
};
DdpmQSampleGrads ddpm_q_sample_backward(const Tensor& dout, const Tensor& t, const Tensor& x0_scale,
                                        const Tensor& noise_scale, Impl impl = Impl::Auto);

// out[n, ...] = scale[t_n] x[n, ...]: the one-term form of the same kernel,
// which also weights a loss per timestep (the x0 objective's SNR weight).
Tensor scale_per_timestep(const Tensor& x, const Tensor& t, const Tensor& scale, Impl impl = Impl::Auto);

}  // namespace cudl
