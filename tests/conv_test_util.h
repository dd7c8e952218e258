// Helpers shared by the conv and pool tests: the implementations of an op this
// machine can run and error-message checks. (Finite differences are
// tests/grad_check.h; agreement on the registry cases tests/test_op_agreement.cpp.)
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kernels/registry.h"
#include "tests/grad_check.h"
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

// Expects fn() to throw cudl::Error whose message contains every fragment.
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  const std::string message = error_of(fn);
  for (const std::string& fragment : fragments)
    EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
}

}  // namespace cudl::test
