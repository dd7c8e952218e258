// MNIST's IDX files (http://yann.lecun.com/exdb/mnist/), raw or gzip-compressed
// (detected from the gzip magic, not the file name). Unsigned-byte data only,
// as used by MNIST and Fashion-MNIST: returns a uint8 tensor shaped by the file's
// dimensions, e.g. [60000, 28, 28] for images and [60000] for labels.
#pragma once

#include <string>

#include "core/tensor.h"

namespace cudl {

Tensor read_idx(const std::string& path);  // throws cudl::Error on a malformed file

}  // namespace cudl
