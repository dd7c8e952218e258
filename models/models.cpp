#include "models/models.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/formats/json.h"
#include "core/random.h"
#include "layers/layers.h"

namespace cudl {

ModelConfig ModelConfig::defaults(const std::string& kind) {
  ModelConfig c;
  c.kind = kind;
  if (kind == "three_layer") {
    c.hidden = {100};
  } else if (kind == "deep") {
    c.channels = {32, 64};
    c.convs_per_stage = 2;
    c.hidden = {256};
    c.dropout = 0.3f;
  } else if (kind == "fcnet") {
    c.hidden = {512, 256};
    c.norm = "batch";
  } else {
    detail::throw_error("model: unknown kind '", kind, "' (expected three_layer, deep or fcnet)");
  }
  return c;
}

std::string ModelConfig::to_json() const {
  nlohmann::json j = {{"kind", kind},
                      {"in_channels", in_channels},
                      {"height", height},
                      {"width", width},
                      {"num_classes", num_classes},
                      {"num_filters", num_filters},
                      {"filter_size", filter_size},
                      {"channels", channels},
                      {"convs_per_stage", convs_per_stage},
                      {"hidden", hidden},
                      {"norm", norm},
                      {"dropout", dropout},
                      {"weight_scale", weight_scale}};
  return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  try {
    const nlohmann::json j = formats::parse_json(text, "model config");
    ModelConfig c = defaults(j.at("kind").get<std::string>());
    c.in_channels = j.at("in_channels");
    c.height = j.at("height");
    c.width = j.at("width");
    c.num_classes = j.at("num_classes");
    c.num_filters = j.at("num_filters");
    c.filter_size = j.at("filter_size");
    c.channels = j.at("channels").get<std::vector<std::int64_t>>();
    c.convs_per_stage = j.at("convs_per_stage");
    c.hidden = j.at("hidden").get<std::vector<std::int64_t>>();
    c.norm = j.at("norm");
    c.dropout = j.at("dropout");
    c.weight_scale = j.at("weight_scale");
    return c;
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error("model config: ", e.what());
  }
}

namespace {

void build_three_layer(Sequential& net, const ModelConfig& c, Generator& gen, Device device) {
  CUDL_CHECK(c.hidden.size() == 1, "three_layer: expected one hidden size, got ", c.hidden.size());
  CUDL_CHECK(c.filter_size % 2 == 1, "three_layer: filter_size must be odd (same padding), got ", c.filter_size);
  const std::int64_t pooled = c.num_filters * (c.height / 2) * (c.width / 2);
  net.add("conv", std::make_unique<Conv2d>(c.in_channels, c.num_filters, c.filter_size, gen,
                                           Conv2dParams{1, (c.filter_size - 1) / 2, 1}, device));
  net.add("relu1", std::make_unique<ReLU>());
  net.add("pool", std::make_unique<MaxPool2d>(2));
  net.add("flatten", std::make_unique<Flatten>());
  net.add("fc1", std::make_unique<Linear>(pooled, c.hidden[0], gen, device));
  net.add("relu2", std::make_unique<ReLU>());
  net.add("fc2", std::make_unique<Linear>(c.hidden[0], c.num_classes, gen, device));
}

void build_deep(Sequential& net, const ModelConfig& c, Generator& gen, Device device) {
  CUDL_CHECK(!c.channels.empty() && c.convs_per_stage >= 1, "deep: expected channels and convs_per_stage >= 1");
  CUDL_CHECK(c.hidden.size() == 1, "deep: expected one hidden size, got ", c.hidden.size());
  std::int64_t in = c.in_channels, h = c.height, w = c.width;
  for (std::int64_t out : c.channels) {
    for (std::int64_t i = 0; i < c.convs_per_stage; ++i) {
      net.add(std::make_unique<Conv2d>(in, out, 3, gen, Conv2dParams{1, 1, 1}, device));
      net.add(std::make_unique<BatchNorm2d>(out, 1e-5f, 0.1f, device));
      net.add(std::make_unique<ReLU>());
      in = out;
    }
    net.add(std::make_unique<MaxPool2d>(2));
    h /= 2;
    w /= 2;
  }
  CUDL_CHECK(h >= 1 && w >= 1, "deep: ", c.channels.size(), " pooling stages shrink ", c.height, "x", c.width,
             " to nothing");
  net.add(std::make_unique<Flatten>());
  net.add(std::make_unique<Linear>(in * h * w, c.hidden[0], gen, device));
  net.add(std::make_unique<BatchNorm1d>(c.hidden[0], 1e-5f, 0.1f, device));
  net.add(std::make_unique<ReLU>());
  if (c.dropout > 0) net.add(std::make_unique<Dropout>(c.dropout, gen));
  net.add(std::make_unique<Linear>(c.hidden[0], c.num_classes, gen, device));
}

void build_fcnet(Sequential& net, const ModelConfig& c, Generator& gen, Device device) {
  CUDL_CHECK(c.norm == "none" || c.norm == "batch" || c.norm == "layer", "fcnet: norm must be none, batch or layer, got '",
             c.norm, "'");
  net.add(std::make_unique<Flatten>());
  std::int64_t in = c.in_channels * c.height * c.width;
  for (std::int64_t width : c.hidden) {
    net.add(std::make_unique<Linear>(in, width, gen, device));
    if (c.norm == "batch") net.add(std::make_unique<BatchNorm1d>(width, 1e-5f, 0.1f, device));
    if (c.norm == "layer") net.add(std::make_unique<LayerNorm>(width, 1e-5f, device));
    net.add(std::make_unique<ReLU>());
    if (c.dropout > 0) net.add(std::make_unique<Dropout>(c.dropout, gen));
    in = width;
  }
  net.add(std::make_unique<Linear>(in, c.num_classes, gen, device));
}

}  // namespace

Model::Model(const ModelConfig& config, std::uint64_t seed, Device device)
    : config_(config), gen_(seed), device_(device) {
  if (config.kind == "three_layer") {
    build_three_layer(*this, config, gen_, device);
  } else if (config.kind == "deep") {
    build_deep(*this, config, gen_, device);
  } else if (config.kind == "fcnet") {
    build_fcnet(*this, config, gen_, device);
  } else {
    detail::throw_error("model: unknown kind '", config.kind, "' (expected three_layer, deep or fcnet)");
  }
  if (config.weight_scale > 0) {
    // CS231n: weights ~ N(0, weight_scale^2), biases 0; normalisation weights keep 1
    // (their biases are 0 already).
    for (Parameter* p : parameters()) {
      if (p->dim() >= 2) {
        fill_normal(p->value(), gen_, 0.0f, config.weight_scale);
      } else if (p->name.ends_with("bias")) {
        p->value().zero();
      }
    }
  }
}

void Model::to(Device device) {
  Sequential::to(device);
  device_ = device;
}

std::unique_ptr<Model> build_model(const ModelConfig& config, std::uint64_t seed, Device device) {
  return std::make_unique<Model>(config, seed, device);
}

}  // namespace cudl
