#include "data/freetype.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <cstdlib>

#include "core/error.h"

namespace cudl {

struct FontFace::Impl {
  FT_Library library = nullptr;
  FT_Face face = nullptr;
};

namespace {
[[noreturn]] void font_error(const std::string& path, const char* what, FT_Error code) {
  const char* reason = FT_Error_String(code);
  detail::throw_error(path, ": FreeType ", what, " failed (error ", code, reason ? std::string(", ") + reason : "", ")",
                      ". Run scripts/setup.sh to install the fonts cudl uses.");
}
}  // namespace

FontFace::FontFace(const std::string& path, int pixel_size) : impl_(std::make_unique<Impl>()), path_(path) {
  CUDL_CHECK(pixel_size > 0, "FontFace: expected a pixel size > 0, got ", pixel_size);
  if (FT_Error e = FT_Init_FreeType(&impl_->library)) font_error(path, "initialisation", e);
  if (FT_Error e = FT_New_Face(impl_->library, path.c_str(), 0, &impl_->face)) {
    FT_Done_FreeType(impl_->library);
    font_error(path, "opening the face", e);
  }
  FT_Face face = impl_->face;
  FT_Error e = 0;
  if (FT_HAS_FIXED_SIZES(face) && !FT_IS_SCALABLE(face)) {
    // Colour bitmap fonts come in fixed strikes (Noto Color Emoji: one, 109 ppem).
    int best = 0;
    for (int i = 1; i < face->num_fixed_sizes; ++i)
      if (std::abs(face->available_sizes[i].height - pixel_size) < std::abs(face->available_sizes[best].height - pixel_size))
        best = i;
    e = FT_Select_Size(face, best);
  } else {
    e = FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(pixel_size));
  }
  if (e) {
    FT_Done_Face(face);
    FT_Done_FreeType(impl_->library);
    font_error(path, "setting the size", e);
  }
}

FontFace::~FontFace() {
  FT_Done_Face(impl_->face);
  FT_Done_FreeType(impl_->library);
}

bool FontFace::has_glyph(char32_t code_point) const { return FT_Get_Char_Index(impl_->face, code_point) != 0; }

int FontFace::ascender() const { return static_cast<int>(impl_->face->size->metrics.ascender >> 6); }
int FontFace::line_height() const { return static_cast<int>(impl_->face->size->metrics.height >> 6); }

GlyphBitmap FontFace::render(char32_t code_point) const {
  FT_Face face = impl_->face;
  const FT_UInt index = FT_Get_Char_Index(face, code_point);
  CUDL_CHECK(index != 0, path_, ": the font has no glyph for U+", std::hex, static_cast<std::uint32_t>(code_point));
  if (FT_Error e = FT_Load_Glyph(face, index, FT_LOAD_COLOR | FT_LOAD_RENDER)) font_error(path_, "loading a glyph", e);
  const FT_GlyphSlot slot = face->glyph;
  const FT_Bitmap& bitmap = slot->bitmap;
  GlyphBitmap out;
  out.width = static_cast<int>(bitmap.width);
  out.height = static_cast<int>(bitmap.rows);
  out.left = slot->bitmap_left;
  out.top = slot->bitmap_top;
  out.advance = static_cast<int>(slot->advance.x >> 6);
  out.rgba.resize(static_cast<std::size_t>(out.width) * out.height * 4);
  for (int y = 0; y < out.height; ++y) {
    // A negative pitch means the rows are stored bottom-up.
    const unsigned char* row = bitmap.pitch >= 0 ? bitmap.buffer + y * bitmap.pitch
                                                 : bitmap.buffer + (out.height - 1 - y) * -bitmap.pitch;
    std::uint8_t* dst = &out.rgba[static_cast<std::size_t>(y) * out.width * 4];
    for (int x = 0; x < out.width; ++x, dst += 4) {
      switch (bitmap.pixel_mode) {
        case FT_PIXEL_MODE_BGRA:  // premultiplied already
          dst[0] = row[4 * x + 2], dst[1] = row[4 * x + 1], dst[2] = row[4 * x], dst[3] = row[4 * x + 3];
          break;
        case FT_PIXEL_MODE_GRAY:
          dst[0] = dst[1] = dst[2] = dst[3] = row[x];
          break;
        case FT_PIXEL_MODE_MONO:
          dst[0] = dst[1] = dst[2] = dst[3] = (row[x / 8] & (0x80 >> (x % 8))) ? 255 : 0;
          break;
        default:
          detail::throw_error(path_, ": unsupported FreeType pixel mode ", int(bitmap.pixel_mode), " for U+", std::hex,
                              static_cast<std::uint32_t>(code_point));
      }
    }
  }
  return out;
}

std::u32string utf8_to_code_points(const std::string& text) {
  std::u32string out;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char lead = s[i];
    const int extra = lead < 0x80 ? 0 : (lead >> 5) == 0x6 ? 1 : (lead >> 4) == 0xE ? 2 : (lead >> 3) == 0x1E ? 3 : -1;
    char32_t cp = extra == 0 ? lead : extra == 1 ? lead & 0x1F : extra == 2 ? lead & 0x0F : lead & 0x07;
    bool ok = extra >= 0;
    for (int k = 1; ok && k <= extra; ++k) {
      ok = i + k < n && (s[i + k] & 0xC0) == 0x80;
      if (ok) cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (!ok) {
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

}  // namespace cudl
