// The activations and their derivatives as scalar functions, shared by the CPU
// and CUDA kernels so every implementation evaluates the same formulas.
// T is float for the fast kernels and double for the CPU reference.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/host_device.h"
#include "kernels/activation.h"

namespace cudl {

#if !defined(__CUDA_ARCH__)
// e^x for float x <= 0 without a libm call, so that the CPU loops over it
// vectorise: one scalar expf call per element was a fifth of a U-Net training
// step. Cody-Waite reduction x = k ln2 + r with |r| <= ln2 / 2 (ln2 split in a
// short head and a tail so k ln2 is exact), e^r by its Taylor polynomial of
// degree 6 (truncation below 1e-7 relative), 2^k through the exponent bits.
// Within 3 ulp of std::exp (tested); x below -87 (e^x near FLT_MIN) gives 0,
// so exp(-inf) = 0 as masked softmax needs; NaN stays NaN.
inline float exp_nonpositive(float x) {
  const float clamped = x < -87.0f ? -87.0f : x;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
  const float k = (clamped * 1.44269504088896341f + kRound) - kRound;
  const float r = (clamped - k * 0.693359375f) + k * 2.12194440e-4f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = std::bit_cast<float>(static_cast<std::uint32_t>(static_cast<std::int32_t>(k) + 127) << 23);
  return x < -87.0f ? 0.0f : p * scale;
}
#endif

// e^x for x <= 0: the vectorisable polynomial for float on the CPU, std::exp
// elsewhere (the double reference, the GPU's fast exp).
template <typename T> CUDL_HOST_DEVICE T exp_of_nonpositive(T x) {
#if !defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float>) return exp_nonpositive(x);
#endif
  return std::exp(x);
}

template <typename T> CUDL_HOST_DEVICE T sigmoid_of(T x) {
  // exp of a non-positive number only: no overflow for large |x|.
  const T e = exp_of_nonpositive(-std::abs(x));
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
