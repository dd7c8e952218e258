// The captioning datasets by name, for `cudl captions` and `cudl train captioner`:
//   emoji        Noto Color Emoji renders named by emoji-test.txt (data/emoji.h)
//   scenes       Fashion-MNIST items on a grid, captioned by a grammar (data/scenes.h)
//   coco:DIR     CS231n's COCO files under DIR (data/coco.h)
#pragma once

#include <cstdint>
#include <string>

#include "data/caption.h"
#include "data/dataset.h"

namespace cudl::cli {

struct CaptionSourceOptions {
  std::uint64_t seed = 0;  // the emoji split seed, or the scenes' seed
  std::string fashion_mnist = kFashionMnistDir;  // scenes' items
  std::int64_t scenes = 20000;                   // training scenes; a tenth as many validation scenes
  bool black_background = false;                 // emoji
  bool rerender = false;                         // emoji: ignore the cache
};

struct CaptionSource {
  std::string kind;  // emoji | scenes | coco
  CaptionDataset train, val;
};

// Throws UsageError for an unknown name, cudl::Error when the data cannot be read.
// Prints one line about what was loaded.
CaptionSource load_caption_source(const std::string& spec, const CaptionSourceOptions& options);

}  // namespace cudl::cli
