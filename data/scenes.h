// Scenes: two to four Fashion-MNIST items on a 2 x 2 grid of their cells (28 x 28
// items -> 56 x 56 grey), captioned by a small grammar, generated from a seed.
//
// Grammar (a row is occupied when one of its two cells holds an item):
//   caption  := row "above" row              both rows occupied, top row first
//             | row "at the top" | row "at the bottom"
//   row      := "a" NOUN "left of a" NOUN    both cells of the row
//             | "a" NOUN "on the left" | "a" NOUN "on the right"
//   NOUN     := t-shirt trouser pullover dress coat sandal shirt sneaker bag boot
//               (Fashion-MNIST's classes 0..9)
// e.g. "a bag left of a sneaker above a coat on the right" (at most 11 words).
//
// Generalisation: `held_out_pairs` ordered class pairs (A left of B in one row) are
// drawn from the seed. No training scene contains one; every validation scene
// contains at least one, so validation BLEU scores word combinations the model
// never saw. Training scenes take items from `train_items`, validation scenes from
// `val_items` (Fashion-MNIST's train and test sets), so no item image is shared.
//
// Randomness: scene i of split s (0 train, 1 val) reads Philox words from blocks
// (s << 48) + (i << 16) on under `seed`: same seed, same scenes, in any order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/caption.h"
#include "data/dataset.h"

namespace cudl {

// "t-shirt", "trouser", ... per Fashion-MNIST class ("t-shirt" rather than
// "top", which already names a row).
const std::vector<std::string>& scene_nouns();

// Grid cells in reading order: 0 top left, 1 top right, 2 bottom left, 3 bottom right.
using SceneLayout = std::array<int, 4>;  // the class in each cell, or -1 when empty

// The caption of a layout with 1 to 4 items, by the grammar above.
std::string scene_caption(const SceneLayout& layout);

struct SceneOptions {
  std::int64_t train_scenes = 20000;
  std::int64_t val_scenes = 2000;
  std::uint64_t seed = 0;
  int held_out_pairs = 10;       // of the 100 ordered class pairs
  std::int64_t max_length = 16;  // tokens; the longest caption needs 13
};

struct Scenes {
  CaptionDataset train, val;  // images [N, 1, 2H, 2W], one caption per image; vocabulary from train
  std::vector<SceneLayout> train_layouts, val_layouts;
  std::vector<std::pair<int, int>> held_out;  // (left class, right class)
};

// `train_items` and `val_items`: one-channel images [N, 1, H, W] with ten classes,
// each class present in both.
Scenes make_scenes(const Dataset& train_items, const Dataset& val_items, const SceneOptions& options = {});

}  // namespace cudl
