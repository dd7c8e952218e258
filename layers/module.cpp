#include "layers/module.h"

#include "core/check.h"

namespace cudl {

namespace {
template <typename T>
void check_unique_name(const std::vector<std::pair<std::string, T>>& entries, const std::string& name) {
  CUDL_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module: a name must be non-empty without '.', got '",
             name, "'");
  for (const auto& [existing, unused] : entries)
    CUDL_CHECK(existing != name, "Module: '", name, "' is registered twice");
}
}  // namespace

void Module::register_parameter(std::string name, Parameter* p) {
  CUDL_CHECK(p != nullptr && p->defined(), "Module: parameter '", name, "' is undefined");
  check_unique_name(params_, name);
  p->name = name;
  params_.emplace_back(std::move(name), p);
}

void Module::register_buffer(std::string name, Tensor* t) {
  CUDL_CHECK(t != nullptr && t->defined(), "Module: buffer '", name, "' is undefined");
  check_unique_name(buffers_, name);
  buffers_.emplace_back(std::move(name), t);
}

void Module::register_module(std::string name, Module* child) {
  CUDL_CHECK(child != nullptr, "Module: child '", name, "' is null");
  check_unique_name(children_, name);
  children_.emplace_back(std::move(name), child);
}

void Module::collect(const std::string& prefix, std::vector<Parameter*>* params,
                     std::vector<std::pair<std::string, Tensor*>>* buffers) {
  for (auto& [name, p] : params_) {
    p->name = prefix + name;
    if (params) params->push_back(p);
  }
  if (buffers)
    for (auto& [name, t] : buffers_) buffers->emplace_back(prefix + name, t);
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", params, buffers);
}

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> all;
  collect("", &all, nullptr);
  return all;
}

std::vector<std::pair<std::string, Tensor*>> Module::buffers() {
  std::vector<std::pair<std::string, Tensor*>> all;
  collect("", nullptr, &all);
  return all;
}

void Module::set_training(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->set_training(training);
}

void Module::to(Device device) {
  for (Parameter* p : parameters()) {
    p->value() = p->value().to(device);
    p->zero_grad();
  }
  for (auto& [name, t] : buffers()) *t = t->to(device);
}

void Module::zero_grad() {
  for (Parameter* p : parameters()) p->zero_grad();
}

void Module::set_requires_grad(bool requires_grad) {
  for (Parameter* p : parameters()) p->set_requires_grad(requires_grad);
}

std::int64_t Module::num_parameters() {
  std::int64_t n = 0;
  for (Parameter* p : parameters()) n += p->numel();
  return n;
}

}  // namespace cudl
