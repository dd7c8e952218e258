#include "core/formats/json.h"

#include "core/error.h"

namespace cudl::formats {

namespace {

// The deepest nesting of arrays and objects in `text`, stopping early once past
// `limit`; brackets inside strings (with their escapes) do not count.
int nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& what, int max_depth) {
  if (nesting_depth(text, max_depth) > max_depth)
    detail::throw_error(what, ": JSON nests arrays or objects more than ", max_depth, " levels deep");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's message ends with the last token read, which can be as long as the text.
    std::string reason = e.what();
    if (reason.size() > 200) reason = reason.substr(0, 200) + "...";
    detail::throw_error(what, ": not valid JSON: ", reason);
  }
}

std::string json_excerpt(const nlohmann::json& value, std::size_t max_chars) {
  // Depth is bounded by parse_json, so dump() is safe; only its length needs cutting.
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > max_chars) text = text.substr(0, max_chars) + "...";
  return text;
}

}  // namespace cudl::formats
