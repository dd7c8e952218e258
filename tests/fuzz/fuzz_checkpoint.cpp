// libFuzzer harness: load_checkpoint (safetensors, its metadata JSON, the model
// config and the tensors' match with the rebuilt model) on arbitrary bytes.
#include "train/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return cudl::fuzz::read_input(data, size, ".safetensors", [](const std::string& path) { cudl::load_checkpoint(path); });
}
