// torch.nn.Linear: y = x W^T + b over the last dim of x.
#pragma once

#include "core/rng.h"
#include "layers/module.h"

namespace cudl {

class Linear : public Module {
 public:
  // weight [out, in] and bias [out] from `gen` (see layers/init.h).
  Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, Device device = Device::cpu());

  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dout) override;
  std::string name() const override;
  void collect_parameters(const std::string& prefix, std::vector<Parameter*>& out) override;

  Parameter weight, bias;

 private:
  Tensor x_;
};

}  // namespace cudl
