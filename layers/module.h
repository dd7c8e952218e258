// Modules: layers with parameters, a forward and a backward.
//
// As in CS231n's layer functions, forward caches what backward needs and
// backward returns dx while accumulating (+=) parameter gradients, so a module is
// used as forward -> backward -> optimizer step -> zero_grad. Parameter and buffer
// names follow torch.nn ("weight", "bias", "running_mean", "0.weight" inside a
// Sequential), so a checkpoint maps onto the torch.nn model one to one.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace cudl {

struct Parameter {
  std::string name;  // full dotted name once collected ("fc1.weight")
  Tensor value;
  Tensor grad;  // same shape and device as value

  // A zero gradient of value's shape on value's device.
  static Parameter of(std::string name, Tensor value);
};

class Module {
 public:
  virtual ~Module() = default;

  virtual Tensor forward(const Tensor& x) = 0;
  virtual Tensor backward(const Tensor& dout) = 0;
  virtual std::string name() const = 0;  // "Conv2d(1, 32, kernel_size=7, padding=3)"

  // Parameters and buffers (running statistics), with dotted names under `prefix`.
  virtual void collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) {}
  virtual void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {}

  virtual void set_training(bool training) { training_ = training; }
  bool training() const { return training_; }
  // Moves parameters, gradients and buffers to `device` (a copy, then the old is freed).
  virtual void to(Device device);

  std::vector<Parameter*> parameters();
  std::vector<std::pair<std::string, Tensor*>> buffers();
  void zero_grad();

 protected:
  bool training_ = true;
};

// grad += g (same shape and device): how every layer hands out its parameter gradients.
void accumulate_grad(Tensor& grad, const Tensor& g);

#if CUDL_WITH_CUDA
namespace cuda {
void add_inplace(int device, float* dst, const float* src, std::int64_t n);
}
#endif

}  // namespace cudl
