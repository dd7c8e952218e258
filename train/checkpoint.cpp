#include "train/checkpoint.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/formats/json.h"
#include "core/formats/safetensors.h"

namespace cudl {

namespace {

// A checkpoint's config decides how much build_model allocates before any tensor
// is checked, so a hostile file could ask for terabytes. This bounds the
// parameter count from above (every conv at the widest channel count, the first
// fc layer fed by the full-resolution widest feature map), in double so that
// nothing overflows, and refuses configs past a budget no cudl model comes near.
void check_config_size(const ModelConfig& c, const std::string& path) {
  constexpr double kMaxParameters = 1ull << 28;  // 1 GiB of float32
  auto positive = [&](const char* field, std::int64_t v) {
    CUDL_CHECK(v >= 1, "checkpoint ", path, ": config field '", field, "' must be >= 1, got ", v);
    return static_cast<double>(v);
  };
  double widest = std::max(positive("in_channels", c.in_channels), positive("num_filters", c.num_filters));
  for (std::int64_t ch : c.channels) widest = std::max(widest, positive("channels", ch));
  const double kernel = positive("filter_size", c.filter_size);
  const double convs = static_cast<double>(c.channels.size() + 1) * positive("convs_per_stage", c.convs_per_stage);
  double bound = convs * widest * widest * std::max(kernel, 3.0) * std::max(kernel, 3.0);
  double fan_in = widest * positive("height", c.height) * positive("width", c.width);
  for (std::int64_t h : c.hidden) {
    bound += (fan_in + 1) * positive("hidden", h);
    fan_in = static_cast<double>(h);
  }
  bound += (fan_in + 1) * positive("num_classes", c.num_classes);
  CUDL_CHECK(bound <= kMaxParameters, "checkpoint ", path, ": its config describes a model of up to ", bound,
             " parameters, more than the ", kMaxParameters, " cudl builds from a file");
}

}  // namespace

TensorMap model_state_dict(Module& model) {
  TensorMap out;
  for (Parameter* p : model.parameters()) out.emplace(p->name, p->value().to(Device::cpu()));
  for (auto& [name, t] : model.buffers()) out.emplace(name, t->to(Device::cpu()));
  return out;
}

void load_model_state(Module& model, const TensorMap& tensors, const std::string& prefix) {
  auto load = [&](const std::string& name, Tensor& dst) {
    const auto it = tensors.find(prefix + name);
    CUDL_CHECK(it != tensors.end(), "checkpoint: missing tensor '", prefix + name, "'");
    CUDL_CHECK(it->second.shape() == dst.shape() && it->second.dtype() == dst.dtype(), "checkpoint: tensor '",
               prefix + name, "' is ", it->second.str(), " but the model expects ", dtype_name(dst.dtype()), " ",
               shape_str(dst.shape()));
    dst.copy_from(it->second);
  };
  for (Parameter* p : model.parameters()) load(p->name, p->value());
  for (auto& [name, t] : model.buffers()) load(name, *t);
}

void save_checkpoint(const std::string& path, Model& model, const Normalization& normalization,
                     const std::vector<std::string>& class_names,
                     const std::map<std::string, std::string>& extra_metadata) {
  std::map<std::string, std::string> metadata = extra_metadata;
  metadata["model"] = model.config().kind;
  metadata["config"] = model.config().to_json();
  metadata["input_mean"] = nlohmann::json(normalization.mean).dump();
  metadata["input_std"] = nlohmann::json(normalization.stddev).dump();
  metadata["class_names"] = nlohmann::json(class_names).dump();
  write_safetensors(path, model_state_dict(model), metadata);
}

LoadedCheckpoint load_checkpoint(const std::string& path, Device device) {
  SafetensorsFile file = read_safetensors(path);
  auto meta = [&](const char* key) -> const std::string& {
    const auto it = file.metadata.find(key);
    CUDL_CHECK(it != file.metadata.end(), "checkpoint ", path, ": no '", key,
               "' in __metadata__ (not a cudl model checkpoint?)");
    return it->second;
  };
  LoadedCheckpoint out;
  const ModelConfig config = ModelConfig::from_json(meta("config"));
  check_config_size(config, path);
  out.model = build_model(config, 0, device);
  load_model_state(*out.model, file.tensors);
  auto meta_json = [&](const char* key) { return formats::parse_json(meta(key), "checkpoint " + path + ": " + key); };
  try {
    out.normalization.mean = meta_json("input_mean").get<std::vector<float>>();
    out.normalization.stddev = meta_json("input_std").get<std::vector<float>>();
    out.class_names = meta_json("class_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error("checkpoint ", path, ": bad metadata: ", e.what());
  }
  out.metadata = std::move(file.metadata);
  return out;
}

void add_prefixed(TensorMap& out, const std::string& prefix, TensorMap tensors) {
  for (auto& [name, t] : tensors) out.emplace(prefix + name, std::move(t));
}

TensorMap entries_under(const TensorMap& tensors, const std::string& prefix) {
  TensorMap out;
  for (const auto& [name, t] : tensors)
    if (name.starts_with(prefix)) out.emplace(name.substr(prefix.size()), t.view());
  return out;
}

}  // namespace cudl
