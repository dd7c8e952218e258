// Shared by the libFuzzer harnesses: most of cudl's readers take a path (the code
// users run), so each input is written to one scratch file per process and read
// back; readers of bytes in memory take the input as it comes.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/error.h"

namespace cudl::fuzz {

// The scratch file holding `size` bytes of `data`; `suffix` keeps readers that
// look at the name (none do today) honest.
inline const std::string& input_file(const std::uint8_t* data, std::size_t size, const char* suffix = "") {
  static const std::string path = "/tmp/cudl_fuzz_" + std::to_string(::getpid()) + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

// Runs `parse`: a cudl::Error is the expected answer to a malformed input;
// anything else (a crash, a sanitizer report, another exception, a leak) is a
// finding. Readers of bytes in memory are called through this directly.
template <typename Parse>
int parse_input(Parse parse) {
  try {
    parse();
  } catch (const cudl::Error&) {
  }
  return 0;
}

// Runs `read` on the input written to the scratch file (see parse_input).
template <typename Read>
int read_input(const std::uint8_t* data, std::size_t size, const char* suffix, Read read) {
  return parse_input([&] { read(input_file(data, size, suffix)); });
}

}  // namespace cudl::fuzz
