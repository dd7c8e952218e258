#include "layers/module.h"

#include "core/check.h"

namespace cudl {

Parameter Parameter::of(std::string name, Tensor value) {
  Tensor grad = Tensor::zeros(value.shape(), DType::F32, value.device());
  return {std::move(name), std::move(value), std::move(grad)};
}

void Module::to(Device device) {
  for (Parameter* p : parameters()) {
    p->value = p->value.to(device);
    p->grad = p->grad.to(device);
  }
  for (auto& [name, t] : buffers()) *t = t->to(device);
}

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> all;
  collect_parameters("", all);
  return all;
}

std::vector<std::pair<std::string, Tensor*>> Module::buffers() {
  std::vector<std::pair<std::string, Tensor*>> all;
  collect_buffers("", all);
  return all;
}

void Module::zero_grad() {
  for (Parameter* p : parameters()) p->grad.zero();
}

void accumulate_grad(Tensor& grad, const Tensor& g) {
  check_float("accumulate_grad", "g", g);
  CUDL_CHECK(grad.shape() == g.shape() && grad.device() == g.device(), "accumulate_grad: gradient ", grad.str(),
             " cannot take ", g.str());
  const std::int64_t n = g.numel();
  float* dst = grad.data<float>();
  const float* src = g.data<float>();
  if (g.is_cuda()) {
#if CUDL_WITH_CUDA
    cuda::add_inplace(g.device().index, dst, src, n);
#endif
    return;
  }
#pragma omp parallel for schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace cudl
