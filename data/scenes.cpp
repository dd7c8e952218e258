#include "data/scenes.h"

#include <algorithm>
#include <set>

#include "core/check.h"
#include "core/rng.h"
#include "data/permutation.h"

namespace cudl {

namespace {

// Philox words one after another from a scene's own block range.
class WordStream {
 public:
  WordStream(std::uint64_t seed, std::uint64_t first_block) : seed_(seed), block_(first_block) {}
  std::uint32_t below(std::uint32_t bound) {
    if (lane_ == 4) words_ = philox4x32_10(seed_, block_++), lane_ = 0;
    return bounded(words_.w[lane_++], bound);
  }

 private:
  std::uint64_t seed_, block_;
  PhiloxWords words_{};
  int lane_ = 4;
};

std::string row_phrase(int left, int right) {
  const auto& nouns = scene_nouns();
  if (left >= 0 && right >= 0) return "a " + nouns[left] + " left of a " + nouns[right];
  return left >= 0 ? "a " + nouns[left] + " on the left" : "a " + nouns[right] + " on the right";
}

bool has_pair(const SceneLayout& l, const std::set<std::pair<int, int>>& pairs) {
  return (l[0] >= 0 && l[1] >= 0 && pairs.count({l[0], l[1]})) || (l[2] >= 0 && l[3] >= 0 && pairs.count({l[2], l[3]}));
}

// A random layout of 2 to 4 items; validation layouts get a held-out pair in a random row first.
SceneLayout draw_layout(WordStream& words, const std::vector<std::pair<int, int>>& held_out, bool validation) {
  SceneLayout layout{-1, -1, -1, -1};
  const int items = 2 + static_cast<int>(words.below(3));
  int placed = 0;
  if (validation) {
    const auto [a, b] = held_out[words.below(static_cast<std::uint32_t>(held_out.size()))];
    const int row = static_cast<int>(words.below(2));
    layout[2 * row] = a, layout[2 * row + 1] = b, placed = 2;
  }
  std::vector<int> empty;
  for (int c = 0; c < 4; ++c)
    if (layout[c] < 0) empty.push_back(c);
  for (; placed < items; ++placed) {
    const std::size_t k = words.below(static_cast<std::uint32_t>(empty.size()));
    layout[empty[k]] = static_cast<int>(words.below(10));
    empty.erase(empty.begin() + static_cast<std::ptrdiff_t>(k));
  }
  return layout;
}

// Per class, the rows of `items` that hold it.
std::vector<std::vector<std::int64_t>> rows_by_class(const Dataset& items, const char* which) {
  check_ndim("make_scenes", which, items.images, 4);
  CUDL_CHECK(items.channels() == 1 && items.num_classes() == 10, "make_scenes: expected ", which,
             " to be one-channel images of ten classes (Fashion-MNIST), got ", items.images.str(), " with ",
             items.num_classes(), " classes");
  std::vector<std::vector<std::int64_t>> rows(10);
  const std::int64_t* labels = items.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < items.size(); ++i) rows[static_cast<std::size_t>(labels[i])].push_back(i);
  for (int c = 0; c < 10; ++c)
    CUDL_CHECK(!rows[c].empty(), "make_scenes: ", which, " holds no image of class ", c, " (", scene_nouns()[c], ")");
  return rows;
}

// Draws `count` scenes: layouts, captions and images [count, 1, 2H, 2W].
void draw_split(const Dataset& items, std::int64_t count, int split, const SceneOptions& options,
                const std::vector<std::pair<int, int>>& held_out, std::vector<SceneLayout>& layouts,
                std::vector<std::string>& captions, Tensor& images) {
  const auto pools = rows_by_class(items, split == 0 ? "train_items" : "val_items");
  const std::set<std::pair<int, int>> held(held_out.begin(), held_out.end());
  const std::int64_t h = items.height(), w = items.width();
  images = Tensor::zeros({count, 1, 2 * h, 2 * w});
  float* dst = images.data<float>();
  const float* src = items.images.data<float>();
  for (std::int64_t i = 0; i < count; ++i) {
    WordStream words(options.seed, (static_cast<std::uint64_t>(split) << 48) + (static_cast<std::uint64_t>(i) << 16));
    SceneLayout layout;
    do layout = draw_layout(words, held_out, split == 1);
    while (split == 0 && has_pair(layout, held));  // training never shows a held-out pair
    for (int cell = 0; cell < 4; ++cell) {
      if (layout[cell] < 0) continue;
      const auto& pool = pools[static_cast<std::size_t>(layout[cell])];
      const std::int64_t item = pool[words.below(static_cast<std::uint32_t>(pool.size()))];
      const std::int64_t y0 = (cell / 2) * h, x0 = (cell % 2) * w;
      for (std::int64_t y = 0; y < h; ++y)
        std::copy_n(src + (item * h + y) * w, w, dst + (i * 2 * h + y0 + y) * 2 * w + x0);
    }
    layouts.push_back(layout);
    captions.push_back(scene_caption(layout));
  }
}

Tensor iota(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return Tensor::from_vector(v, {n});
}

}  // namespace

