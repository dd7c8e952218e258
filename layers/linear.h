// torch.nn.Linear: y = x W^T + b over the last dim of x.
#pragma once

#include "core/rng.h"
#include "layers/module.h"

namespace cudl {

class Linear : public Layer {
 public:
  // weight [out, in] and bias [out] from `gen` (see layers/init.h); bias = false
  // leaves the bias out (torch's bias=False).
  Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, Device device = Device::cpu(),
         bool bias = true);

  Var forward(const Var& x) override;
  std::string name() const override;

  Parameter weight, bias;  // bias undefined without one
};

}  // namespace cudl
