// The activations and their derivatives as scalar functions, shared by the CPU
// and CUDA kernels so every implementation evaluates the same formulas.
// T is float for the fast kernels and double for the CPU reference.
#pragma once

#include <cmath>
#include <type_traits>

#include "core/host_device.h"
#include "kernels/activation.h"

namespace cudl {

template <typename T> CUDL_HOST_DEVICE T sigmoid_of(T x) {
  // exp of a non-positive number only: no overflow for large |x|.
  const T e = std::exp(-std::abs(x));
  return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

template <Activation A, typename T> CUDL_HOST_DEVICE T activation_value(T x, T negative_slope) {
  if constexpr (A == Activation::ReLU) return x < T(0) ? T(0) : x;  // NaN passes through, as in PyTorch
  if constexpr (A == Activation::LeakyReLU) return x > T(0) ? x : x * negative_slope;
  if constexpr (A == Activation::GELU) return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
  if constexpr (A == Activation::SiLU) return x * sigmoid_of(x);
  if constexpr (A == Activation::Tanh) return std::tanh(x);
  if constexpr (A == Activation::Sigmoid) return sigmoid_of(x);
}

// d activation / dx at x.
template <Activation A, typename T> CUDL_HOST_DEVICE T activation_derivative(T x, T negative_slope) {
  if constexpr (A == Activation::ReLU) return x > T(0) ? T(1) : T(0);
  if constexpr (A == Activation::LeakyReLU) return x > T(0) ? T(1) : negative_slope;
  if constexpr (A == Activation::GELU) {
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
    const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);  // 1/sqrt(2 pi)
    return cdf + x * pdf;
  }
  if constexpr (A == Activation::SiLU) {
    const T s = sigmoid_of(x);
    return s * (T(1) + x * (T(1) - s));
  }
  if constexpr (A == Activation::Tanh) {
    const T t = std::tanh(x);
    return T(1) - t * t;
  }
  if constexpr (A == Activation::Sigmoid) {
    const T s = sigmoid_of(x);
    return s * (T(1) - s);
  }
}

// Calls f(std::integral_constant<Activation, a>{}): turns the runtime choice into
// a template argument once per call, outside the element loops.
template <typename F> CUDL_HOST_DEVICE decltype(auto) with_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::ReLU: return f(std::integral_constant<Activation, Activation::ReLU>{});
    case Activation::LeakyReLU: return f(std::integral_constant<Activation, Activation::LeakyReLU>{});
    case Activation::GELU: return f(std::integral_constant<Activation, Activation::GELU>{});
    case Activation::SiLU: return f(std::integral_constant<Activation, Activation::SiLU>{});
    case Activation::Tanh: return f(std::integral_constant<Activation, Activation::Tanh>{});
    case Activation::Sigmoid: break;
  }
  return f(std::integral_constant<Activation, Activation::Sigmoid>{});
}

}  // namespace cudl
