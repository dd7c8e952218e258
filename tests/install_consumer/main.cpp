// Links against an installed cudl and runs one op: proves headers, library and
// package config are complete.
#include <cstdio>

#include "core/device.h"
#include "kernels/linear.h"

int main() {
  using namespace cudl;
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2}, {1, 2});
  Tensor w = Tensor::from_vector(std::vector<float>{3, 4}, {1, 2});
  Tensor b = Tensor::from_vector(std::vector<float>{0.5f}, {1});
  const float y = linear_forward(x, w, b).item();
  std::printf("consumer: linear([1,2],[3,4])+0.5 = %g on %s\n", y, describe(default_device()).c_str());
  return y == 11.5f ? 0 : 1;
}
