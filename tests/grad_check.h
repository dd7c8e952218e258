// Helpers for the op tests: finite-difference gradients and registry-driven
// agreement between implementations.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/registry.h"
#include "tests/test_util.h"

namespace cudl::test {

// sum(a * b) accumulated in double: the scalar whose gradient with respect to
// an op's input is that op's backward applied to b.
inline double dot(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  double sum = 0.0;
  for (std::size_t i = 0; i < va.size(); ++i) sum += static_cast<double>(va[i]) * vb[i];
  return sum;
}

// Central differences of f at x (a host float32 tensor), one element at a time.
inline std::vector<float> numeric_gradient(const std::function<double(const Tensor&)>& f, const Tensor& x, float h) {
  Tensor probe = x.clone();
  float* p = probe.data<float>();
  std::vector<float> grad(static_cast<std::size_t>(x.numel()));
  for (std::size_t i = 0; i < grad.size(); ++i) {
    const float original = p[i], up = original + h, down = original - h;
    p[i] = up;
    const double f_up = f(probe);
    p[i] = down;
    const double f_down = f(probe);
    p[i] = original;
    grad[i] = static_cast<float>((f_up - f_down) / (static_cast<double>(up) - down));
  }
  return grad;
}

// Runs every implementation of `op` the build and machine have on every case
// (large cases on CUDA only) and compares each result with the reference
// (cpu_naive; for large cases cuda_naive). Returns the number of comparisons.
inline int expect_implementations_agree(const std::string& op_name, double tolerance, bool include_cuda) {
  const OpDef* op = find_op(op_name);
  EXPECT_NE(op, nullptr) << op_name << " is not registered";
  if (op == nullptr) return 0;
  int compared = 0;
  for (const OpCase& c : op->cases) {
    if (c.large && !include_cuda) continue;
    const TensorMap inputs = make_inputs(c, 42);
    const Device ref_device = c.large ? Device::cuda() : Device::cpu();
    const TensorMap reference = op->run(inputs, c.attrs, ref_device, Impl::Naive, true);
    for (const Implementation& impl : op->implementations) {
      const bool cuda = impl.device == DeviceType::CUDA;
      const bool is_reference = impl.impl == Impl::Naive && cuda == c.large;
      if (cuda != include_cuda || is_reference) continue;
      const TensorMap got = op->run(inputs, c.attrs, cuda ? Device::cuda() : Device::cpu(), impl.impl, true);
      for (const auto& [name, expected] : reference) {
        const auto it = got.find(name);
        EXPECT_TRUE(it != got.end()) << op_name << " " << impl.name << " " << c.label << ": no " << name;
        if (it == got.end()) continue;
        EXPECT_LE(relative_error(it->second, expected), tolerance)
            << op_name << " " << impl.name << " vs " << (c.large ? "cuda_naive" : "cpu_naive") << ", case " << c.label
            << ", result " << name;
        ++compared;
      }
    }
  }
  return compared;
}

}  // namespace cudl::test
