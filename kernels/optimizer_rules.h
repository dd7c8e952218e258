// The per-element update rules, shared by every implementation so CPU and CUDA,
// naive and fast, run one formula. A rule updates one weight w from its gradient
// g and up to two state values s0, s1 (velocity; cache; Adam's m and v). T is
// double in the naive references and float in the fast paths.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"

namespace cudl::rules {

template <typename T> struct Sgd {
  static constexpr int kStates = 0;
  T lr;
  CUDL_HOST_DEVICE void operator()(T& w, T g, T&, T&) const { w -= lr * g; }
};

template <typename T> struct SgdMomentum {
  static constexpr int kStates = 1;
  T lr, momentum;
  CUDL_HOST_DEVICE void operator()(T& w, T g, T& velocity, T&) const {
    velocity = momentum * velocity - lr * g;
    w += velocity;
  }
};

template <typename T> struct RmsProp {
  static constexpr int kStates = 1;
  T lr, decay_rate, eps;
  CUDL_HOST_DEVICE void operator()(T& w, T g, T& cache, T&) const {
    cache = decay_rate * cache + (T(1) - decay_rate) * g * g;
    using std::sqrt;
    w -= lr * g / (sqrt(cache) + eps);
  }
};

// Bias corrections 1 - beta^step are computed once per step on the host (in
// double), not per element.
template <typename T> struct Adam {
  static constexpr int kStates = 2;
  T lr, beta1, beta2, eps, bias_correction1, bias_correction2, decay_factor;  // decay_factor = 1 - lr * weight_decay

  static Adam make(float lr, float beta1, float beta2, float eps, std::int64_t step, float weight_decay) {
    const double s = static_cast<double>(step);
    return {T(lr),
            T(beta1),
            T(beta2),
            T(eps),
            T(1.0 - std::pow(static_cast<double>(beta1), s)),
            T(1.0 - std::pow(static_cast<double>(beta2), s)),
            T(1.0 - static_cast<double>(lr) * weight_decay)};
  }

  CUDL_HOST_DEVICE void operator()(T& w, T g, T& m, T& v) const {
    m = beta1 * m + (T(1) - beta1) * g;
    v = beta2 * v + (T(1) - beta2) * g * g;
    using std::sqrt;
    const T m_hat = m / bias_correction1, v_hat = v / bias_correction2;
    w = w * decay_factor - lr * m_hat / (sqrt(v_hat) + eps);
  }
};

}  // namespace cudl::rules
