// torch.nn.Sequential: children run in order; they are named "0", "1", ... or,
// like Sequential(OrderedDict(...)), by the names given to add().
#pragma once

#include <memory>

#include "layers/module.h"

namespace cudl {

class Sequential : public Module {
 public:
  // Appends a child named by its index.
  Sequential& add(std::unique_ptr<Module> child);
  Sequential& add(std::string child_name, std::unique_ptr<Module> child);
  template <typename M, typename... Args> M& emplace(Args&&... args) {
    auto child = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *child;
    add(std::move(child));
    return ref;
  }

  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dout) override;
  // Multi-line, as torch prints a Sequential.
  std::string name() const override;
  void collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) override;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) override;
  void set_training(bool training) override;

  std::size_t size() const { return children_.size(); }
  Module& operator[](std::size_t i) { return *children_[i].second; }

 private:
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
};

}  // namespace cudl
