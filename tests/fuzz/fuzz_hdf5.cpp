// libFuzzer harness: Hdf5File::from_bytes on arbitrary bytes, then the datasets
// the COCO loader reads (names and ranks of data/coco.h, as in the seeds), each
// on its own so that one rejected dataset does not hide the others.
#include "data/coco.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return cudl::fuzz::parse_input([&] {
    const cudl::Hdf5File file = cudl::Hdf5File::from_bytes(data, size, "fuzz.h5");
    cudl::fuzz::parse_input([&] { file.read_integers("train_captions", 2); });
    cudl::fuzz::parse_input([&] { file.read_integers("train_image_idxs", 1); });
    cudl::fuzz::parse_input([&] { file.read_floats("features", 2); });
  });
}
