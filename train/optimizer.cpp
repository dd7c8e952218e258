#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "core/check.h"
#include "kernels/optimizer_update.h"

namespace cudl {

Optimizer::Optimizer(std::vector<Parameter*> params, float lr, float weight_decay, std::vector<std::string> slots)
    : params_(std::move(params)), lr_(lr), weight_decay_(weight_decay), slots_(std::move(slots)) {
  CUDL_CHECK(std::isfinite(lr) && lr >= 0.0f, "optimizer: expected a finite learning rate >= 0, got ", lr);
  CUDL_CHECK(weight_decay >= 0.0f, "optimizer: expected weight_decay >= 0, got ", weight_decay);
  // State is keyed by name, so names must tell parameters apart.
  std::set<std::string> names;
  for (const Parameter* p : params_) {
    CUDL_CHECK(p != nullptr, "optimizer: got a null parameter");
    CUDL_CHECK(!p->name.empty() && names.insert(p->name).second,
               "optimizer: parameter names must be non-empty and unique (collect them with Module::parameters()), got '",
               p->name, "' twice or empty");
  }
}

void Optimizer::step() {
  std::vector<ParamUpdate> updates, l2_terms;
  for (Parameter* p : params_) {
    // As torch: a parameter that no backward reached (frozen, or unused by this
    // loss) is left as it is, and so is its state.
    if (!p->grad().defined()) continue;
    CUDL_CHECK(p->grad().shape() == p->shape(), name(), ": parameter '", p->name, "' has a gradient ",
               p->grad().str(), ", expected ", shape_str(p->shape()));
    ParamUpdate u{&p->value(), &p->grad()};
    Tensor** state[2] = {&u.state0, &u.state1};
    for (std::size_t s = 0; s < slots_.size(); ++s) {
      auto [it, created] = state_.try_emplace(slots_[s] + "." + p->name);
      if (created) it->second = Tensor::zeros(p->shape(), DType::F32, p->device());
      if (it->second.device() != p->device()) it->second = it->second.to(p->device());
      *state[s] = &it->second;
    }
    updates.push_back(u);
    l2_terms.push_back({&p->grad(), &p->value()});
  }
  // grad -= (-wd) * w, i.e. grad += wd * w: the SGD rule with a negative rate.
  if (weight_decay_ > 0.0f && applies_l2_to_gradient()) sgd_update_multi(l2_terms, -weight_decay_, current_impl());
  update(updates, steps_ + 1);
  ++steps_;
}

void Optimizer::zero_grad() {
  for (Parameter* p : params_) p->zero_grad();
}

TensorMap Optimizer::state_dict() const {
  TensorMap out;
  const std::string prefix = name() + ".";
  for (const auto& [key, t] : state_) out.emplace(prefix + key, t.to(Device::cpu()));
  out.emplace(prefix + "step", Tensor::from_vector(std::vector<std::int64_t>{steps_}, {1}));
  out.emplace(prefix + "lr", Tensor::from_vector(std::vector<float>{lr_}, {1}));
  return out;
}

void Optimizer::load_state_dict(const TensorMap& state) {
  const std::string prefix = name() + ".";
  auto step_it = state.find(prefix + "step");
  CUDL_CHECK(step_it != state.end(), name(), ": the state has no '", prefix, "step' entry (saved by another optimizer?)");
  CUDL_CHECK(step_it->second.dtype() == DType::I64 && step_it->second.numel() == 1, name(), ": expected '", prefix,
             "step' to be one int64, got ", step_it->second.str());
  std::map<std::string, Tensor> loaded;
  float lr = lr_;
  for (const auto& [key, t] : state) {
    if (key.rfind(prefix, 0) != 0 || key == prefix + "step") continue;
    const std::string rest = key.substr(prefix.size());
    if (rest == "lr") {
      CUDL_CHECK(t.dtype() == DType::F32 && t.numel() == 1, name(), ": expected '", key, "' to be one float32, got ",
                 t.str());
      lr = t.item();
      continue;
    }
    const std::size_t dot = rest.find('.');
    const std::string slot = rest.substr(0, dot), param_name = dot == std::string::npos ? "" : rest.substr(dot + 1);
    CUDL_CHECK(std::find(slots_.begin(), slots_.end(), slot) != slots_.end(), name(), ": unknown state entry '", key,
               "'");
    const Parameter* param = nullptr;
    for (const Parameter* p : params_)
      if (p->name == param_name) param = p;
    CUDL_CHECK(param != nullptr, name(), ": state entry '", key, "' names no parameter of this model");
    CUDL_CHECK(t.dtype() == DType::F32 && t.shape() == param->shape(), name(), ": expected '", key,
               "' to be float32 ", shape_str(param->shape()), ", got ", t.str());
    loaded.emplace(rest, t.to(param->device()));
  }
  state_ = std::move(loaded);
  steps_ = step_it->second.to_vector_i64().front();
  lr_ = lr;
}

namespace {
std::string format_hyper(const std::string& name, std::initializer_list<std::pair<const char*, float>> values) {
  std::ostringstream s;
  s << name << "(";
  bool first = true;
  for (const auto& [key, value] : values) {
    s << (first ? "" : ", ") << key << "=" << value;
    first = false;
  }
  s << ")";
  return s.str();
}
}  // namespace

// ---- the rules ----
SGD::SGD(std::vector<Parameter*> params, float lr, float weight_decay)
    : Optimizer(std::move(params), lr, weight_decay, {}) {}
std::string SGD::describe() const {
  return format_hyper(name(), {{"lr", learning_rate()}, {"weight_decay", weight_decay()}});
}
void SGD::update(const std::vector<ParamUpdate>& params, std::int64_t) {
  sgd_update_multi(params, learning_rate(), current_impl());
}

SGDMomentum::SGDMomentum(std::vector<Parameter*> params, float lr, float momentum, float weight_decay)
    : Optimizer(std::move(params), lr, weight_decay, {"velocity"}), momentum_(momentum) {}
std::string SGDMomentum::describe() const {
  return format_hyper(name(), {{"lr", learning_rate()}, {"momentum", momentum_}, {"weight_decay", weight_decay()}});
}
void SGDMomentum::update(const std::vector<ParamUpdate>& params, std::int64_t) {
  sgd_momentum_update_multi(params, learning_rate(), momentum_, current_impl());
}

RMSprop::RMSprop(std::vector<Parameter*> params, float lr, float decay_rate, float eps, float weight_decay)
    : Optimizer(std::move(params), lr, weight_decay, {"cache"}), decay_rate_(decay_rate), eps_(eps) {}
std::string RMSprop::describe() const {
  return format_hyper(name(), {{"lr", learning_rate()},
                               {"decay_rate", decay_rate_},
                               {"eps", eps_},
                               {"weight_decay", weight_decay()}});
}
void RMSprop::update(const std::vector<ParamUpdate>& params, std::int64_t) {
  rmsprop_update_multi(params, learning_rate(), decay_rate_, eps_, current_impl());
}

Adam::Adam(std::vector<Parameter*> params, float lr, float beta1, float beta2, float eps, float weight_decay)
    : Optimizer(std::move(params), lr, weight_decay, {"m", "v"}), beta1_(beta1), beta2_(beta2), eps_(eps) {}
std::string Adam::describe() const {
  return format_hyper(name(), {{"lr", learning_rate()},
                               {"beta1", beta1_},
                               {"beta2", beta2_},
                               {"eps", eps_},
                               {"weight_decay", weight_decay()}});
}
void Adam::update(const std::vector<ParamUpdate>& params, std::int64_t step) {
  adam_update_multi(params, learning_rate(), beta1_, beta2_, eps_, step, 0.0f, current_impl());
}

AdamW::AdamW(std::vector<Parameter*> params, float lr, float beta1, float beta2, float eps, float weight_decay)
    : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay) {}
