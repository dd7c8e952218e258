// softmax over the last dim.
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

Tensor softmax_forward(const Tensor& x, Impl impl = Impl::Auto);
// dx = out * (dout - sum(dout * out)) row by row, from the forward's output.
Tensor softmax_backward(const Tensor& dout, const Tensor& out, Impl impl = Impl::Auto);

}  // namespace cudl
