// Modules: named parameters, buffers and children, as torch.nn.Module.
//
// A module's forward is an ordinary member function over Vars, with as many
// inputs as it needs (a decoder layer takes the target and the image memory, a
// U-Net block an image and a time embedding); the graph (autograd/var.h)
// differentiates it, so there is no hand-written backward. A module registers
// its parameters, buffers and children in its constructor, and the names are
// torch.nn's `state_dict` names ("fc1.weight", "0.running_mean",
// "layers.1.self_attn.query.bias"), so a checkpoint maps onto the torch.nn model
// one to one.
//
// `Layer` is a module with one input and one output: what Sequential chains.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/var.h"
#include "core/tensor.h"

namespace cudl {

// A leaf Var that requires grad, with its full dotted name once collected.
class Parameter : public Var {
 public:
  Parameter() = default;
  explicit Parameter(Tensor value) : Var(std::move(value), /*requires_grad=*/true) {}
  // A free-standing parameter (modules name theirs when they register them).
  Parameter(std::string name_, Tensor value, Tensor grad_ = Tensor())
      : Var(std::move(value), /*requires_grad=*/true), name(std::move(name_)) {
    grad() = std::move(grad_);
  }
  std::string name;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // torch's repr: "Conv2d(1, 32, kernel_size=7, padding=3)"; containers span lines.
  virtual std::string name() const = 0;

  // Parameters and buffers of this module and its children, depth first in
  // registration order, with full dotted names.
  std::vector<Parameter*> parameters();
  std::vector<std::pair<std::string, Tensor*>> buffers();
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }

  void set_training(bool training);
  bool training() const { return training_; }
  // Moves parameters (dropping their gradients) and buffers to `device`.
  virtual void to(Device device);
  // Drops every parameter's gradient (torch's zero_grad(set_to_none=True)).
  void zero_grad();
  // Freezes (false) or unfreezes every parameter: a frozen network still passes
  // gradients to its inputs, but its parameters get none.
  void set_requires_grad(bool requires_grad);
  std::int64_t num_parameters();

 protected:
  // Registration, in the constructor. The pointers must live as long as the module
  // (members, or children owned through add_module).
  void register_parameter(std::string name, Parameter* p);
  void register_buffer(std::string name, Tensor* t);
  void register_module(std::string name, Module* child);
  template <typename M> M& add_module(std::string name, std::unique_ptr<M> child) {
    M& ref = *child;
    register_module(std::move(name), &ref);
    owned_.push_back(std::move(child));
    return ref;
  }
  bool training_ = true;  // forward reads it (dropout, batch norm)

 private:
  void collect(const std::string& prefix, std::vector<Parameter*>* params,
               std::vector<std::pair<std::string, Tensor*>>* buffers);

  std::vector<std::pair<std::string, Parameter*>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  std::vector<std::unique_ptr<Module>> owned_;
};

class Layer : public Module {
 public:
  virtual Var forward(const Var& x) = 0;
  Var operator()(const Var& x) { return forward(x); }
};

// torch.nn.ModuleList: owned children of one type, named "0", "1", ...
template <typename M> class ModuleList : public Module {
 public:
  M& append(std::unique_ptr<M> child) {
    items_.push_back(&add_module(std::to_string(items_.size()), std::move(child)));
    return *items_.back();
  }
  std::size_t size() const { return items_.size(); }
  M& operator[](std::size_t i) { return *items_.at(i); }
  typename std::vector<M*>::const_iterator begin() const { return items_.begin(); }
  typename std::vector<M*>::const_iterator end() const { return items_.end(); }
  std::string name() const override { return "ModuleList(" + std::to_string(items_.size()) + ")"; }

 private:
  std::vector<M*> items_;
};

}  // namespace cudl
