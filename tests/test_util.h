// Shared test helpers: the one tolerance rule, GPU skips, finite differences.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/device.h"
#include "core/tensor.h"

// Skips the current test, visibly and with the reason, when no GPU is usable.
#define CUDL_REQUIRE_CUDA()                                                              \
  do {                                                                                   \
    if (!::cudl::cuda_available())                                                       \
      GTEST_SKIP() << "needs a CUDA device: " << ::cudl::cuda_unavailable_reason();      \
  } while (0)

namespace cudl::test {

// ||a - b||_2 / max(||b||_2, 1e-12), the golden-case metric (tests/golden/README.md); inf on
// shape mismatch or non-finite values.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double diff = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    ref += double(b[i]) * b[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(ref), 1e-12);
}

inline double relative_error(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  return relative_error(a.to_vector(), b.to_vector());
}

// The message of the cudl::Error that fn() throws; a failure (and "") if it throws none.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no cudl::Error thrown";
  return "";
}

// A fixture whose tests each get a fresh, empty scratch directory, removed afterwards;
// its name holds the suite, the process id and the test, so concurrent runs keep apart.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() / ("cudl_" + std::string(info->test_suite_name()) + "_" +
                                                     std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

// Values from numpy.linspace(start, stop, n).
inline std::vector<float> linspace(double start, double stop, int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(n == 1 ? start : start + (stop - start) * i / (n - 1));
  return v;
}

}  // namespace cudl::test
