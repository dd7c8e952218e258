// Elementwise layers: the activations of torch.nn and Dropout.
#pragma once

#include "core/rng.h"
#include "kernels/activation.h"
#include "layers/module.h"

namespace cudl {

// One module for every activation in kernels/activation.h; the named subclasses
// below are what models use.
class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(Activation kind, float negative_slope = 0.01f) : kind_(kind), slope_(negative_slope) {}
  Var forward(const Var& x) override;
  std::string name() const override;

 private:
  Activation kind_;
  float slope_;
};

struct ReLU : ActivationLayer {
  ReLU() : ActivationLayer(Activation::ReLU) {}
};
struct LeakyReLU : ActivationLayer {
  explicit LeakyReLU(float negative_slope = 0.01f) : ActivationLayer(Activation::LeakyReLU, negative_slope) {}
};
struct GELU : ActivationLayer {
  GELU() : ActivationLayer(Activation::GELU) {}
};
struct SiLU : ActivationLayer {
  SiLU() : ActivationLayer(Activation::SiLU) {}
};
struct Tanh : ActivationLayer {
  Tanh() : ActivationLayer(Activation::Tanh) {}
};
struct Sigmoid : ActivationLayer {
  Sigmoid() : ActivationLayer(Activation::Sigmoid) {}
};

// torch.nn.Dropout(p): p is the probability of dropping. The mask is drawn from
// `gen` (the model's Generator, which must outlive the layer), so a saved
// generator state replays the same masks after a resume.
class Dropout : public Layer {
 public:
  Dropout(float p, Generator& gen);
  Var forward(const Var& x) override;
  std::string name() const override;

 private:
  float p_;
  Generator* gen_;
};

}  // namespace cudl
