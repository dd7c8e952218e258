// Inverted dropout with PyTorch's p: the probability of dropping an element.
// Kept elements are scaled by 1/(1-p). The mask comes from the Philox stream of
// `gen`, so CPU and CUDA drop the same elements for the same seed and offset.
// In eval mode (training == false) the op is the identity.
#pragma once

#include "core/rng.h"
#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

struct DropoutResult {
  Tensor out;
  Tensor mask;  // 0 or 1/(1-p), same shape as x; undefined in eval mode
};

DropoutResult dropout_forward(const Tensor& x, float p, Generator& gen, bool training, Impl impl = Impl::Auto);
Tensor dropout_backward(const Tensor& dout, const Tensor& mask, Impl impl = Impl::Auto);

}  // namespace cudl
