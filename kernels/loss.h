// Losses. Each returns the scalar loss (a [1] tensor on the inputs' device) and
// the gradient of that loss with respect to the scores, computed together as in
// CS231n's `softmax_loss(x, y) -> (loss, dx)`. Semantics in docs/ops.md.
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

// No gradient for the target: it is data in every use here (labels, GAN real/fake
// targets, regression targets), and the golden cases differentiate x only.
struct LossResult {
  Tensor loss;  // [1]
  Tensor dx;    // d loss / d x
};

// x [N, C] logits, y [N] int64 labels in [0, C): mean over N of -log softmax(x)[y].
LossResult cross_entropy(const Tensor& x, const Tensor& y, Impl impl = Impl::Auto);
// Multiclass hinge with margin 1, summed over classes, divided by N.
LossResult svm_loss(const Tensor& x, const Tensor& y, Impl impl = Impl::Auto);
// x logits, target in [0, 1] of x's shape (the golden cases use [N]): mean binary
// cross-entropy over all elements, computed stably.
LossResult bce_with_logits(const Tensor& x, const Tensor& target, Impl impl = Impl::Auto);
// Mean over all elements of (x - target)^2.
LossResult mse_loss(const Tensor& x, const Tensor& target, Impl impl = Impl::Auto);

}  // namespace cudl
