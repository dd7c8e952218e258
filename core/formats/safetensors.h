// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian
// header length, a JSON header mapping names to {dtype, shape, data_offsets} plus
// an optional "__metadata__" of strings, then the raw little-endian bytes.
// Used for golden cases and checkpoints. Supported dtypes: F32, I64, U8.
#pragma once

#include <map>
#include <string>

#include "core/tensor.h"

namespace cudl {

struct SafetensorsFile {
  TensorMap tensors;  // on the host
  std::map<std::string, std::string> metadata;
};

// Throws cudl::Error naming the file and what is wrong with it (truncated,
// header length past the end, offsets out of range or overlapping, unknown dtype,
// shape and byte count disagreeing, bad JSON); never reads out of bounds.
SafetensorsFile read_safetensors(const std::string& path);

// Writes atomically: a temporary file in the same folder, then rename, so a
// crash never leaves a half-written file under `path`. Device tensors are copied
// to the host first.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace cudl
