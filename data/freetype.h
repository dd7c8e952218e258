// Glyphs rendered with FreeType, for the emoji dataset (colour bitmaps of
// Noto Color Emoji) and for captions drawn under image grids (DejaVu Sans).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cudl {

// A rendered glyph: premultiplied RGBA for colour fonts, or coverage in the
// alpha channel with r = g = b = alpha for outline fonts, so both composite as
//   out = src + (1 - alpha) * background.
struct GlyphBitmap {
  int width = 0, height = 0;
  int left = 0;     // pen position to the bitmap's left edge, pixels
  int top = 0;      // baseline to the bitmap's top row, pixels (up is positive)
  int advance = 0;  // pen advance, pixels
  std::vector<std::uint8_t> rgba;  // height rows of width pixels, 4 bytes each
};

class FontFace {
 public:
  // Opens `path`. A face with fixed bitmap strikes (a colour emoji font) is set
  // to the strike closest to `pixel_size`; a scalable face to that many pixels
  // per em. Throws cudl::Error naming the file when it cannot be opened.
  FontFace(const std::string& path, int pixel_size);
  ~FontFace();
  FontFace(const FontFace&) = delete;
  FontFace& operator=(const FontFace&) = delete;

  const std::string& path() const { return path_; }
  bool has_glyph(char32_t code_point) const;
  // The glyph of `code_point` (colour where the font has colour); throws when
  // the font has none.
  GlyphBitmap render(char32_t code_point) const;
  int ascender() const;     // pixels above the baseline
  int line_height() const;  // pixels from one baseline to the next

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

// The code points of UTF-8 `text`; a malformed byte sequence becomes U+FFFD.
std::u32string utf8_to_code_points(const std::string& text);

}  // namespace cudl
