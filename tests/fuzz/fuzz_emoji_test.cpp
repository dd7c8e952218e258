// libFuzzer harness: parse_emoji_test on arbitrary text.
#include <string_view>

#include "data/emoji.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  return cudl::fuzz::parse_input([&] { cudl::parse_emoji_test(text, "emoji-test.txt"); });
}
