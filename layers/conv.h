// torch.nn.Conv2d and torch.nn.ConvTranspose2d (square kernels, symmetric padding).
#pragma once

#include "core/rng.h"
#include "kernels/conv2d.h"
#include "layers/module.h"

namespace cudl {

class Conv2d : public Module {
 public:
  // weight [out, in/groups, k, k], bias [out], from `gen` (see layers/init.h).
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
         Conv2dParams params = {}, Device device = Device::cpu());

  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dout) override;
  std::string name() const override;
  void collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) override;

  Parameter weight, bias;
  Conv2dParams params;

 private:
  Tensor x_;
};

class ConvTranspose2d : public Module {
 public:
  // weight [in, out, k, k] as in torch.nn.ConvTranspose2d, bias [out].
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
                  Conv2dParams params = {}, Device device = Device::cpu());

  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dout) override;
  std::string name() const override;
  void collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) override;

  Parameter weight, bias;
  Conv2dParams params;

 private:
  Tensor x_;
};

}  // namespace cudl
