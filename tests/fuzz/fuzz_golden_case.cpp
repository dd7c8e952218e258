// libFuzzer harness: read_golden_case (the file, its op, tol and attributes, the
// split into inputs and expected results) on arbitrary bytes. Running the op is
// left out: that is the op tests' job, and a fuzzed shape would only measure memory.
#include "tests/fuzz/fuzz_input.h"
#include "tools/golden_case.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return cudl::fuzz::read_input(data, size, ".safetensors",
                                [](const std::string& path) { cudl::cli::read_golden_case(path); });
}
