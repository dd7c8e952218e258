// Parameter-free layers that move or pick values: MaxPool2d, Upsample, Flatten, Unflatten.
#pragma once

#include "kernels/max_pool2d.h"
#include "layers/module.h"

namespace cudl {

// torch.nn.MaxPool2d(kernel_size, stride) without padding.
class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(std::int64_t kernel_size = 2, std::int64_t stride = 0);  // stride 0: = kernel_size
  Var forward(const Var& x) override;
  std::string name() const override;

 private:
  Pool2dParams params_;
};

// torch.nn.Upsample(scale_factor, mode="nearest").
class Upsample : public Layer {
 public:
  explicit Upsample(std::int64_t scale_factor = 2) : scale_(scale_factor) {}
  Var forward(const Var& x) override;
  std::string name() const override;

 private:
  std::int64_t scale_;
};

// torch.nn.Flatten(): [N, ...] -> [N, prod(...)], a view in row-major (NCHW) order.
class Flatten : public Layer {
 public:
  Var forward(const Var& x) override;
  std::string name() const override { return "Flatten()"; }
};

// torch.nn.Unflatten(1, sizes): [N, prod(sizes)] -> [N, sizes...], a view (how a
// generator turns an fc output into feature maps).
class Unflatten : public Layer {
 public:
  explicit Unflatten(Shape sizes);
  Var forward(const Var& x) override;
  std::string name() const override;

 private:
  Shape sizes_;
};

}  // namespace cudl
