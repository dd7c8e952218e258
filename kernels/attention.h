// scaled_dot_product_attention: out = softmax(scale * q k^T, masked) v for each
// sample and head, as torch.nn.functional.scaled_dot_product_attention in fp32.
// Pure tensor functions: the forward's `lse` is what the backward needs besides
// the inputs and out (the scores are recomputed, never stored).
#pragma once

#include <optional>

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

// Which keys each query sees; the two restrictions combine.
struct AttentionOptions {
  bool causal = false;           // key j hidden from query i when j > i (torch's tril(ones(S, T)), also for S != T)
  const Tensor* mask = nullptr;  // [S, T] float, 0 hides the key (else attends); shared by every sample and head
  std::optional<float> scale;    // default 1 / sqrt(Dh)
};

struct AttentionForward {
  Tensor out;  // [N, H, S, Dh]
  // [N, H, S] float32: log sum_j exp(scale * q_i . k_j) over the keys query i
  // attends. A query that attends no key gets out = 0 and lse = +inf, so that the
  // backward's probabilities exp(score - lse) are 0 there without a special case
  // and its gradients come out zero.
  Tensor lse;
};

struct AttentionGrads {
  Tensor dq, dk, dv;
};

// q [N, H, S, Dh], k and v [N, H, T, Dh].
AttentionForward scaled_dot_product_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                      const AttentionOptions& options = {}, Impl impl = Impl::Auto);
// From the forward's out and lse, with the same options.
AttentionGrads scaled_dot_product_attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                                     const Tensor& v, const Tensor& out, const Tensor& lse,
                                                     const AttentionOptions& options = {}, Impl impl = Impl::Auto);

}  // namespace cudl
