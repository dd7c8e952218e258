// CPU activations. `out`/`dx` are allocated by the caller with x's shape.
#pragma once

#include "core/tensor.h"
#include "kernels/activation.h"

namespace cudl::cpu {

// Plain loop; picks the formula per element and evaluates it in double (the reference).
void activation_forward_naive(Activation a, const Tensor& x, float negative_slope, Tensor& out);
void activation_backward_naive(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx);
// The formula fixed at compile time, float math, OpenMP threads over a SIMD loop.
void activation_forward_omp(Activation a, const Tensor& x, float negative_slope, Tensor& out);
void activation_backward_omp(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx);

}  // namespace cudl::cpu
