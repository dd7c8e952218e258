// Shared by the libFuzzer harnesses: cudl's readers take a path (the code users
// run), so each input is written to one scratch file per process and read back.
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

// Runs `read` on the input: a cudl::Error is the expected answer to a malformed
// file; anything else (a crash, a sanitizer report, another exception, a leak)
// is a finding.
template <typename Read>
int read_input(const std::uint8_t* data, std::size_t size, const char* suffix, Read read) {
  try {
    read(input_file(data, size, suffix));
  } catch (const cudl::Error&) {
  }
  return 0;
}

}  // namespace cudl::fuzz
