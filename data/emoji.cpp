#include "data/emoji.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/check.h"
#include "core/formats/io_util.h"
#include "core/formats/json.h"
#include "core/formats/safetensors.h"
#include "core/rng.h"

namespace cudl {

namespace fs = std::filesystem;

namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Every hex code point of the code-point field "1F600" or "263A FE0F".
std::vector<char32_t> parse_code_points(std::string_view field, const std::string& where) {
  std::vector<char32_t> out;
  while (!(field = trim(field)).empty()) {
    const std::size_t end = std::min(field.find(' '), field.size());
    std::uint32_t value = 0;
    const auto [ptr, ec] = std::from_chars(field.data(), field.data() + end, value, 16);
    CUDL_CHECK(ec == std::errc() && ptr == field.data() + end && value <= 0x10FFFF, where, ": '",
               field.substr(0, end), "' is not a hexadecimal code point");
    out.push_back(static_cast<char32_t>(value));
    field.remove_prefix(end);
  }
  return out;
}

// Area (box) filter of a square premultiplied-and-composited RGB float image of
// side `from` down to side `to`: output pixel i averages source [i s, (i+1) s), s = from / to.
std::vector<float> area_downsample(const std::vector<float>& rgb, int from, int to) {
  const double scale = static_cast<double>(from) / to;
  // weights[i] lists (source index, overlap) for output i along one axis.
  std::vector<std::vector<std::pair<int, double>>> weights(static_cast<std::size_t>(to));
  for (int i = 0; i < to; ++i) {
    const double lo = i * scale, hi = (i + 1) * scale;
    for (int j = static_cast<int>(std::floor(lo)); j < std::min(from, static_cast<int>(std::ceil(hi))); ++j) {
      const double overlap = std::min<double>(hi, j + 1) - std::max<double>(lo, j);
      if (overlap > 0) weights[static_cast<std::size_t>(i)].emplace_back(j, overlap / scale);
    }
  }
  std::vector<float> rows(static_cast<std::size_t>(from) * to * 3), out(static_cast<std::size_t>(to) * to * 3);
  for (int y = 0; y < from; ++y)  // horizontal pass: [from][to]
    for (int x = 0; x < to; ++x)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (const auto& [j, w] : weights[static_cast<std::size_t>(x)]) sum += w * rgb[(static_cast<std::size_t>(y) * from + j) * 3 + c];
        rows[(static_cast<std::size_t>(y) * to + x) * 3 + c] = static_cast<float>(sum);
      }
  for (int y = 0; y < to; ++y)  // vertical pass: [to][to]
    for (int x = 0; x < to; ++x)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (const auto& [j, w] : weights[static_cast<std::size_t>(y)]) sum += w * rows[(static_cast<std::size_t>(j) * to + x) * 3 + c];
        out[(static_cast<std::size_t>(y) * to + x) * 3 + c] = static_cast<float>(sum);
      }
  return out;
}

// "<size> <mtime>" of a file: what the cache records to notice a changed source.
std::string file_stamp(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return "missing";
  const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  return std::to_string(size) + " " + std::to_string(mtime);
}

std::int64_t index_of(std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return it - names.begin();
  names.push_back(name);
  return static_cast<std::int64_t>(names.size()) - 1;
}

constexpr const char* kCacheFormat = "cudl-emoji-1";

}  // namespace

