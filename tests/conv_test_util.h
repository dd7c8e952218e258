// Helpers shared by the conv and pool tests: the implementations of an op this
// machine can run, finite differences and error-message checks. (Naive vs fast
// and CPU vs CUDA agreement on the registry cases is tests/test_op_agreement.cpp.)
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kernels/registry.h"
#include "tests/test_util.h"

namespace cudl::test {

inline Device device_of(const Implementation& impl) {
  return impl.device == DeviceType::CPU ? Device::cpu() : Device::cuda();
}

// The op's implementations this build and machine can run (CUDA ones only with a GPU).
inline std::vector<Implementation> usable_implementations(const std::string& op) {
  std::vector<Implementation> usable;
  for (const Implementation& impl : find_op(op)->implementations)
    if (impl.device == DeviceType::CPU || cuda_available()) usable.push_back(impl);
  return usable;
}

// d loss / d input by central differences, where loss() is evaluated in float32
// by the op and summed in double. `input` is perturbed in place and restored.
inline std::vector<float> numeric_gradient(const std::function<double()>& loss, Tensor& input, float h) {
  std::vector<float> grad(input.numel());
  float* p = input.data<float>();
  for (std::int64_t i = 0; i < input.numel(); ++i) {
    const float saved = p[i];
    p[i] = saved + h;
    const double plus = loss();
    p[i] = saved - h;
    const double minus = loss();
    p[i] = saved;
    grad[i] = static_cast<float>((plus - minus) / (double(saved + h) - double(saved - h)));
  }
  return grad;
}

// sum(out * weights) in double: the scalar whose gradient is backward(dout = weights).
inline double weighted_sum(const Tensor& out, const Tensor& weights) {
  const std::vector<float> o = out.to_vector(), w = weights.to_vector();
  double sum = 0.0;
  for (size_t i = 0; i < o.size(); ++i) sum += double(o[i]) * w[i];
  return sum;
}

// Expects fn() to throw cudl::Error whose message contains every fragment.
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "no cudl::Error thrown (expected one mentioning " << fragments.front() << ")";
  } catch (const Error& e) {
    for (const std::string& fragment : fragments)
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << "'" << fragment << "' not in: " << e.what();
  }
}

}  // namespace cudl::test
