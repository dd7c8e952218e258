// libFuzzer harness: read_safetensors on arbitrary bytes.
#include "core/formats/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return cudl::fuzz::read_input(data, size, ".safetensors", [](const std::string& path) { cudl::read_safetensors(path); });
}
