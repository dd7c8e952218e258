// The built-in image classifiers, each a torch.nn.Sequential look-alike whose
// parameter names match the torch.nn model of docs/training.md:
//   three_layer  CS231n's ThreeLayerConvNet: conv 7x7 (32, pad 3) - relu - 2x2 max
//                pool - fc 100 - relu - fc classes; children conv, relu1, pool,
//                flatten, fc1, relu2, fc2 (conv.weight [32,1,7,7], fc1.weight [100,6272]).
//   deep         stages of [conv3x3-bn-relu] x convs_per_stage then 2x2 max pool,
//                then flatten - fc hidden - bn1d - relu - dropout - fc classes;
//                children numbered.
//   fcnet        CS231n's FullyConnectedNet: flatten, then per hidden layer
//                linear - (batch|layer norm) - relu - (dropout), then linear;
//                children numbered.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "layers/sequential.h"

namespace cudl {

struct ModelConfig {
  std::string kind = "three_layer";  // three_layer | deep | fcnet
  std::int64_t in_channels = 1, height = 28, width = 28, num_classes = 10;
  // three_layer
  std::int64_t num_filters = 32, filter_size = 7;
  // deep: channels per stage; three_layer, deep, fcnet: hidden fc widths (one
  // for three_layer and deep, any number for fcnet)
  std::vector<std::int64_t> channels = {32, 64};
  std::int64_t convs_per_stage = 2;
  std::vector<std::int64_t> hidden = {100};
  std::string norm = "none";  // fcnet: none | batch | layer
  float dropout = 0.0f;       // probability of dropping (torch.nn.Dropout's p); 0 = no dropout layer
  // > 0: CS231n's initialisation, weights N(0, weight_scale^2) and zero biases;
  // 0: torch.nn's defaults (layers/init.h).
  float weight_scale = 0.0f;

  // The defaults of each kind (hidden 100 for three_layer, 256 for deep, ...).
  static ModelConfig defaults(const std::string& kind);
  std::string to_json() const;
  static ModelConfig from_json(const std::string& text);  // throws cudl::Error on bad input
};

class Model : public Sequential {
 public:
  // Parameters are drawn from Generator(seed); dropout masks continue that stream.
  Model(const ModelConfig& config, std::uint64_t seed, Device device = Device::cpu());
  const ModelConfig& config() const { return config_; }
  Generator& generator() { return gen_; }
  Device device() const { return device_; }
  void to(Device device) override;

 private:
  ModelConfig config_;
  Generator gen_;
  Device device_;
};

std::unique_ptr<Model> build_model(const ModelConfig& config, std::uint64_t seed, Device device = Device::cpu());

}  // namespace cudl
