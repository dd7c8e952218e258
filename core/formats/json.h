// Bounded JSON for every JSON document cudl reads (safetensors headers and their
// __metadata__ values, model configs, args.json, training states).
//
// nlohmann::json parses (and dumps, and formats errors) recursively, so a hostile
// document of 100,000 nested '[' overflows the stack. parse_json() rejects
// nesting deeper than kMaxJsonDepth before handing the text to the parser, and
// errors name the document (`what`, e.g. "run/args.json") instead of echoing it.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace cudl::formats {

// Deep enough for every document cudl writes (the deepest is 3), shallow enough
// that the recursive parser and dump() stay far from the stack limit.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text`; throws cudl::Error "<what>: ..." for invalid JSON or nesting
// deeper than `max_depth` (strings are skipped, so brackets inside them do not count).
nlohmann::json parse_json(std::string_view text, const std::string& what, int max_depth = kMaxJsonDepth);

// `value` as compact JSON, cut to at most `max_chars` characters ("..." marks a cut),
// for error messages about a value a file holds.
std::string json_excerpt(const nlohmann::json& value, std::size_t max_chars = 60);

}  // namespace cudl::formats
