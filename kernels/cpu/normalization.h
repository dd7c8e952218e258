// CPU batch, layer and group normalization.
//
// Batch norm sees x as [N, C, S] (S = H*W, or 1 for [N, D] input) and normalises
// each channel over (N, S). Group norm sees x as [N, C, S] with C split into
// `groups` contiguous groups and normalises each (n, group) over (C/groups, S);
// layer norm is group norm of x viewed as [rows, D, 1] with one group.
// Outputs are preallocated by the dispatcher (kernels/normalization.cpp).
#pragma once

#include "kernels/normalization.h"

namespace cudl::cpu {

// The CS231n computation graph node by node (mu, xmu, var, sqrtvar, ivar, xhat),
// in double; backward replays the forward graph for its cache and backpropagates
// through every node.
void batch_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved);
void batch_norm_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads);
// One pass of shifted sums in double for the statistics, then one fused pass;
// backward uses dx = gamma*inv_std/M * (M*dout - sum(dout) - xhat*sum(dout*xhat)).
// OpenMP over channels.
void batch_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                              Tensor* running_var, bool training, float momentum, float eps, NormForward& saved);
void batch_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               bool training, NormGrads& grads);

// Group norm of x [N, C, S...]; saved.mean and saved.inv_std hold N*groups values.
void group_norm_forward_naive(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved);
void group_norm_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads);
// OpenMP over (n, group) segments; dgamma/dbeta from per-thread partial sums
// combined in thread order (deterministic for a fixed thread count).
void group_norm_forward_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                              NormForward& saved);
void group_norm_backward_fused(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                               std::int64_t groups, NormGrads& grads);

}  // namespace cudl::cpu
