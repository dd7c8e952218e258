// CUDA scaled_dot_product_attention; tensors viewed as [BH, rows, Dh] (attention_math.h).
#pragma once

#include "core/tensor.h"
#include "kernels/attention_math.h"

namespace cudl::cuda {

// Materialised [BH, S, T] scores and probabilities in global memory, one thread
// per score, per row or per output element (the reference).
void attention_forward_naive(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out,
                             Tensor& lse);
void attention_backward_naive(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& out, const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk,
                              Tensor& dv);

// FlashAttention-2 in fp32: tiles of Q, K, V in shared memory, online softmax,
// nothing of size S x T in global memory (extra memory: D, [BH, S], in the backward).
// Head dims up to kFlashMaxHeadDim; kernels are compiled for 32, 64 and 128 and a
// smaller Dh runs in the next one up, zero-padded.
inline constexpr std::int64_t kFlashMaxHeadDim = 128;
void attention_forward_flash(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out,
                             Tensor& lse);
void attention_backward_flash(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& out, const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk,
                              Tensor& dv);

}  // namespace cudl::cuda
