// torch.nn.BatchNorm1d/2d, LayerNorm and GroupNorm with affine parameters
// (weight = 1, bias = 0 initially, as in torch.nn).
#pragma once

#include "kernels/normalization.h"
#include "layers/module.h"

namespace cudl {

// BatchNorm1d takes [N, C], BatchNorm2d [N, C, H, W]; running statistics start at
// mean 0 and variance 1 and follow PyTorch's momentum convention (see
// kernels/normalization.h). num_batches_tracked is not kept.
class BatchNorm : public Module {
 public:
  BatchNorm(std::int64_t num_features, int spatial_dims, float eps, float momentum, Device device);
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dout) override;
  std::string name() const override;
  void collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) override;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) override;

  Parameter weight, bias;
  Tensor running_mean, running_var;

 private:
  int spatial_dims_;  // 0 for BatchNorm1d, 2 for BatchNorm2d
  float eps_, momentum_;
  bool saved_training_ = true;
  Tensor x_;
  NormForward saved_;
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
class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::int64_t features, float eps = 1e-5f, Device device = Device::cpu());
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dout) override;
  std::string name() const override;
  void collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) override;

  Parameter weight, bias;

 private:
  float eps_;
  Tensor x_;
  NormForward saved_;
};

class GroupNorm : public Module {
 public:
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels, float eps = 1e-5f, Device device = Device::cpu());
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dout) override;
  std::string name() const override;
  void collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) override;

  Parameter weight, bias;

 private:
  std::int64_t groups_;
  float eps_;
  Tensor x_;
  NormForward saved_;
};

}  // namespace cudl
