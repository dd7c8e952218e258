#include "layers/normalization.h"

#include <sstream>

#include "core/check.h"

namespace cudl {

namespace {
// weight = 1 and bias = 0, as torch.nn's affine normalisation layers start.
void init_affine(std::int64_t features, Device device, Parameter& weight, Parameter& bias) {
  weight = Parameter::of("weight", Tensor::full({features}, 1.0f, device));
  bias = Parameter::of("bias", Tensor::zeros({features}, DType::F32, device));
}

void collect_affine(const std::string& prefix, Parameter& weight, Parameter& bias, std::vector<Parameter*>& out) {
  weight.name = prefix + "weight";
  bias.name = prefix + "bias";
  out.push_back(&weight);
  out.push_back(&bias);
}

void accumulate_affine(NormGrads& g, Parameter& weight, Parameter& bias) {
  accumulate_grad(weight.grad, g.dgamma);
  accumulate_grad(bias.grad, g.dbeta);
}
}  // namespace

BatchNorm::BatchNorm(std::int64_t num_features, int spatial_dims, float eps, float momentum, Device device)
    : running_mean(Tensor::zeros({num_features}, DType::F32, device)),
      running_var(Tensor::full({num_features}, 1.0f, device)),
      spatial_dims_(spatial_dims),
      eps_(eps),
      momentum_(momentum) {
  init_affine(num_features, device, weight, bias);
}

Tensor BatchNorm::forward(const Tensor& x) {
  CUDL_CHECK(x.dim() == 2 + spatial_dims_, name(), ": expected ", 2 + spatial_dims_, "-d input, got ", x.str());
  x_ = x.view();
  saved_training_ = training_;
  saved_ = batch_norm_forward(x, weight.value, bias.value, &running_mean, &running_var, training_, momentum_, eps_);
  return saved_.out.view();  // saved_ keeps its own handle for backward
}

Tensor BatchNorm::backward(const Tensor& dout) {
  CUDL_CHECK(x_.defined(), name(), ": backward called before forward");
  NormGrads g = batch_norm_backward(dout, x_, weight.value, saved_, saved_training_);
  accumulate_affine(g, weight, bias);
  return std::move(g.dx);
}

std::string BatchNorm::name() const {
  std::ostringstream s;
  s << (spatial_dims_ == 0 ? "BatchNorm1d(" : "BatchNorm2d(") << weight.value.size(0) << ", eps=" << eps_
    << ", momentum=" << momentum_ << ")";
  return s.str();
}

void BatchNorm::collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) {
  collect_affine(prefix, weight, bias, out);
}

void BatchNorm::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  out.emplace_back(prefix + "running_mean", &running_mean);
  out.emplace_back(prefix + "running_var", &running_var);
}

LayerNorm::LayerNorm(std::int64_t features, float eps, Device device) : eps_(eps) {
  init_affine(features, device, weight, bias);
}

Tensor LayerNorm::forward(const Tensor& x) {
  x_ = x.view();
  saved_ = layer_norm_forward(x, weight.value, bias.value, eps_);
  return saved_.out.view();  // saved_ keeps its own handle for backward
}

Tensor LayerNorm::backward(const Tensor& dout) {
  CUDL_CHECK(x_.defined(), "LayerNorm: backward called before forward");
  NormGrads g = layer_norm_backward(dout, x_, weight.value, saved_);
  accumulate_affine(g, weight, bias);
  return std::move(g.dx);
}

std::string LayerNorm::name() const {
  std::ostringstream s;
  s << "LayerNorm((" << weight.value.size(0) << ",), eps=" << eps_ << ")";
  return s.str();
}

void LayerNorm::collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) {
  collect_affine(prefix, weight, bias, out);
}

GroupNorm::GroupNorm(std::int64_t num_groups, std::int64_t num_channels, float eps, Device device)
    : groups_(num_groups), eps_(eps) {
  CUDL_CHECK(num_groups >= 1 && num_channels % num_groups == 0, "GroupNorm: num_groups ", num_groups,
             " must divide num_channels ", num_channels);
  init_affine(num_channels, device, weight, bias);
}

Tensor GroupNorm::forward(const Tensor& x) {
  x_ = x.view();
  saved_ = group_norm_forward(x, weight.value, bias.value, groups_, eps_);
  return saved_.out.view();  // saved_ keeps its own handle for backward
}

Tensor GroupNorm::backward(const Tensor& dout) {
  CUDL_CHECK(x_.defined(), "GroupNorm: backward called before forward");
  NormGrads g = group_norm_backward(dout, x_, weight.value, saved_, groups_);
  accumulate_affine(g, weight, bias);
  return std::move(g.dx);
}

std::string GroupNorm::name() const {
  std::ostringstream s;
  s << "GroupNorm(" << groups_ << ", " << weight.value.size(0) << ", eps=" << eps_ << ")";
  return s.str();
}

void GroupNorm::collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) {
  collect_affine(prefix, weight, bias, out);
}

}  // namespace cudl
