// CPU scaled_dot_product_attention; tensors viewed as [BH, rows, Dh] (attention_math.h).
#pragma once

#include "core/tensor.h"
#include "kernels/attention_math.h"

namespace cudl::cpu {

// Plain loops over each query's row of scores, accumulated in double (the reference).
void attention_forward_naive(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out,
                             Tensor& lse);
void attention_backward_naive(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& out, const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk,
                              Tensor& dv);
// Blocks of query rows: BLAS GEMMs for the score block and its products, the masked
// softmax fused in between, (sample, head, block) spread over OpenMP threads.
void attention_forward_blas(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out,
                            Tensor& lse);
void attention_backward_blas(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& out, const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk,
                             Tensor& dv);

}  // namespace cudl::cpu