std::vector<EmojiEntry> parse_emoji_test(std::string_view text, const std::string& source) {
  std::vector<EmojiEntry> entries;
  std::string group, subgroup;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = trim(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_number;
    if (starts_with(line, "# group:")) {
      group = trim(line.substr(8));
      subgroup.clear();
      continue;
    }
    if (starts_with(line, "# subgroup:")) {
      subgroup = trim(line.substr(11));
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::string where = source + ":" + std::to_string(line_number);
    const std::size_t semicolon = line.find(';'), hash = line.find('#');
    CUDL_CHECK(semicolon != std::string_view::npos && hash != std::string_view::npos && semicolon < hash, where,
               ": expected 'code points ; status # emoji version name'");
    const std::string_view status = trim(line.substr(semicolon + 1, hash - semicolon - 1));
    if (status != "fully-qualified") continue;
    const std::vector<char32_t> code_points = parse_code_points(line.substr(0, semicolon), where);
    CUDL_CHECK(!code_points.empty(), where, ": no code points");
    if (code_points.size() > 2 || (code_points.size() == 2 && code_points[1] != U'\uFE0F')) continue;
    // The comment is "<emoji> E<version> <name>": the name follows the version.
    const std::string_view comment = trim(line.substr(hash + 1));
    std::size_t version = comment.find(" E");
    while (version != std::string_view::npos &&
           !(version + 2 < comment.size() && comment[version + 2] >= '0' && comment[version + 2] <= '9'))
      version = comment.find(" E", version + 1);
    const std::size_t name_start = version == std::string_view::npos ? version : comment.find(' ', version + 2);
    CUDL_CHECK(name_start != std::string_view::npos && !trim(comment.substr(name_start)).empty(), where,
               ": expected '# <emoji> E<version> <name>' after the status");
    CUDL_CHECK(!group.empty(), where, ": an emoji before any '# group:' line");
    entries.push_back({code_points[0], std::string(trim(comment.substr(name_start))), group, subgroup});
  }
  return entries;
}

std::vector<EmojiEntry> read_emoji_test(const std::string& path) {
  CUDL_CHECK(fs::exists(path), path, " not found. Run scripts/setup.sh to install Unicode's emoji data (unicode-data).");
  const std::vector<std::uint8_t> bytes = formats::read_all(path, 64ull << 20);
  return parse_emoji_test(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

std::string emoji_caption(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const std::string_view rest = name.substr(i);
    if (starts_with(rest, "\u2019") || starts_with(rest, "\u2018")) {  // ’ ‘
      out += '\'';
      i += 2;
    } else if (starts_with(rest, "\u201C") || starts_with(rest, "\u201D")) {  // “ ”
      i += 2;
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
    }
  }
  return out;
}

Tensor render_emoji(const FontFace& font, char32_t code_point, int size, bool black_background) {
  CUDL_CHECK(size >= 1, "render_emoji: expected size >= 1, got ", size);
  const GlyphBitmap glyph = font.render(code_point);
  CUDL_CHECK(glyph.width > 0 && glyph.height > 0, font.path(), ": the glyph of U+", std::hex,
             static_cast<std::uint32_t>(code_point), " is empty");
  const int side = std::max(glyph.width, glyph.height), x0 = (side - glyph.width) / 2, y0 = (side - glyph.height) / 2;
  const float background = black_background ? 0.0f : 1.0f;
  std::vector<float> canvas(static_cast<std::size_t>(side) * side * 3, background);
  for (int y = 0; y < glyph.height; ++y)
    for (int x = 0; x < glyph.width; ++x) {
      const std::uint8_t* p = &glyph.rgba[(static_cast<std::size_t>(y) * glyph.width + x) * 4];
      const float keep = 1.0f - p[3] / 255.0f;  // premultiplied: src + (1 - alpha) * background
      float* q = &canvas[(static_cast<std::size_t>(y + y0) * side + x + x0) * 3];
      for (int c = 0; c < 3; ++c) q[c] = p[c] / 255.0f + keep * background;
    }
  const std::vector<float> small = area_downsample(canvas, side, size);
  Tensor out = Tensor::empty({size, size, 3}, DType::U8);
  std::uint8_t* dst = out.data<std::uint8_t>();
  for (std::size_t i = 0; i < small.size(); ++i)
    dst[i] = static_cast<std::uint8_t>(std::lround(std::clamp(small[i], 0.0f, 1.0f) * 255.0f));
  return out;
}

EmojiSet render_emoji_set(const std::vector<EmojiEntry>& entries, const EmojiOptions& options) {
  CUDL_CHECK(fs::exists(options.font), options.font,
             " not found. Run scripts/setup.sh to install the emoji font (fonts-noto-color-emoji).");
  const FontFace font(options.font, 109);  // Noto Color Emoji's only strike
  EmojiSet set;
  std::vector<std::int64_t> groups, subgroups;
  std::vector<Tensor> images;
  for (const EmojiEntry& entry : entries) {
    if (!font.has_glyph(entry.code_point)) {
      ++set.missing_glyphs;
      continue;
    }
    images.push_back(render_emoji(font, entry.code_point, options.size, options.black_background));
    groups.push_back(index_of(set.group_names, entry.group));
    subgroups.push_back(index_of(set.subgroup_names, entry.group + "/" + entry.subgroup));
    set.entries.push_back(entry);
  }
  const std::int64_t n = set.size(), s = options.size, bytes = s * s * 3;
  set.images = Tensor::empty({n, s, s, 3}, DType::U8);
  for (std::int64_t i = 0; i < n; ++i)
    std::copy_n(images[static_cast<std::size_t>(i)].data<std::uint8_t>(), bytes, set.images.data<std::uint8_t>() + i * bytes);
  set.group = Tensor::from_vector(groups, {n});
  set.subgroup = Tensor::from_vector(subgroups, {n});
  return set;
}

Tensor EmojiSet::images_nchw() const {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(size()));
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  return images_nchw(rows);
}

Tensor EmojiSet::images_nchw(const std::vector<std::int64_t>& rows) const {
  const std::int64_t s = images.size(1), n = static_cast<std::int64_t>(rows.size());
  Tensor out = Tensor::empty({n, 3, s, s});
  const std::uint8_t* src = images.data<std::uint8_t>();
  float* dst = out.data<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t row = rows[static_cast<std::size_t>(i)];
    CUDL_CHECK(row >= 0 && row < size(), "EmojiSet::images_nchw: row ", row, " is outside [0, ", size(), ")");
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t p = 0; p < s * s; ++p) dst[(i * 3 + c) * s * s + p] = src[(row * s * s + p) * 3 + c] * (1.0f / 255.0f);
  }
  return out;
}

