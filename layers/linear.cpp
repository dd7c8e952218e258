#include "layers/linear.h"

#include "kernels/linear.h"
#include "layers/init.h"

namespace cudl {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, Device device) {
  const float bound = default_init_bound(in_features);
  weight = Parameter::of("weight", uniform_parameter({out_features, in_features}, bound, gen, device));
  bias = Parameter::of("bias", uniform_parameter({out_features}, bound, gen, device));
}

Tensor Linear::forward(const Tensor& x) {
  x_ = x.view();
  return linear_forward(x, weight.value, bias.value);
}

Tensor Linear::backward(const Tensor& dout) {
  CUDL_CHECK(x_.defined(), "Linear: backward called before forward");
  LinearGrads g = linear_backward(dout, x_, weight.value);
  accumulate_grad(weight.grad, g.dw);
  accumulate_grad(bias.grad, g.db);
  return std::move(g.dx);
}

std::string Linear::name() const {
  return "Linear(in_features=" + std::to_string(weight.value.size(1)) +
         ", out_features=" + std::to_string(weight.value.size(0)) + ")";
}

void Linear::collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) {
  weight.name = prefix + "weight";
  bias.name = prefix + "bias";
  out.push_back(&weight);
  out.push_back(&bias);
}

}  // namespace cudl
