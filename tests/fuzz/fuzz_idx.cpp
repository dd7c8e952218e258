// libFuzzer harness: read_idx on arbitrary bytes.
#include "core/formats/idx.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return cudl::fuzz::read_input(data, size, "-idx3-ubyte", [](const std::string& path) { cudl::read_idx(path); });
}
