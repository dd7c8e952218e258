// The emoji captioning set: every fully-qualified emoji of one code point in
// Unicode's emoji-test.txt (Debian's unicode-data; a code point alone or followed
// by the emoji presentation selector U+FE0F; 1,377 in Emoji 15.0), rendered from
// Noto Color Emoji with FreeType and captioned with its lower-cased name
// ("face with cowboy hat"). Group and subgroup labels come along for
// class-conditional generative models.
//
// Rendering: the font's colour bitmap strike (CBDT, 136 x 128 for Noto's 109 ppem)
// is composited, premultiplied, onto a square of the background colour centred
// on the glyph, then area-filtered down to size x size RGB (each output pixel the
// mean of the source area it covers, fractional pixels weighted by overlap). The
// arithmetic is on sRGB values as stored.
//
// The rendered set is cached as a safetensors file in cudl's cache folder
// ($CUDL_CACHE_DIR, else $XDG_CACHE_HOME/cudl, else ~/.cache/cudl), written
// atomically and rendered again when it is missing, unreadable, or was made from
// a different font or emoji-test.txt (size and modification time are recorded).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "data/caption.h"
#include "data/freetype.h"

namespace cudl {

inline constexpr const char* kEmojiTestPath = "/usr/share/unicode/emoji/emoji-test.txt";
inline constexpr const char* kEmojiFontPath = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";

struct EmojiEntry {
  char32_t code_point = 0;
  std::string name;  // as in the file: "face with cowboy hat", "Japanese “here” button"
  std::string group, subgroup;
};

// The fully-qualified single-code-point entries of emoji-test.txt's `text`, in
// file order. Throws cudl::Error naming `source` and the line for a malformed
// data line (bad hex, no status, no name, before any group).
std::vector<EmojiEntry> parse_emoji_test(std::string_view text, const std::string& source = "emoji-test.txt");
std::vector<EmojiEntry> read_emoji_test(const std::string& path = kEmojiTestPath);

// The caption of an emoji name: lower case, curly apostrophes as "'", curly
// quotes dropped ("Japanese “here” button" -> "japanese here button").
std::string emoji_caption(std::string_view name);

struct EmojiOptions {
  int size = 32;                  // output images are size x size
  bool black_background = false;  // white by default
  std::string emoji_test = kEmojiTestPath;
  std::string font = kEmojiFontPath;
  std::string cache_dir;  // empty: cudl_cache_dir()
};

struct EmojiSet {
  Tensor images;  // uint8 [N, size, size, 3], host
  std::vector<EmojiEntry> entries;
  Tensor group;     // int64 [N]: index into group_names
  Tensor subgroup;  // int64 [N]: index into subgroup_names
  std::vector<std::string> group_names, subgroup_names;  // in order of first appearance
  std::int64_t missing_glyphs = 0;  // entries skipped because the font has no glyph

  std::int64_t size() const { return static_cast<std::int64_t>(entries.size()); }
  // Images [rows, 3, size, size] float32 in [0, 1] of the given rows, or of all.
  Tensor images_nchw(const std::vector<std::int64_t>& rows) const;
  Tensor images_nchw() const;
};

// One emoji as uint8 [size, size, 3] (see the file comment for the filter).
Tensor render_emoji(const FontFace& font, char32_t code_point, int size, bool black_background);
// Renders every entry (those without a glyph are counted and left out).
EmojiSet render_emoji_set(const std::vector<EmojiEntry>& entries, const EmojiOptions& options);

// The cached set, rendering and caching it first when needed (see the file comment).
EmojiSet load_emoji_set(const EmojiOptions& options = {});
std::string emoji_cache_path(const EmojiOptions& options);

// $CUDL_CACHE_DIR, else $XDG_CACHE_HOME/cudl, else $HOME/.cache/cudl (created).
std::string cudl_cache_dir();

// The train/validation split: an emoji is in validation when word 0 of Philox
// block `code_point` under `seed` is below val_fraction * 2^32, so membership
// depends on the code point alone and survives emoji being added to the file.
bool is_validation_emoji(char32_t code_point, std::uint64_t seed, double val_fraction);

struct EmojiCaptionOptions {
  std::uint64_t split_seed = 0;
  double val_fraction = 0.1;
  std::int64_t max_length = 12;  // tokens with <START> and <END>; the longest name has 8 words
  std::int64_t min_word_count = 1;
};

struct CaptionSplits {
  CaptionDataset train, val;
  // Rows of the EmojiSet (or other source) behind each split's images.
  std::vector<std::int64_t> train_rows, val_rows;
};

// Train and validation caption datasets of `set`, the vocabulary built from the
// training captions only (validation words it lacks encode as <UNK>).
CaptionSplits emoji_caption_splits(const EmojiSet& set, const EmojiCaptionOptions& options = {});

}  // namespace cudl
