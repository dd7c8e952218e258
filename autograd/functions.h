// Differentiable ops on Vars: each runs its kernel's forward (kernels/<op>.h) and
// records a backward that calls the same op's `<op>_backward`, on the same device
// and with the implementation of the ImplScope in force at the forward.
//
// Names and semantics are torch.nn.functional's. Arguments that are data, not
// differentiated (labels, targets, masks, running statistics), are plain Tensors.
#pragma once

#include "autograd/var.h"
#include "core/rng.h"
#include "kernels/activation.h"
#include "kernels/conv2d.h"
#include "kernels/max_pool2d.h"

namespace cudl {

// ---- layers of the conv-net half ----
Var linear(const Var& x, const Var& w, const Var& b);
Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p = {});
Var conv_transpose2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p = {});
Var max_pool2d(const Var& x, const Pool2dParams& p);
Var upsample_nearest2d(const Var& x, std::int64_t scale);

Var activation(Activation kind, const Var& x, float negative_slope = 0.01f);
inline Var relu(const Var& x) { return activation(Activation::ReLU, x); }
inline Var leaky_relu(const Var& x, float negative_slope = 0.01f) {
  return activation(Activation::LeakyReLU, x, negative_slope);
}
inline Var gelu(const Var& x) { return activation(Activation::GELU, x); }
inline Var silu(const Var& x) { return activation(Activation::SiLU, x); }
inline Var tanh(const Var& x) { return activation(Activation::Tanh, x); }
inline Var sigmoid(const Var& x) { return activation(Activation::Sigmoid, x); }
Var softmax(const Var& x);  // over the last dim

// p: probability of dropping; identity when !training. The mask is drawn from gen.
Var dropout(const Var& x, float p, Generator& gen, bool training);

// training: batch statistics, and running_mean/var (when given) updated in place
// with PyTorch's momentum; else the running statistics normalise.
Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor* running_mean, Tensor* running_var,
               bool training, float momentum = 0.1f, float eps = 1e-5f);
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps = 1e-5f);
Var group_norm(const Var& x, const Var& gamma, const Var& beta, std::int64_t groups, float eps = 1e-5f);

// x * factor: the constant weights of a sum of losses (½ of LSGAN's squared error).
Var scale(const Var& x, float factor);

// ---- views ----
Var reshape(const Var& x, const Shape& shape);  // one dim may be -1; shares storage
Var flatten(const Var& x);                      // [N, ...] -> [N, prod(...)]

// ---- losses: a [1] value; the target is data ----
Var cross_entropy(const Var& x, const Tensor& y);  // logits [N, C], labels [N] int64; mean
Var svm_loss(const Var& x, const Tensor& y);
Var bce_with_logits(const Var& x, const Tensor& target);  // mean
Var mse_loss(const Var& x, const Tensor& target);         // mean

}  // namespace cudl
