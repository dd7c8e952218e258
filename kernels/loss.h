// Losses. Each returns the scalar loss (a [1] tensor on the inputs' device) and
// the gradient of that loss with respect to the scores, computed together as in
// CS231n's `softmax_loss(x, y) -> (loss, dx)`. Semantics in tests/golden/FORMAT.md.
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

struct LossResult {
  Tensor loss;     // [1]
  Tensor dx;       // d loss / d x
  Tensor dtarget;  // d loss / d target, for losses with a float target (bce, mse)
};

// x [N, C] logits, y [N] int64 labels in [0, C): mean over N of -log softmax(x)[y].
LossResult cross_entropy(const Tensor& x, const Tensor& y, Impl impl = Impl::Auto);
// Multiclass hinge with margin 1, summed over classes, divided by N.
LossResult svm_loss(const Tensor& x, const Tensor& y, Impl impl = Impl::Auto);
// x [N] logits, target [N] in [0, 1]: mean binary cross-entropy, computed stably.
LossResult bce_with_logits(const Tensor& x, const Tensor& target, Impl impl = Impl::Auto);
// Mean over all elements of (x - target)^2.
LossResult mse_loss(const Tensor& x, const Tensor& target, Impl impl = Impl::Auto);

}  // namespace cudl
