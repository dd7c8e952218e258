#include "layers/linear.h"

#include "autograd/functions.h"
#include "autograd/tensor_ops.h"
#include "layers/init.h"

namespace cudl {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, Device device, bool with_bias) {
  const float bound = default_init_bound(in_features);
  weight = Parameter(uniform_parameter({out_features, in_features}, bound, gen, device));
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = Parameter(uniform_parameter({out_features}, bound, gen, device));
    register_parameter("bias", &bias);
  }
}

Var Linear::forward(const Var& x) {
  if (bias.defined()) return linear(x, weight, bias);
  return matmul(x, weight, /*trans_a=*/false, /*trans_b=*/true);
}

std::string Linear::name() const {
  return "Linear(in_features=" + std::to_string(weight.size(1)) + ", out_features=" + std::to_string(weight.size(0)) +
         (bias.defined() ? "" : ", bias=False") + ")";
}

}  // namespace cudl
