// Generated samples from disk, as float32 [N, 1, H, W] images in [0, 1] (the
// scale the data loaders give real images, before normalisation).
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace cudl {

// Every *.png in `dir` (not recursive), in file-name order. Each must be a
// greyscale image of height x width; colour and alpha are refused rather than
// converted, since a generator of grey images never writes them. Errors name
// the file.
Tensor read_png_samples(const std::string& dir, std::int64_t height = 28, std::int64_t width = 28);

// A .npy array [N, 1, H, W] or [N, H, W] of uint8 (0..255, scaled by 1/255) or
// float32, which must lie in [0, 1] (a tanh generator's [-1, 1] output is
// (x + 1) / 2 first; the error says so rather than guessing the range).
Tensor read_npy_samples(const std::string& path, std::int64_t height = 28, std::int64_t width = 28);

// read_npy_samples for a file ending in .npy, read_png_samples for a folder.
Tensor read_samples(const std::string& path, std::int64_t height = 28, std::int64_t width = 28);

}  // namespace cudl
