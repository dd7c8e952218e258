#include "diffusion/ema.h"

#include "core/check.h"
#include "kernels/cpu/parallel.h"
#if CUDL_WITH_CUDA
#include "diffusion/cuda/ema.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "ExponentialMovingAverage";
}

void lerp_inplace(Tensor& dst, const Tensor& src, float decay) {
  check_float(kOp, "shadow", dst);
  check_shape(kOp, "parameter", src, dst.shape());
  check_same_device(kOp, {{"shadow", &dst}, {"parameter", &src}});
  float* d = dst.data<float>();
  const float* s = src.data<float>();
  const std::int64_t n = dst.numel();
  if (dst.is_cuda()) {
#if CUDL_WITH_CUDA
    cuda::lerp_inplace(dst.device().index, d, s, decay, n);
#endif
    return;
  }
  const float keep = 1.0f - decay;
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) d[i] = decay * d[i] + keep * s[i];
}

ExponentialMovingAverage::ExponentialMovingAverage(std::vector<Parameter*> params, float decay)
    : params_(std::move(params)), decay_(decay) {
  CUDL_CHECK(decay >= 0.0f && decay < 1.0f, kOp, ": expected a decay in [0, 1), got ", decay);
  shadows_.reserve(params_.size());
  for (Parameter* p : params_) shadows_.push_back(p->value().clone());
}

void ExponentialMovingAverage::update() {
  CUDL_CHECK(!swapped_, kOp, ": update() while the averages are swapped in; swap() back first");
  for (std::size_t i = 0; i < params_.size(); ++i) lerp_inplace(shadows_[i], params_[i]->value(), decay_);
  ++updates_;
}

void ExponentialMovingAverage::swap() {
  for (std::size_t i = 0; i < params_.size(); ++i) std::swap(params_[i]->value(), shadows_[i]);
  swapped_ = !swapped_;
}

std::vector<std::pair<std::string, Tensor*>> ExponentialMovingAverage::state_dict() {
  std::vector<std::pair<std::string, Tensor*>> state;
  // While swapped, the averages are the parameters' values.
  for (std::size_t i = 0; i < params_.size(); ++i)
    state.emplace_back(params_[i]->name, swapped_ ? &params_[i]->value() : &shadows_[i]);
  return state;
}

void ExponentialMovingAverage::load_state_dict(const TensorMap& tensors, const std::string& prefix) {
  for (auto& [name, shadow] : state_dict()) {
    auto it = tensors.find(prefix + name);
    CUDL_CHECK(it != tensors.end(), kOp, ": no tensor '", prefix + name, "' to load");
    CUDL_CHECK(it->second.shape() == shadow->shape(), kOp, ": expected '", prefix + name, "' of shape ",
               shape_str(shadow->shape()), ", got ", it->second.str());
    shadow->copy_from(it->second);
  }
}

}  // namespace cudl
