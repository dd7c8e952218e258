// matmul: out = op(a) @ op(b) over the last two dims (torch.matmul for operands
// of two or more dims), where op transposes a matrix when its flag is set
// (trans_b: a @ b.transpose(-2, -1), as attention's q k^T, without a copy).
//   a [..., M, K], b [..., K, N]  ->  out [..., M, N]
// The leading (batch) dims of a and b are equal, or one operand is 2-D and is
// shared by every product of the other's batch (a [..., M, K] @ w [K, N]).
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

struct MatmulGrads {
  Tensor da, db;  // shaped like a and b; a shared operand's gradient sums over the batch
};

Tensor matmul_forward(const Tensor& a, const Tensor& b, Impl impl = Impl::Auto);
Tensor matmul_forward(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Impl impl = Impl::Auto);
// da = dout op(b)^T, db = op(a)^T dout (transposed back for a transposed operand).
MatmulGrads matmul_backward(const Tensor& dout, const Tensor& a, const Tensor& b, Impl impl = Impl::Auto);
MatmulGrads matmul_backward(const Tensor& dout, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                            Impl impl = Impl::Auto);

}  // namespace cudl
