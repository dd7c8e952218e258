// torch.nn.Conv2d and torch.nn.ConvTranspose2d (square kernels, symmetric padding).
#pragma once

#include "core/rng.h"
#include "kernels/conv2d.h"
#include "layers/module.h"

namespace cudl {

class Conv2d : public Layer {
 public:
  // weight [out, in/groups, k, k], bias [out], from `gen` (see layers/init.h).
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
         Conv2dParams params = {}, Device device = Device::cpu());

  Var forward(const Var& x) override;
  std::string name() const override;

  Parameter weight, bias;
  Conv2dParams params;
};

class ConvTranspose2d : public Layer {
 public:
  // weight [in, out, k, k] as in torch.nn.ConvTranspose2d, bias [out].
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
                  Conv2dParams params = {}, Device device = Device::cpu());

  Var forward(const Var& x) override;
  std::string name() const override;

  Parameter weight, bias;
  Conv2dParams params;
};

}  // namespace cudl
