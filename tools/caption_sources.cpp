#include "tools/caption_sources.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "data/coco.h"
#include "data/emoji.h"
#include "data/scenes.h"
#include "tools/flags.h"

namespace cudl::cli {

CaptionSource load_caption_source(const std::string& spec, const CaptionSourceOptions& options) {
  CaptionSource out;
  if (spec == "emoji") {
    const EmojiOptions emoji{.black_background = options.black_background};
    if (options.rerender) std::filesystem::remove(emoji_cache_path(emoji));
    const EmojiSet set = load_emoji_set(emoji);
    std::printf("emoji: %lld images, %zu groups, %zu subgroups, %lld without a glyph; cache %s\n",
                static_cast<long long>(set.size()), set.group_names.size(), set.subgroup_names.size(),
                static_cast<long long>(set.missing_glyphs), emoji_cache_path(emoji).c_str());
    CaptionSplits splits = emoji_caption_splits(set, {.split_seed = options.seed});
    out.train = std::move(splits.train), out.val = std::move(splits.val);
  } else if (spec == "scenes") {
    const DatasetSplits fashion = load_fashion_mnist(options.fashion_mnist);
    Scenes scenes = make_scenes(fashion.train, fashion.test,
                                 {.train_scenes = options.scenes,
                                  .val_scenes = std::max<std::int64_t>(1, options.scenes / 10),
                                  .seed = options.seed});
    std::printf("scenes: held-out pairs (validation only):");
    for (const auto& [a, b] : scenes.held_out) std::printf(" %s|%s", scene_nouns()[a].c_str(), scene_nouns()[b].c_str());
    std::printf("\n");
    out.train = std::move(scenes.train), out.val = std::move(scenes.val);
  } else if (spec.starts_with("coco:") && spec.size() > 5) {
    CocoData coco = load_coco(spec.substr(5));
    out.train = std::move(coco.train), out.val = std::move(coco.val);
  } else {
    throw UsageError("expected the data emoji, scenes or coco:DIR, got '" + spec + "'");
  }
  out.kind = spec.substr(0, spec.find(':'));
  std::printf("train: %lld captions of %lld images; val: %lld captions of %lld images; vocabulary %lld words "
              "(with the 4 specials); captions of %lld tokens; input %s\n",
              static_cast<long long>(out.train.size()), static_cast<long long>(out.train.num_images()),
              static_cast<long long>(out.val.size()), static_cast<long long>(out.val.num_images()),
              static_cast<long long>(out.train.vocab.size()), static_cast<long long>(out.train.max_length()),
              shape_str(out.train.image_shape()).c_str());
  return out;
}

}  // namespace cudl::cli