const std::vector<std::string>& scene_nouns() {
  static const std::vector<std::string> nouns{"t-shirt", "trouser", "pullover", "dress", "coat",
                                              "sandal",  "shirt",   "sneaker",  "bag",   "boot"};
  return nouns;
}

std::string scene_caption(const SceneLayout& layout) {
  for (int c : layout)
    CUDL_CHECK(c >= -1 && c < 10, "scene_caption: expected classes in [0, 10) or -1 for an empty cell, got ", c);
  const bool top = layout[0] >= 0 || layout[1] >= 0, bottom = layout[2] >= 0 || layout[3] >= 0;
  CUDL_CHECK(top || bottom, "scene_caption: the layout holds no item");
  if (top && bottom) return row_phrase(layout[0], layout[1]) + " above " + row_phrase(layout[2], layout[3]);
  return top ? row_phrase(layout[0], layout[1]) + " at the top" : row_phrase(layout[2], layout[3]) + " at the bottom";
}

Scenes make_scenes(const Dataset& train_items, const Dataset& val_items, const SceneOptions& options) {
  CUDL_CHECK(options.held_out_pairs >= 1 && options.held_out_pairs < 100, "make_scenes: expected 1 to 99 held-out pairs, got ",
             options.held_out_pairs);
  CUDL_CHECK(options.train_scenes >= 0 && options.val_scenes >= 0 && options.train_scenes < (1ll << 32) &&
                 options.val_scenes < (1ll << 32),
             "make_scenes: expected scene counts in [0, 2^32), got ", options.train_scenes, " and ", options.val_scenes);
  CUDL_CHECK(train_items.height() == val_items.height() && train_items.width() == val_items.width(),
             "make_scenes: train and validation items differ in size: ", train_items.images.str(), " and ",
             val_items.images.str());
  Scenes scenes;
  // The held-out pairs: the first of a permutation of the 100 ordered pairs (a, b) = (k / 10, k % 10).
  const std::vector<std::int64_t> pairs = philox_permutation(100, options.seed, 3ull << 48);
  for (int k = 0; k < options.held_out_pairs; ++k)
    scenes.held_out.emplace_back(static_cast<int>(pairs[k] / 10), static_cast<int>(pairs[k] % 10));
  std::vector<std::string> train_captions, val_captions;
  draw_split(train_items, options.train_scenes, 0, options, scenes.held_out, scenes.train_layouts, train_captions,
             scenes.train.images);
  draw_split(val_items, options.val_scenes, 1, options, scenes.held_out, scenes.val_layouts, val_captions,
             scenes.val.images);
  const Vocabulary vocab = Vocabulary::from_captions(train_captions);
  scenes.train.captions = encode_captions(vocab, train_captions, options.max_length);
  scenes.val.captions = encode_captions(vocab, val_captions, options.max_length);
  scenes.train.image_index = iota(options.train_scenes);
  scenes.val.image_index = iota(options.val_scenes);
  scenes.train.vocab = vocab;
  scenes.val.vocab = vocab;
  return scenes;
}

}  // namespace cudl
