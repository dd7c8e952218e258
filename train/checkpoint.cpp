#include "train/checkpoint.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/formats/safetensors.h"

namespace cudl {

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
  out.model = build_model(ModelConfig::from_json(meta("config")), 0, device);
  load_model_state(*out.model, file.tensors);
  try {
    out.normalization.mean = nlohmann::json::parse(meta("input_mean")).get<std::vector<float>>();
    out.normalization.stddev = nlohmann::json::parse(meta("input_std")).get<std::vector<float>>();
    out.class_names = nlohmann::json::parse(meta("class_names")).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error("checkpoint ", path, ": bad metadata: ", e.what());
  }
  out.metadata = std::move(file.metadata);
  return out;
}

}  // namespace cudl
