#include "layers/normalization.h"

#include <sstream>

#include "autograd/functions.h"
#include "core/check.h"

namespace cudl {

namespace {
// weight = 1 and bias = 0, as torch.nn's affine normalisation layers start.
Parameter ones(std::int64_t features, Device device) { return Parameter(Tensor::full({features}, 1.0f, device)); }
Parameter zeros(std::int64_t features, Device device) {
  return Parameter(Tensor::zeros({features}, DType::F32, device));
}
}  // namespace

BatchNorm::BatchNorm(std::int64_t num_features, int spatial_dims, float eps, float momentum, Device device)
    : weight(ones(num_features, device)),
      bias(zeros(num_features, device)),
      running_mean(Tensor::zeros({num_features}, DType::F32, device)),
      running_var(Tensor::full({num_features}, 1.0f, device)),
      spatial_dims_(spatial_dims),
      eps_(eps),
      momentum_(momentum) {
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
}

Var BatchNorm::forward(const Var& x) {
  CUDL_CHECK(x.dim() == 2 + spatial_dims_, name(), ": expected ", 2 + spatial_dims_, "-d input, got ", x.value().str());
  return batch_norm(x, weight, bias, &running_mean, &running_var, training_, momentum_, eps_);
}

std::string BatchNorm::name() const {
  std::ostringstream s;
  s << (spatial_dims_ == 0 ? "BatchNorm1d(" : "BatchNorm2d(") << weight.size(0) << ", eps=" << eps_
    << ", momentum=" << momentum_ << ")";
  return s.str();
}

LayerNorm::LayerNorm(std::int64_t features, float eps, Device device)
    : weight(ones(features, device)), bias(zeros(features, device)), eps_(eps) {
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Var LayerNorm::forward(const Var& x) { return layer_norm(x, weight, bias, eps_); }

std::string LayerNorm::name() const {
  std::ostringstream s;
  s << "LayerNorm((" << weight.size(0) << ",), eps=" << eps_ << ")";
  return s.str();
}

GroupNorm::GroupNorm(std::int64_t num_groups, std::int64_t num_channels, float eps, Device device)
    : groups_(num_groups), eps_(eps) {
  CUDL_CHECK(num_groups >= 1 && num_channels % num_groups == 0, "GroupNorm: num_groups ", num_groups,
             " must divide num_channels ", num_channels);
  weight = ones(num_channels, device);
  bias = zeros(num_channels, device);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Var GroupNorm::forward(const Var& x) { return group_norm(x, weight, bias, groups_, eps_); }

std::string GroupNorm::name() const {
  std::ostringstream s;
  s << "GroupNorm(" << groups_ << ", " << weight.size(0) << ", eps=" << eps_ << ")";
  return s.str();
}

}  // namespace cudl