void AdamW::update(const std::vector<ParamUpdate>& params, std::int64_t step) {
  adam_update_multi(params, learning_rate(), beta1_, beta2_, eps_, step, weight_decay(), current_impl());
}

// ---- factory ----
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Parameter*> params,
                                          const OptimizerConfig& c) {
  auto pick = [](float given, float fallback) { return given >= 0.0f ? given : fallback; };
  if (name == "sgd") return std::make_unique<SGD>(std::move(params), pick(c.lr, 1e-2f), pick(c.weight_decay, 0.0f));
  if (name == "sgd_momentum")
    return std::make_unique<SGDMomentum>(std::move(params), pick(c.lr, 1e-2f), pick(c.momentum, 0.9f),
                                         pick(c.weight_decay, 0.0f));
  if (name == "rmsprop")
    return std::make_unique<RMSprop>(std::move(params), pick(c.lr, 1e-2f), pick(c.decay_rate, 0.99f),
                                     pick(c.eps, 1e-8f), pick(c.weight_decay, 0.0f));
  if (name == "adam")
    return std::make_unique<Adam>(std::move(params), pick(c.lr, 1e-3f), pick(c.beta1, 0.9f), pick(c.beta2, 0.999f),
                                  pick(c.eps, 1e-8f), pick(c.weight_decay, 0.0f));
  if (name == "adamw")
    return std::make_unique<AdamW>(std::move(params), pick(c.lr, 1e-3f), pick(c.beta1, 0.9f), pick(c.beta2, 0.999f),
                                   pick(c.eps, 1e-8f), pick(c.weight_decay, 1e-2f));
  detail::throw_error("make_optimizer: unknown optimizer '", name,
                      "'; known: sgd, sgd_momentum, rmsprop, adam, adamw");
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Parameter*> params, float lr,
                                          float weight_decay) {
  OptimizerConfig config;
  config.lr = lr;
  config.weight_decay = weight_decay;
  return make_optimizer(name, std::move(params), config);
}

float clip_grad_norm(const std::vector<Parameter*>& params, float max_norm) {
  CUDL_CHECK(max_norm > 0.0f, "clip_grad_norm: expected max_norm > 0, got ", max_norm);
  std::vector<const Tensor*> grads;
  for (const Parameter* p : params)
    if (p->grad().defined()) grads.push_back(&p->grad());  // no gradient: nothing to clip (as torch)
  const double norm = std::sqrt(sum_of_squares(grads));
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1.0)
    for (Parameter* p : params)
      if (p->grad().defined()) scale_inplace(p->grad(), static_cast<float>(coefficient));
  return static_cast<float>(norm);
}

}  // namespace cudl
