// CUDA activations, queued on the device's stream.
#pragma once

#include "core/tensor.h"
#include "kernels/activation.h"

namespace cudl::cuda {

// One thread per element, choosing the formula per element.
void activation_forward_naive(Activation a, const Tensor& x, float negative_slope, Tensor& out);
void activation_backward_naive(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx);
// The formula compiled in, float4 loads and stores.
void activation_forward_vec4(Activation a, const Tensor& x, float negative_slope, Tensor& out);
void activation_backward_vec4(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx);

}  // namespace cudl::cuda
