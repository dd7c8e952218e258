// Model checkpoints as safetensors files that torch.nn can load.
//
// Tensor names, shapes and layouts are exactly the torch.nn model's state_dict
// (docs/training.md lists the torch.nn equivalents; num_batches_tracked is not
// stored, so torch loads with strict=False or adds it). `__metadata__` holds
//   model        the kind: three_layer | deep | fcnet
//   config       the ModelConfig as JSON, enough to rebuild the model
//   input_mean   per-channel mean, JSON array  } inputs are scaled to [0, 1],
//   input_std    per-channel std, JSON array   } then (x - mean) / std
//   class_names  JSON array of names
// plus whatever the caller adds (epoch, val_accuracy, ...).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/models.h"

namespace cudl {

// A module's parameters and buffers by torch.nn name, as host copies.
TensorMap model_state_dict(Module& model);
// Copies matching tensors into the model (onto its device). Throws cudl::Error
// naming the tensor when one is missing or has another shape; with `prefix`,
// reads "<prefix><name>" and ignores everything else in `tensors`.
void load_model_state(Module& model, const TensorMap& tensors, const std::string& prefix = "");

// Several state dicts in one file: `tensors` moved into `out` as "<prefix><name>",
// and back out (views, the prefix removed) with entries_under.
void add_prefixed(TensorMap& out, const std::string& prefix, TensorMap tensors);
TensorMap entries_under(const TensorMap& tensors, const std::string& prefix);

void save_checkpoint(const std::string& path, Model& model, const Normalization& normalization,
                     const std::vector<std::string>& class_names,
                     const std::map<std::string, std::string>& extra_metadata = {});

struct LoadedCheckpoint {
  std::unique_ptr<Model> model;
  Normalization normalization;
  std::vector<std::string> class_names;
  std::map<std::string, std::string> metadata;
};
// Rebuilds the model from the metadata and loads its tensors onto `device`.
LoadedCheckpoint load_checkpoint(const std::string& path, Device device = Device::cpu());

}  // namespace cudl
