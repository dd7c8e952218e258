// `cudl captions`: loads a captioning dataset, prints its counts and writes a
// grid of images with their captions, to look at the data before training on it.
#include <chrono>
#include <cstdio>

#include "tools/caption_sources.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "train/image_grid.h"

namespace cudl::cli {

int cmd_captions(const Args& args) {
  std::string grid_path, fashion_dir = kFashionMnistDir;
  std::int64_t count = 16, seed = 0;
  bool black = false, rerender = false, validation = false;
  FlagParser flags("cudl captions", "emoji|scenes|coco [COCO_DIR] [options]",
                   "Loads a captioning dataset (emoji renders on first use and is cached; coco reads CS231n's files "
                   "under COCO_DIR), prints its sizes and the load time, and writes a grid of images with captions.");
  flags.add("--grid", "PATH", "write the first images and their captions to this PNG", "none",
            [&](const std::string& v) { grid_path = v; });
  flags.add("--count", "N", "images in the grid", "16", [&](const std::string& v) { count = parse_int("--count", v, 1); });
  flags.add("--seed", "N", "split seed (emoji) or scene seed (scenes)", "0",
            [&](const std::string& v) { seed = parse_int("--seed", v, 0); });
  flags.add("--fashion-mnist", "DIR", "Fashion-MNIST folder for scenes", kFashionMnistDir,
            [&](const std::string& v) { fashion_dir = v; });
  flags.add_switch("--black", "emoji on black rather than white", &black);
  flags.add_switch("--rerender", "emoji: render again even when cached", &rerender);
  flags.add_switch("--val", "grid of validation rather than training images", &validation);
  std::string source, coco_dir;
  try {
    const std::vector<std::string> positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (positional.empty() || positional.size() > 2) throw UsageError("expected emoji, scenes or coco");
    source = parse_choice("source", positional[0], {"emoji", "scenes", "coco"});
    if ((source == "coco") != (positional.size() == 2))
      throw UsageError(source == "coco" ? "coco needs the folder of CS231n's COCO files" : "unexpected argument '" + positional[1] + "'");
    if (source == "coco") coco_dir = positional[1];
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cudl captions: error: %s (see cudl captions --help)\n", e.what());
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  CaptionSource data = load_caption_source(source == "coco" ? "coco:" + coco_dir : source,
                                           {.seed = static_cast<std::uint64_t>(seed),
                                            .fashion_mnist = fashion_dir,
                                            .black_background = black,
                                            .rerender = rerender});
  const CaptionDataset &train = data.train, &val = data.val;
  std::printf("loaded in %.2f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  if (!grid_path.empty()) {
    const CaptionDataset& shown = validation ? val : train;
    CUDL_CHECK(shown.images.dim() == 4, "cudl captions: ", source, " holds feature vectors, not images to draw");
    const std::int64_t n = std::min(count, shown.size());
    CaptionLoader loader(shown, {.batch_size = n, .shuffle = false});
    const CaptionBatch batch = *loader.next();
    std::vector<std::vector<std::string>> lines;
    const std::vector<std::int64_t> tokens = shown.captions.to_vector_i64();
    for (std::int64_t id : batch.caption_ids)
      lines.push_back({shown.vocab.decode(tokens.data() + id * shown.max_length(), shown.max_length())});
    write_captioned_grid(grid_path, batch.images, lines);
    std::printf("wrote %s\n", grid_path.c_str());
  }
  return 0;
}

}  // namespace cudl::cli
