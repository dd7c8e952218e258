// temporal_softmax_loss: softmax cross-entropy at every time step of a sequence
// of scores, weighted by a mask (CS231n's captioning loss). Returns the loss and
// its gradient together, as the other losses (kernels/loss.h).
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"
#include "kernels/loss.h"

namespace cudl {

// What the masked sum is divided by. Batch is CS231n's RNN captioning loss (and
// the golden cases'): -sum(mask * log_softmax(x)[y]) / N. Tokens is
// CaptioningSolverTransformer's mean of (CE * mask) over N*T: masked steps count
// in the denominator.
enum class TemporalLossNormalize { Batch, Tokens };

// x [N, T, V] scores, y [N, T] int64 in [0, V) (every step, masked or not), mask
// [N, T] float weights (1 keep, 0 ignore).
LossResult temporal_softmax_loss(const Tensor& x, const Tensor& y, const Tensor& mask,
                                 TemporalLossNormalize normalize = TemporalLossNormalize::Batch,
                                 Impl impl = Impl::Auto);

}  // namespace cudl
