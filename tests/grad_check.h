// Finite-difference gradient checks for the op tests. (Agreement between an op's
// implementations and devices is tests/test_op_agreement.cpp.)
#pragma once

#include <functional>
#include <vector>

#include "core/tensor.h"

namespace cudl::test {

// sum(a * b) accumulated in double: the scalar whose gradient with respect to
// an op's input is that op's backward applied to b.
inline double dot(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  double sum = 0.0;
  for (std::size_t i = 0; i < va.size(); ++i) sum += static_cast<double>(va[i]) * vb[i];
  return sum;
}

// d loss / d input by central differences, one element at a time. `input` (a host
// float32 tensor that loss() reads) is perturbed in place and restored; the
// difference is divided by the step float rounding actually took.
inline std::vector<float> numeric_gradient(const std::function<double()>& loss, Tensor& input, float h) {
  float* p = input.data<float>();
  std::vector<float> grad(static_cast<std::size_t>(input.numel()));
  for (std::size_t i = 0; i < grad.size(); ++i) {
    const float original = p[i], up = original + h, down = original - h;
    p[i] = up;
    const double loss_up = loss();
    p[i] = down;
    const double loss_down = loss();
    p[i] = original;
    grad[i] = static_cast<float>((loss_up - loss_down) / (static_cast<double>(up) - down));
  }
  return grad;
}

}  // namespace cudl::test
