// Grids of images as PNG files: plain (GAN and diffusion samples) and with lines
// of text under each image (generated and reference captions), the text drawn
// with FreeType from DejaVu Sans (fonts-dejavu-core).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "train/plot.h"

namespace cudl {

inline constexpr const char* kCaptionFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

struct GridOptions {
  int columns = 0;   // images per row; 0: ceil(sqrt(N))
  int padding = 2;   // pixels around and between cells
  int scale = 1;     // each image pixel drawn as scale x scale pixels
  float low = 0.0f;  // values in [low, high] map to 0..255, clamped;
  float high = 1.0f; // low == high means the tensor's min..max
  Rgb background{40, 40, 40};
};

// N images [N, C, H, W] (C = 1 or 3, float32, any device) as one PNG.
void write_image_grid(const std::string& path, const Tensor& images, const GridOptions& options = {});

struct CaptionGridOptions {
  GridOptions grid{0, 6, 3, 0.0f, 1.0f, Rgb{255, 255, 255}};
  int min_cell_width = 140;  // text wraps at max(image width x scale, this)
  int font_pixels = 11;
  std::string font = kCaptionFontPath;
  // Line k of every image is drawn in line_colors[k % size]: generated, then reference.
  std::vector<Rgb> line_colors{{20, 20, 20}, {30, 120, 50}};
};

// The grid with `lines[i]` (UTF-8, wrapped at word boundaries to the cell width)
// under image i; lines.size() must equal N.
void write_captioned_grid(const std::string& path, const Tensor& images, const std::vector<std::vector<std::string>>& lines,
                          const CaptionGridOptions& options = {});

}  // namespace cudl
