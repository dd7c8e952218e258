// The per-row (cross_entropy, svm_loss) and per-element (bce_with_logits,
// mse_loss) loss formulas, shared by the CPU kernels and the naive CUDA kernels.
// Each returns the unscaled loss of its row or element and writes its gradient
// already multiplied by `scale` (1/N for the mean). T is the accumulation type.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"
#include "kernels/activation_math.h"  // sigmoid_of

namespace cudl {

enum class LossKind { CrossEntropy, Svm, BceWithLogits, Mse };

constexpr const char* loss_name(LossKind kind) {
  switch (kind) {
    case LossKind::CrossEntropy: return "cross_entropy";
    case LossKind::Svm: return "svm_loss";
    case LossKind::BceWithLogits: return "bce_with_logits";
    case LossKind::Mse: return "mse_loss";
  }
  return "?";
}

// Losses over rows of class scores with an int64 label per row; the others take
// a float target per element.
constexpr bool has_labels(LossKind kind) { return kind == LossKind::CrossEntropy || kind == LossKind::Svm; }

// log-sum-exp(x) - x[label], shifted by the row's max so exp never overflows;
// dx = (softmax(x) - onehot(label)) * scale.
template <typename T>
CUDL_HOST_DEVICE T cross_entropy_row(const float* x, std::int64_t classes, std::int64_t label, T scale, float* dx) {
  T max = x[0];
  for (std::int64_t j = 1; j < classes; ++j) max = x[j] > max ? T(x[j]) : max;
  T sum = 0;
  for (std::int64_t j = 0; j < classes; ++j) sum += std::exp(x[j] - max);
  for (std::int64_t j = 0; j < classes; ++j)
    dx[j] = static_cast<float>((std::exp(x[j] - max) / sum - (j == label ? T(1) : T(0))) * scale);
  return max + std::log(sum) - x[label];
}

// sum over j != label of max(0, x[j] - x[label] + 1); each positive margin sends
// +scale to its class and -scale to the label's.
template <typename T>
CUDL_HOST_DEVICE T svm_row(const float* x, std::int64_t classes, std::int64_t label, T scale, float* dx) {
  T loss = 0, positive = 0;
  for (std::int64_t j = 0; j < classes; ++j) {
    const T margin = T(x[j]) - T(x[label]) + T(1);
    const bool counts = j != label && margin > T(0);
    loss += counts ? margin : T(0);
    positive += counts ? T(1) : T(0);
    dx[j] = counts ? static_cast<float>(scale) : 0.0f;
  }
  dx[label] = static_cast<float>(-positive * scale);
  return loss;
}

// max(x, 0) - x t + log(1 + exp(-|x|)): the exp never overflows.
template <typename T> CUDL_HOST_DEVICE T bce_with_logits_element(float x, float target, T scale, float* dx) {
  const T xt = x;
  *dx = static_cast<float>((sigmoid_of(xt) - T(target)) * scale);
  return (xt > T(0) ? xt : T(0)) - xt * T(target) + std::log1p(std::exp(-std::abs(xt)));
}

template <typename T> CUDL_HOST_DEVICE T mse_element(float x, float target, T scale, float* dx) {
  const T diff = T(x) - T(target);
  *dx = static_cast<float>(T(2) * diff * scale);
  return diff * diff;
}

}  // namespace cudl
