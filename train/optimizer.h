// Optimizers: CS231n's update rules (optim.py) over a model's parameters.
//
//   std::vector<Parameter*> params = model.parameters();
//   auto opt = make_optimizer("adam", params, 1e-3f);
//   for (...) { model.zero_grad(); ...forward/backward...; clip_grad_norm(params, 1.0f); opt->step(); }
//
// Each parameter's state (velocity, cache, m, v) is created on first use, zeroed,
// on the parameter's device, and keyed by the parameter's name, so state_dict()
// and load_state_dict() carry it through a checkpoint and training resumes
// bit-for-bit. If the model moves to another device, the state follows it on the
// next step().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/backend.h"
#include "kernels/optimizer_update.h"
#include "layers/module.h"

namespace cudl {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "sgd", "sgd_momentum", "rmsprop", "adam", "adamw": the prefix of state names.
  virtual std::string name() const = 0;
  // Hyper-parameters for logs: "adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08)".
  virtual std::string describe() const = 0;

  // Updates every parameter that has a .grad (others are skipped, as in torch).
  // Gradients are read, not zeroed, except
  // that L2 weight decay (SGD, SGDMomentum, RMSprop, Adam with weight_decay > 0)
  // first adds weight_decay * w to the gradient in place, as the gradient of
  // 0.5 * weight_decay * ||w||^2 would. The update kernels are those of the
  // innermost ImplScope, as the model's ops.
  void step();
  // Drops the gradients of this optimizer's parameters (as torch's).
  void zero_grad();

  float learning_rate() const { return lr_; }
  void set_learning_rate(float lr) { lr_ = lr; }
  float weight_decay() const { return weight_decay_; }
  std::int64_t steps_taken() const { return steps_; }
  const std::vector<Parameter*>& parameters() const { return params_; }

  // The state as host tensors named "<name>.<slot>.<parameter>" (e.g.
  // "adam.m.fc1.weight", "sgd_momentum.velocity.0.bias"), plus "<name>.step"
  // (int64 [1], steps taken) and "<name>.lr" (float32 [1]). Parameters that have
  // not been stepped yet have no entries.
  TensorMap state_dict() const;
  // Restores what state_dict() wrote (copying to each parameter's device). Throws
  // cudl::Error when an entry names an unknown parameter or slot, has the wrong
  // shape, or the step count is missing; entries of other optimizers are ignored,
  // so one checkpoint map can hold the model and the optimizer.
  void load_state_dict(const TensorMap& state);

 protected:
  // `slots`: the state each parameter carries ("velocity"; "m", "v"), in order.
  Optimizer(std::vector<Parameter*> params, float lr, float weight_decay, std::vector<std::string> slots);
  // Updates every parameter in one call (one launch for the small ones on CUDA);
  // each entry's state0/state1 are its slots in the order given above. `step` is
  // 1-based: the index of the step being taken.
  virtual void update(const std::vector<ParamUpdate>& params, std::int64_t step) = 0;
  // False for AdamW, whose decay is decoupled and done inside its update.
  virtual bool applies_l2_to_gradient() const { return true; }


 private:
  std::vector<Parameter*> params_;
  float lr_;
  float weight_decay_;
  std::vector<std::string> slots_;
  std::int64_t steps_ = 0;
  // "<slot>.<parameter name>" -> state tensor
  std::map<std::string, Tensor> state_;
};

// Defaults are CS231n's (optim.py).
class SGD final : public Optimizer {
 public:
  explicit SGD(std::vector<Parameter*> params, float lr = 1e-2f, float weight_decay = 0.0f);
  std::string name() const override { return "sgd"; }
  std::string describe() const override;

 protected:
  void update(const std::vector<ParamUpdate>& params, std::int64_t step) override;
};

class SGDMomentum final : public Optimizer {
 public:
  explicit SGDMomentum(std::vector<Parameter*> params, float lr = 1e-2f, float momentum = 0.9f,
                       float weight_decay = 0.0f);
  std::string name() const override { return "sgd_momentum"; }
  std::string describe() const override;

 protected:
  void update(const std::vector<ParamUpdate>& params, std::int64_t step) override;

 private:
  float momentum_;
};

class RMSprop final : public Optimizer {
 public:
  explicit RMSprop(std::vector<Parameter*> params, float lr = 1e-2f, float decay_rate = 0.99f, float eps = 1e-8f,
                   float weight_decay = 0.0f);
  std::string name() const override { return "rmsprop"; }
  std::string describe() const override;

 protected:
  void update(const std::vector<ParamUpdate>& params, std::int64_t step) override;

 private:
  float decay_rate_, eps_;
};

// Adam with bias correction; weight_decay is L2 added to the gradient.
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Parameter*> params, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
                float eps = 1e-8f, float weight_decay = 0.0f);
  std::string name() const override { return "adam"; }
  std::string describe() const override;

 protected:
  void update(const std::vector<ParamUpdate>& params, std::int64_t step) override;
  float beta1_, beta2_, eps_;
};

// PyTorch's AdamW: decoupled decay w *= (1 - lr * weight_decay), then the Adam step.
class AdamW final : public Adam {
 public:
  explicit AdamW(std::vector<Parameter*> params, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
                 float eps = 1e-8f, float weight_decay = 1e-2f);
  std::string name() const override { return "adamw"; }

 protected:
  void update(const std::vector<ParamUpdate>& params, std::int64_t step) override;
  bool applies_l2_to_gradient() const override { return false; }
};

// Hyper-parameters for make_optimizer; a negative value means "the optimizer's default".
struct OptimizerConfig {
  float lr = -1.0f;
  float weight_decay = -1.0f;
  float momentum = -1.0f;    // sgd_momentum
  float decay_rate = -1.0f;  // rmsprop
  float beta1 = -1.0f, beta2 = -1.0f, eps = -1.0f;  // adam, adamw (eps also rmsprop)
};

// By name: "sgd", "sgd_momentum", "rmsprop", "adam", "adamw". Throws cudl::Error
// listing the known names for any other.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Parameter*> params,
                                          const OptimizerConfig& config = {});
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Parameter*> params, float lr,
                                          float weight_decay = -1.0f);

// Scales all gradients by min(1, max_norm / (norm + 1e-6)) where norm is the
// global L2 norm over every parameter's gradient (torch.nn.utils.clip_grad_norm_).
// Returns the norm before clipping. On CUDA the squared norms are summed on the
// device and read back with one copy, whatever the number of parameters.
float clip_grad_norm(const std::vector<Parameter*>& params, float max_norm);

}  // namespace cudl
