// Shared by the file-format readers: errors that name the file, and reads that
// never go past what the file holds.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace cudl::formats {

// No file cudl reads needs more dimensions; the bound keeps shapes (and the
// messages that print them) small.
inline constexpr std::size_t kMaxDims = 32;

// Throws cudl::Error "<path>: <pieces...>".
template <typename... Args>
[[noreturn]] void file_error(const std::string& path, const Args&... args) {
  detail::throw_error(path, ": ", args...);
}

// Opens `path` for binary reading and returns it with its size in bytes.
std::ifstream open_input(const std::string& path, std::uint64_t& size);

// Reads exactly `bytes` bytes or throws "<path>: truncated while reading <what>".
void read_exact(std::istream& in, void* dst, std::uint64_t bytes, const std::string& path, const char* what);

// The whole file; `limit` bounds its size (the message names the limit).
std::vector<std::uint8_t> read_all(const std::string& path, std::uint64_t limit);

// Bytes that `dims` elements of `element_bytes` each take, or UINT64_MAX when
// that, or the product of the non-zero dimensions, is 2^63 or more (a lying
// header); never wraps around.
std::uint64_t shape_bytes(const std::vector<std::uint64_t>& dims, std::uint64_t element_bytes);

// `text` cut to at most `max_chars` characters ("..." marks a cut), for quoting
// what a file holds in an error message.
std::string excerpt(const std::string& text, std::size_t max_chars = 200);

// "123 bytes", or "more than 2^63 bytes" for shape_bytes' overflow marker.
std::string bytes_str(std::uint64_t bytes);

}  // namespace cudl::formats
