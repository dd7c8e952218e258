// libFuzzer harness: Vocabulary::parse_json on arbitrary text.
#include <string_view>

#include "data/caption.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  return cudl::fuzz::parse_input([&] { cudl::Vocabulary::parse_json(text, "coco2014_vocab.json"); });
}
