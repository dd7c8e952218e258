#include "train/image_grid.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/check.h"
#include "data/freetype.h"
#include "train/png.h"

namespace cudl {

namespace {

struct RgbImage {
  int width, height;
  std::vector<std::uint8_t> pixels;
  RgbImage(int w, int h, Rgb fill) : width(w), height(h), pixels(static_cast<std::size_t>(w) * h * 3) {
    for (std::size_t i = 0; i < pixels.size(); i += 3) pixels[i] = fill.r, pixels[i + 1] = fill.g, pixels[i + 2] = fill.b;
  }
  std::uint8_t* at(int x, int y) { return &pixels[(static_cast<std::size_t>(y) * width + x) * 3]; }
};

// Where the cells go: `cols` x `rows` cells of cell_w x cell_h, `padding` apart.
struct Layout {
  int cols, rows, cell_w, cell_h, padding;
  int width() const { return cols * cell_w + (cols + 1) * padding; }
  int height() const { return rows * cell_h + (rows + 1) * padding; }
  int x(std::int64_t i) const { return padding + static_cast<int>(i % cols) * (cell_w + padding); }
  int y(std::int64_t i) const { return padding + static_cast<int>(i / cols) * (cell_h + padding); }
};

void check_images(const char* op, const Tensor& images, const GridOptions& options) {
  check_ndim(op, "images", images, 4);
  check_float(op, "images", images);
  CUDL_CHECK(images.size(0) > 0 && (images.size(1) == 1 || images.size(1) == 3), op,
             ": expected N > 0 images of 1 or 3 channels, got ", images.str());
  CUDL_CHECK(options.columns >= 0 && options.padding >= 0 && options.scale >= 1, op,
             ": expected columns >= 0, padding >= 0 and scale >= 1, got ", options.columns, ", ", options.padding,
             " and ", options.scale);
}

int grid_columns(std::int64_t n, int columns) {
  return columns > 0 ? columns : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
}

// Paints image i of `images` at the top of each cell, centred horizontally.
void paint_images(RgbImage& canvas, const Layout& layout, const Tensor& images, const GridOptions& options) {
  const std::int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const std::vector<float> values = images.to_vector();
  float low = options.low, high = options.high;
  if (low == high) {
    const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    low = *mn, high = *mx > *mn ? *mx : *mn + 1.0f;
  }
  const float to_byte = 255.0f / (high - low);
  auto byte = [&](float v) { return static_cast<std::uint8_t>(std::lround(std::clamp((v - low) * to_byte, 0.0f, 255.0f))); };
  const int s = options.scale, image_w = static_cast<int>(w) * s;
  for (std::int64_t i = 0; i < n; ++i) {
    const int x0 = layout.x(i) + (layout.cell_w - image_w) / 2, y0 = layout.y(i);
    const float* image = values.data() + i * c * h * w;
    for (int y = 0; y < static_cast<int>(h) * s; ++y)
      for (int x = 0; x < image_w; ++x) {
        std::uint8_t* p = canvas.at(x0 + x, y0 + y);
        for (int ch = 0; ch < 3; ++ch) p[ch] = byte(image[(std::min<std::int64_t>(ch, c - 1) * h + y / s) * w + x / s]);
      }
  }
}

// Splits `text` at spaces into lines no wider than `width` pixels (a single
// longer word stays whole and is clipped by the cell).
std::vector<std::u32string> wrap(const FontFace& font, const std::string& text, int width) {
  std::vector<std::u32string> lines{U""};
  int line_width = 0;
  const std::u32string code_points = utf8_to_code_points(text);
  const int space = font.has_glyph(U' ') ? font.render(U' ').advance : 0;
  std::size_t start = 0;
  while (start < code_points.size()) {
    std::size_t end = code_points.find(U' ', start);
    if (end == std::u32string::npos) end = code_points.size();
    const std::u32string word = code_points.substr(start, end - start);
    int word_width = 0;
    for (char32_t cp : word) word_width += font.has_glyph(cp) ? font.render(cp).advance : 0;
    if (!lines.back().empty() && line_width + space + word_width > width) lines.emplace_back(), line_width = 0;
    if (!lines.back().empty()) lines.back() += U' ', line_width += space;
    lines.back() += word, line_width += word_width;
    start = end + 1;
  }
  return lines;
}

// Draws one line of text with its baseline at (x, baseline), coverage-blended onto the canvas.
void draw_text(RgbImage& canvas, const FontFace& font, const std::u32string& text, int x, int baseline, int clip_right,
               Rgb color) {
  for (char32_t cp : text) {
    if (!font.has_glyph(cp)) cp = U'?';
    const GlyphBitmap g = font.render(cp);
    for (int gy = 0; gy < g.height; ++gy)
      for (int gx = 0; gx < g.width; ++gx) {
        const int px = x + g.left + gx, py = baseline - g.top + gy;
        if (px < 0 || py < 0 || px >= std::min(clip_right, canvas.width) || py >= canvas.height) continue;
        const float a = g.rgba[(static_cast<std::size_t>(gy) * g.width + gx) * 4 + 3] / 255.0f;
        std::uint8_t* p = canvas.at(px, py);
        const std::uint8_t rgb[3] = {color.r, color.g, color.b};
        for (int c = 0; c < 3; ++c) p[c] = static_cast<std::uint8_t>(std::lround(rgb[c] * a + p[c] * (1.0f - a)));
      }
    x += g.advance;
  }
}

}  // namespace

void write_image_grid(const std::string& path, const Tensor& images, const GridOptions& options) {
  check_images("write_image_grid", images, options);
  const std::int64_t n = images.size(0);
  const int cols = grid_columns(n, options.columns);
  const Layout layout{cols, static_cast<int>((n + cols - 1) / cols), static_cast<int>(images.size(3)) * options.scale,
                      static_cast<int>(images.size(2)) * options.scale, options.padding};
  RgbImage canvas(layout.width(), layout.height(), options.background);
  paint_images(canvas, layout, images, options);
  write_png(path, canvas.width, canvas.height, 3, canvas.pixels.data());
}

void write_captioned_grid(const std::string& path, const Tensor& images, const std::vector<std::vector<std::string>>& lines,
                          const CaptionGridOptions& options) {
  const GridOptions& grid = options.grid;
  check_images("write_captioned_grid", images, grid);
  const std::int64_t n = images.size(0);
  CUDL_CHECK(static_cast<std::int64_t>(lines.size()) == n, "write_captioned_grid: expected text for each of the ", n,
             " images, got ", lines.size());
  CUDL_CHECK(!options.line_colors.empty(), "write_captioned_grid: expected at least one line colour");
  CUDL_CHECK(std::filesystem::exists(options.font), options.font,
             " not found. Run scripts/setup.sh to install the caption font (fonts-dejavu-core).");
  const FontFace font(options.font, options.font_pixels);
  const int image_w = static_cast<int>(images.size(3)) * grid.scale, image_h = static_cast<int>(images.size(2)) * grid.scale;
  const int cell_w = std::max(image_w, options.min_cell_width);
  // Every cell is as tall as the image plus the most wrapped lines any image has.
  std::vector<std::vector<std::pair<std::u32string, Rgb>>> wrapped(static_cast<std::size_t>(n));
  std::size_t most_lines = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto& out = wrapped[static_cast<std::size_t>(i)];
    for (std::size_t k = 0; k < lines[static_cast<std::size_t>(i)].size(); ++k)
      for (std::u32string& line : wrap(font, lines[static_cast<std::size_t>(i)][k], cell_w))
        out.emplace_back(std::move(line), options.line_colors[k % options.line_colors.size()]);
    most_lines = std::max(most_lines, out.size());
  }
  const int line_h = font.line_height(), text_top = image_h + 3;
  const int cols = grid_columns(n, grid.columns);
  const Layout layout{cols, static_cast<int>((n + cols - 1) / cols), cell_w,
                      text_top + static_cast<int>(most_lines) * line_h, grid.padding};
  RgbImage canvas(layout.width(), layout.height(), grid.background);
  paint_images(canvas, layout, images, grid);
  for (std::int64_t i = 0; i < n; ++i) {
    int baseline = layout.y(i) + text_top + font.ascender();
    for (const auto& [text, color] : wrapped[static_cast<std::size_t>(i)]) {
      draw_text(canvas, font, text, layout.x(i), baseline, layout.x(i) + cell_w, color);
      baseline += line_h;
    }
  }
  write_png(path, canvas.width, canvas.height, 3, canvas.pixels.data());
}

}  // namespace cudl
