// Parameter updates, in place, one fused pass over w and its state (on CUDA a
// single kernel per parameter, not a chain of elementwise launches). The rules
// are CS231n's (tests/golden/FORMAT.md rows sgd ... adamw).
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

// Gradient clipping's two halves: sum over all tensors of sum(x^2), and x *= scale.
// On CUDA every tensor's partial sum is accumulated on the device and read back
// with one copy, so the cost does not grow with a host sync per tensor.
double sum_of_squares(const std::vector<const Tensor*>& tensors, Impl impl = Impl::Auto);
void scale_inplace(Tensor& x, float scale, Impl impl = Impl::Auto);

}  // namespace cudl
