// PNG files through libpng's simplified API: the one writer behind plots and
// image grids, and a reader for images handed to a model (`cudl caption IMAGE.png`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cudl {

// `pixels` holds height rows of width pixels of `channels` bytes (1 grey, 3 RGB,
// 4 RGBA). Replaces `path` atomically.
void write_png(const std::string& path, int width, int height, int channels, const std::uint8_t* pixels);

struct PngImage {
  int width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;  // rows of width pixels of `channels` bytes
};

// Decodes a PNG to `channels` = 1 (grey) or 3 (RGB), any bit depth or colour type
// in; transparency is composited onto white (or black) by libpng, which mixes in
// linear light (half-transparent red over white reads (255, 186, 186)). Throws cudl::Error naming
// `source` for anything libpng rejects and for images over 2^28 bytes decoded.
PngImage decode_png(const std::uint8_t* data, std::size_t size, int channels, const std::string& source,
                    bool black_background = false);
PngImage read_png(const std::string& path, int channels = 3, bool black_background = false);

// float32 [C, H, W] in [0, 1] (C = image.channels).
Tensor png_to_tensor(const PngImage& image);

}  // namespace cudl
