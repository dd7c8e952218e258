// torch.nn.Sequential: children run in order; they are named "0", "1", ... or,
// like Sequential(OrderedDict(...)), by the names given to add().
#pragma once

#include <memory>

#include "layers/module.h"

namespace cudl {

class Sequential : public Layer {
 public:
  // Appends a child named by its index.
  Sequential& add(std::unique_ptr<Layer> child);
  Sequential& add(std::string child_name, std::unique_ptr<Layer> child);
  template <typename M, typename... Args> M& emplace(Args&&... args) {
    auto child = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *child;
    add(std::move(child));
    return ref;
  }

  Var forward(const Var& x) override;
  // Runs children [begin, end) only: a network's features before its head.
  Var forward_range(const Var& x, std::size_t begin, std::size_t end);
  // Multi-line, as torch prints a Sequential.
  std::string name() const override;

  std::size_t size() const { return layers_.size(); }
  Layer& operator[](std::size_t i) { return *layers_[i]; }

 private:
  std::vector<Layer*> layers_;
};

}  // namespace cudl
