#include "core/formats/io_util.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

namespace cudl::formats {

std::ifstream open_input(const std::string& path, std::uint64_t& size) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) file_error(path, "cannot open: no such file");
  if (std::filesystem::is_directory(status)) file_error(path, "cannot open: is a folder");
  size = std::filesystem::file_size(path, ec);
  if (ec) file_error(path, "cannot read its size: ", ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) file_error(path, "cannot open: ", std::strerror(errno));
  return in;
}

void read_exact(std::istream& in, void* dst, std::uint64_t bytes, const std::string& path, const char* what) {
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
  if (static_cast<std::uint64_t>(in.gcount()) != bytes)
    file_error(path, "truncated while reading ", what, " (wanted ", bytes, " bytes, got ", in.gcount(), ")");
}

std::vector<std::uint8_t> read_all(const std::string& path, std::uint64_t limit) {
  std::uint64_t size = 0;
  std::ifstream in = open_input(path, size);
  if (size > limit) file_error(path, "is ", size, " bytes, more than the ", limit, " this reader accepts");
  std::vector<std::uint8_t> bytes(size);
  read_exact(in, bytes.data(), size, path, "the file");
  return bytes;
}

std::uint64_t shape_bytes(const std::vector<std::uint64_t>& dims, std::uint64_t element_bytes) {
  // The product of the non-zero dimensions must fit too: a 0 among huge dimensions
  // holds no bytes, but its element count still overflows every later shape_numel.
  constexpr std::uint64_t kLimit = std::numeric_limits<std::int64_t>::max();
  std::uint64_t bytes = element_bytes;
  bool empty = false;
  for (std::uint64_t d : dims) {
    if (d == 0) {
      empty = true;
      continue;
    }
    if (bytes > kLimit / d) return std::numeric_limits<std::uint64_t>::max();
    bytes *= d;
  }
  return empty ? 0 : bytes;
}

std::string excerpt(const std::string& text, std::size_t max_chars) {
  return text.size() <= max_chars ? text : text.substr(0, max_chars) + "...";
}

std::string bytes_str(std::uint64_t bytes) {
  return bytes == std::numeric_limits<std::uint64_t>::max() ? "more than 2^63 bytes" : std::to_string(bytes) + " bytes";
}

}  // namespace cudl::formats
