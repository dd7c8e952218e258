#include "layers/sequential.h"

#include "core/check.h"

namespace cudl {

Sequential& Sequential::add(std::unique_ptr<Module> child) {
  return add(std::to_string(children_.size()), std::move(child));
}

Sequential& Sequential::add(std::string child_name, std::unique_ptr<Module> child) {
  CUDL_CHECK(child != nullptr, "Sequential: child '", child_name, "' is null");
  for (const auto& [existing, m] : children_)
    CUDL_CHECK(existing != child_name, "Sequential: a child is already named '", child_name, "'");
  children_.emplace_back(std::move(child_name), std::move(child));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  CUDL_CHECK(!children_.empty(), "Sequential: forward on an empty container");
  Tensor h = children_.front().second->forward(x);
  for (std::size_t i = 1; i < children_.size(); ++i) h = children_[i].second->forward(h);
  return h;
}

Tensor Sequential::backward(const Tensor& dout) {
  CUDL_CHECK(!children_.empty(), "Sequential: backward on an empty container");
  Tensor d = children_.back().second->backward(dout);
  for (std::size_t i = children_.size() - 1; i-- > 0;) d = children_[i].second->backward(d);
  return d;
}

std::string Sequential::name() const {
  std::string s = "Sequential(\n";
  for (const auto& [child_name, child] : children_) {
    std::string child_text = child->name();
    // Indent nested lines so nested containers read like torch's repr.
    for (std::size_t pos = 0; (pos = child_text.find('\n', pos)) != std::string::npos; pos += 3)
      child_text.insert(pos + 1, "  ");
    s += "  (" + child_name + "): " + child_text + "\n";
  }
  return s + ")";
}

void Sequential::collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) {
  for (auto& [child_name, child] : children_) child->collect_parameters(prefix + child_name + ".", out);
}

void Sequential::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& [child_name, child] : children_) child->collect_buffers(prefix + child_name + ".", out);
}

void Sequential::set_training(bool training) {
  training_ = training;
  for (auto& [child_name, child] : children_) child->set_training(training);
}

}  // namespace cudl
