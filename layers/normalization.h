// torch.nn.BatchNorm1d/2d, LayerNorm and GroupNorm with affine parameters
// (weight = 1, bias = 0 initially, as in torch.nn).
#pragma once

#include "layers/module.h"

namespace cudl {

// BatchNorm1d takes [N, C], BatchNorm2d [N, C, H, W]; running statistics start at
// mean 0 and variance 1 and follow PyTorch's momentum convention (see
// kernels/normalization.h). num_batches_tracked is not kept.
class BatchNorm : public Layer {
 public:
  BatchNorm(std::int64_t num_features, int spatial_dims, float eps, float momentum, Device device);
  Var forward(const Var& x) override;
  std::string name() const override;

  Parameter weight, bias;
  Tensor running_mean, running_var;

 private:
  int spatial_dims_;  // 0 for BatchNorm1d, 2 for BatchNorm2d
  float eps_, momentum_;
};

struct BatchNorm1d : BatchNorm {
  explicit BatchNorm1d(std::int64_t num_features, float eps = 1e-5f, float momentum = 0.1f,
                       Device device = Device::cpu())
      : BatchNorm(num_features, 0, eps, momentum, device) {}
};
struct BatchNorm2d : BatchNorm {
  explicit BatchNorm2d(std::int64_t num_features, float eps = 1e-5f, float momentum = 0.1f,
                       Device device = Device::cpu())
      : BatchNorm(num_features, 2, eps, momentum, device) {}
};

// Normalises over the last dim (normalized_shape = [D]).
class LayerNorm : public Layer {
 public:
  explicit LayerNorm(std::int64_t features, float eps = 1e-5f, Device device = Device::cpu());
  Var forward(const Var& x) override;
  std::string name() const override;

  Parameter weight, bias;

 private:
  float eps_;
};

class GroupNorm : public Layer {
 public:
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels, float eps = 1e-5f, Device device = Device::cpu());
  Var forward(const Var& x) override;
  std::string name() const override;

  Parameter weight, bias;

 private:
  std::int64_t groups_;
  float eps_;
};

}  // namespace cudl
