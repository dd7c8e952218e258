// linear: out = x @ w^T + b over the last dim of x (torch.nn.functional.linear).
//   x [..., D], w [M, D], b [M]  ->  out [..., M]
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

struct LinearGrads {
  Tensor dx, dw, db;
};

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Impl impl = Impl::Auto);
LinearGrads linear_backward(const Tensor& dout, const Tensor& x, const Tensor& w, Impl impl = Impl::Auto);

}  // namespace cudl
