// An exponential moving average of parameters (Polyak averaging), the weights
// diffusion models are sampled with:
//
//   ExponentialMovingAverage ema(unet.parameters(), 0.995f);   // after unet.to(device)
//   ... optimizer step; ema.update();
//   ema.swap(); samples = diffusion.sample(...); ema.swap();  // sample with the average, resume training
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "kernels/backend.h"
#include "layers/module.h"

namespace cudl {

class ExponentialMovingAverage {
 public:
  // Shadows start as copies of the parameters, on their devices. decay in [0, 1).
  ExponentialMovingAverage(std::vector<Parameter*> params, float decay);

  // shadow = decay shadow + (1 - decay) param, for every parameter.
  void update();
  // Exchanges every parameter's value with its shadow (no copy): once to
  // evaluate or sample with the average, again to go back to the trained weights.
  void swap();

  float decay() const { return decay_; }
  std::int64_t updates() const { return updates_; }
  bool swapped() const { return swapped_; }

  // The shadows by parameter name, for checkpoints (the caller adds a prefix
  // such as "ema."). load_state_dict copies them in; a missing name or another
  // shape throws naming it.
  std::vector<std::pair<std::string, Tensor*>> state_dict();
  void load_state_dict(const TensorMap& tensors, const std::string& prefix = "");

 private:
  std::vector<Parameter*> params_;
  std::vector<Tensor> shadows_;
  float decay_;
  std::int64_t updates_ = 0;
  bool swapped_ = false;
};

// dst = decay dst + (1 - decay) src, one pass on dst's device.
void lerp_inplace(Tensor& dst, const Tensor& src, float decay);

}  // namespace cudl
