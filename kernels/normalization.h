// Batch, layer and group normalization (torch.nn.functional semantics).
//
// Forward returns what backward needs (per-channel/row/group mean and 1/std), so
// layers cache it instead of recomputing.
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

struct NormForward {
  Tensor out;
  Tensor mean;     // batch norm: [C]; layer norm: [rows]; group norm: [N, groups]
  Tensor inv_std;  // same shape as mean: 1 / sqrt(var + eps)
};

struct NormGrads {
  Tensor dx, dgamma, dbeta;
};

// x [N, C] or [N, C, H, W]; statistics per channel C over every other axis.
// training: normalise with the batch's biased variance and, when running_mean and
// running_var are given, update them in place with PyTorch's convention:
//   running = (1 - momentum) * running + momentum * batch_stat, momentum = 0.1,
//   running_var takes the unbiased batch variance (so checkpoints match torch.nn).
// (CS231n's `momentum = 0.9` is the weight of the old value, i.e. 1 - ours.)
// eval: normalise with running_mean and running_var.
NormForward batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                               Tensor* running_var, bool training, float momentum = 0.1f, float eps = 1e-5f,
                               Impl impl = Impl::Auto);
// `saved` is the forward's result; in eval mode mean/inv_std are the running ones.
NormGrads batch_norm_backward(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                              bool training, Impl impl = Impl::Auto);

// x [..., D], gamma [D], beta [D]: statistics over the last dim.
NormForward layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps = 1e-5f,
                               Impl impl = Impl::Auto);
NormGrads layer_norm_backward(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                              Impl impl = Impl::Auto);

// x [N, C, H, W], gamma [C], beta [C]: statistics per (n, group) over C/groups x H x W.
NormForward group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups,
                               float eps = 1e-5f, Impl impl = Impl::Auto);
NormGrads group_norm_backward(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                              std::int64_t groups, Impl impl = Impl::Auto);

}  // namespace cudl