std::string cudl_cache_dir() {
  fs::path dir;
  if (const char* env = std::getenv("CUDL_CACHE_DIR"); env && *env)
    dir = env;
  else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    dir = fs::path(xdg) / "cudl";
  else if (const char* home = std::getenv("HOME"); home && *home)
    dir = fs::path(home) / ".cache" / "cudl";
  else
    dir = fs::temp_directory_path() / "cudl-cache";
  std::error_code ec;
  fs::create_directories(dir, ec);
  CUDL_CHECK(!ec, "cudl cache: cannot create ", dir.string(), ": ", ec.message());
  return dir.string();
}

std::string emoji_cache_path(const EmojiOptions& options) {
  const std::string dir = options.cache_dir.empty() ? cudl_cache_dir() : options.cache_dir;
  return (fs::path(dir) / ("emoji-" + std::to_string(options.size) + (options.black_background ? "-black" : "-white") +
                           ".safetensors"))
      .string();
}

EmojiSet load_emoji_set(const EmojiOptions& options) {
  const std::string path = emoji_cache_path(options);
  const std::string sources = file_stamp(options.emoji_test) + " | " + file_stamp(options.font);
  if (fs::exists(path)) {
    try {
      SafetensorsFile file = read_safetensors(path);
      if (file.metadata["format"] == kCacheFormat && file.metadata["sources"] == sources) {
        EmojiSet set;
        const auto names = formats::parse_json(file.metadata.at("names"), path + " names");
        const auto entry_groups = formats::parse_json(file.metadata.at("entry_groups"), path + " entry_groups");
        const auto entry_subgroups = formats::parse_json(file.metadata.at("entry_subgroups"), path + " entry_subgroups");
        set.group_names = formats::parse_json(file.metadata.at("group_names"), path + " group_names").get<std::vector<std::string>>();
        set.subgroup_names = formats::parse_json(file.metadata.at("subgroup_names"), path + " subgroup_names").get<std::vector<std::string>>();
        set.missing_glyphs = std::stoll(file.metadata.at("missing_glyphs"));
        set.images = std::move(file.tensors.at("images"));
        set.group = std::move(file.tensors.at("group"));
        set.subgroup = std::move(file.tensors.at("subgroup"));
        const std::vector<std::int64_t> code_points = file.tensors.at("code_points").to_vector_i64();
        for (std::size_t i = 0; i < code_points.size(); ++i)
          set.entries.push_back({static_cast<char32_t>(code_points[i]), names.at(i).get<std::string>(),
                                 entry_groups.at(i).get<std::string>(), entry_subgroups.at(i).get<std::string>()});
        const std::int64_t n = set.size();
        if (set.images.shape() == Shape{n, options.size, options.size, 3} && set.group.shape() == Shape{n} &&
            set.subgroup.shape() == Shape{n})
          return set;
      }
    } catch (const std::exception&) {
      // A damaged or foreign cache file: render again and replace it.
    }
  }
  EmojiSet set = render_emoji_set(read_emoji_test(options.emoji_test), options);
  nlohmann::json names = nlohmann::json::array(), entry_groups = nlohmann::json::array(),
                 entry_subgroups = nlohmann::json::array();
  std::vector<std::int64_t> code_points;
  for (const EmojiEntry& e : set.entries) {
    names.push_back(e.name), entry_groups.push_back(e.group), entry_subgroups.push_back(e.subgroup);
    code_points.push_back(static_cast<std::int64_t>(e.code_point));
  }
  TensorMap tensors;
  tensors.emplace("images", set.images.clone());
  tensors.emplace("group", set.group.clone());
  tensors.emplace("subgroup", set.subgroup.clone());
  tensors.emplace("code_points", Tensor::from_vector(code_points, {set.size()}));
  write_safetensors(path, tensors,
                    {{"format", kCacheFormat},
                     {"sources", sources},
                     {"names", names.dump()},
                     {"entry_groups", entry_groups.dump()},
                     {"entry_subgroups", entry_subgroups.dump()},
                     {"group_names", nlohmann::json(set.group_names).dump()},
                     {"subgroup_names", nlohmann::json(set.subgroup_names).dump()},
                     {"missing_glyphs", std::to_string(set.missing_glyphs)}});
  return set;
}

