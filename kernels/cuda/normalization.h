// CUDA batch, layer and group normalization; x seen as [N, C, S] as on the CPU
// (kernels/cpu/normalization.h). All work is queued on the device's stream.
#pragma once

#include "kernels/normalization.h"

namespace cudl::cuda {

// One thread per channel, looping over the channel's N*S values in double.
void batch_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved);
void batch_norm_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads);
// Two-pass grid reduction: blocks reduce slices of each channel to partial sums
// (coalesced along S, or along C for [N, D] input), one thread per channel
// combines them, then one elementwise pass writes out / dx.
void batch_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved);
void batch_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads);
#if CUDL_WITH_CUDNN
// cuDNN: SPATIAL for [N, C, H, W], PER_ACTIVATION for [N, D]. cuDNN has no
// eval-mode backward, so that case runs the fused kernels.
void batch_norm_forward_cudnn(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved);
void batch_norm_backward_cudnn(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads);
#endif

// Group norm (and layer norm as one group of [rows, D, 1]). Naive: one thread
// per (n, group) segment, and one per channel for dgamma/dbeta.
void group_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved);
void group_norm_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads);
// Fused: one warp per segment up to 1024 values, one block per segment beyond;
// dgamma/dbeta by a two-stage reduction into per-slice partial sums (no atomics).
void group_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved);
void group_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads);

}  // namespace cudl::cuda
