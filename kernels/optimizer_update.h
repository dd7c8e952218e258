// Parameter updates, in place, one fused pass over w and its state (on CUDA a
// single kernel per parameter, not a chain of elementwise launches). The rules
// are CS231n's (docs/ops.md, rows sgd ... adamw).
#pragma once

#include <vector>

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

// w -= lr * dw
void sgd_update(Tensor& w, const Tensor& dw, float lr, Impl impl = Impl::Auto);
// v = momentum * v - lr * dw; w += v
void sgd_momentum_update(Tensor& w, const Tensor& dw, Tensor& velocity, float lr, float momentum,
                         Impl impl = Impl::Auto);
// cache = decay * cache + (1 - decay) dw^2; w -= lr dw / (sqrt(cache) + eps)
void rmsprop_update(Tensor& w, const Tensor& dw, Tensor& cache, float lr, float decay_rate, float eps,
                    Impl impl = Impl::Auto);
// Adam with bias correction; `step` is the 1-based index of this step (t after t += 1).
// weight_decay > 0 applies AdamW's decoupled decay w *= (1 - lr * weight_decay) first.
void adam_update(Tensor& w, const Tensor& dw, Tensor& m, Tensor& v, float lr, float beta1, float beta2, float eps,
                 std::int64_t step, float weight_decay = 0.0f, Impl impl = Impl::Auto);

// The same rule applied to many parameters (an optimizer's step): on CUDA the
// small ones share one launch per 96 chunks of 32K elements, their pointers
// passed in the kernel's arguments (no copy, no sync); parameters of 1M elements
// or more get the single-tensor kernel. Elsewhere: the single-tensor update per
// entry. `state0` / `state1` are the rule's state as in the calls above
// (velocity; cache; m, v) and stay null where the rule has none.
struct ParamUpdate {
  Tensor* w;
  const Tensor* dw;
  Tensor* state0 = nullptr;
  Tensor* state1 = nullptr;
};
void sgd_update_multi(const std::vector<ParamUpdate>& params, float lr, Impl impl = Impl::Auto);
void sgd_momentum_update_multi(const std::vector<ParamUpdate>& params, float lr, float momentum,
                               Impl impl = Impl::Auto);
void rmsprop_update_multi(const std::vector<ParamUpdate>& params, float lr, float decay_rate, float eps,
                          Impl impl = Impl::Auto);
void adam_update_multi(const std::vector<ParamUpdate>& params, float lr, float beta1, float beta2, float eps,
                       std::int64_t step, float weight_decay = 0.0f, Impl impl = Impl::Auto);

// Gradient clipping's two halves: sum over all tensors of sum(x^2), and x *= scale.
// On CUDA every tensor's partial sum is accumulated on the device and read back
// with one copy, so the cost does not grow with a host sync per tensor.
double sum_of_squares(const std::vector<const Tensor*>& tensors, Impl impl = Impl::Auto);
void scale_inplace(Tensor& x, float scale, Impl impl = Impl::Auto);

}  // namespace cudl