bool is_validation_emoji(char32_t code_point, std::uint64_t seed, double val_fraction) {
  CUDL_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, "is_validation_emoji: expected a fraction in [0, 1), got ",
             val_fraction);
  const double threshold = std::ldexp(val_fraction, 32);
  return philox4x32_10(seed, static_cast<std::uint64_t>(code_point)).w[0] < threshold;
}

CaptionSplits emoji_caption_splits(const EmojiSet& set, const EmojiCaptionOptions& options) {
  CaptionSplits splits;
  std::vector<std::string> train_captions, val_captions;
  for (std::int64_t i = 0; i < set.size(); ++i) {
    const EmojiEntry& e = set.entries[static_cast<std::size_t>(i)];
    const bool val = is_validation_emoji(e.code_point, options.split_seed, options.val_fraction);
    (val ? splits.val_rows : splits.train_rows).push_back(i);
    (val ? val_captions : train_captions).push_back(emoji_caption(e.name));
  }
  const Vocabulary vocab = Vocabulary::from_captions(train_captions, options.min_word_count);
  auto fill = [&](CaptionDataset& d, const std::vector<std::int64_t>& rows, const std::vector<std::string>& captions) {
    d.images = set.images_nchw(rows);
    d.captions = encode_captions(vocab, captions, options.max_length);
    std::vector<std::int64_t> index(rows.size());
    for (std::size_t i = 0; i < index.size(); ++i) index[i] = static_cast<std::int64_t>(i);
    d.image_index = Tensor::from_vector(index, {static_cast<std::int64_t>(index.size())});
    d.vocab = vocab;
  };
  fill(splits.train, splits.train_rows, train_captions);
  fill(splits.val, splits.val_rows, val_captions);
  return splits;
}

}  // namespace cudl
