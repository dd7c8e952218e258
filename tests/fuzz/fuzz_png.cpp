// libFuzzer harness: decode_png on arbitrary bytes, to RGB on white and to grey
// on black (the two conversions libpng's simplified API is asked for).
#include "tests/fuzz/fuzz_input.h"
#include "train/png.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cudl::fuzz::parse_input([&] { cudl::decode_png(data, size, 3, "fuzz.png"); });
  return cudl::fuzz::parse_input([&] { cudl::decode_png(data, size, 1, "fuzz.png", /*black_background=*/true); });
}
