#include "layers/sequential.h"

#include "core/check.h"

namespace cudl {

Sequential& Sequential::add(std::unique_ptr<Layer> child) { return add(std::to_string(layers_.size()), std::move(child)); }

Sequential& Sequential::add(std::string child_name, std::unique_ptr<Layer> child) {
  CUDL_CHECK(child != nullptr, "Sequential: child '", child_name, "' is null");
  layers_.push_back(&add_module(std::move(child_name), std::move(child)));
  return *this;
}

Var Sequential::forward(const Var& x) { return forward_range(x, 0, layers_.size()); }

Var Sequential::forward_range(const Var& x, std::size_t begin, std::size_t end) {
  CUDL_CHECK(begin < end && end <= layers_.size(), "Sequential: cannot run children [", begin, ", ", end, ") of ",
             layers_.size());
  Var h = layers_[begin]->forward(x);
  for (std::size_t i = begin + 1; i < end; ++i) h = layers_[i]->forward(h);
  return h;
}

std::string Sequential::name() const {
  std::string s = "Sequential(\n";
  for (const auto& [child_name, child] : children()) {
    std::string child_text = child->name();
    // Indent nested lines so nested containers read like torch's repr.
    for (std::size_t pos = 0; (pos = child_text.find('\n', pos)) != std::string::npos; pos += 3)
      child_text.insert(pos + 1, "  ");
    s += "  (" + child_name + "): " + child_text + "\n";
  }
  return s + ")";
}

}  // namespace cudl
