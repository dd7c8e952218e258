// Elementwise activations (torch.nn.functional semantics; gelu is the exact erf form).
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

enum class Activation { ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid };

const char* activation_name(Activation a);  // "relu", "leaky_relu", ... (the golden op names)

// negative_slope is used by LeakyReLU only.
Tensor activation_forward(Activation a, const Tensor& x, float negative_slope = 0.01f, Impl impl = Impl::Auto);
// dx from the forward's input x.
Tensor activation_backward(Activation a, const Tensor& dout, const Tensor& x, float negative_slope = 0.01f,
                           Impl impl = Impl::Auto);

}  // namespace cudl
