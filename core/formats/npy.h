// NumPy .npy files (format versions 1.0-3.0), C order, little-endian
// float32 ('<f4'), int64 ('<i8') and uint8 ('|u1').
#pragma once

#include <string>

#include "core/tensor.h"

namespace cudl {

Tensor read_npy(const std::string& path);  // throws cudl::Error on a malformed file
void write_npy(const std::string& path, const Tensor& t);  // atomic (temp file + rename)

}  // namespace cudl
