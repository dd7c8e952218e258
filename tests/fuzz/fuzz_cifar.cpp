// libFuzzer harness: load_cifar10_batches on arbitrary bytes (one batch file).
#include "data/dataset.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return cudl::fuzz::read_input(data, size, ".bin", [](const std::string& path) { cudl::load_cifar10_batches({path}); });
}
