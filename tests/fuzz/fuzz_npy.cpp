// libFuzzer harness: read_npy on arbitrary bytes.
#include "core/formats/npy.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return cudl::fuzz::read_input(data, size, ".npy", [](const std::string& path) { cudl::read_npy(path); });
}
