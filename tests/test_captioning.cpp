// Captioning data: vocabulary and encoding, the caption loader, the emoji, scenes
// and COCO sources, and BLEU against NLTK's values (tests/bleu_reference.py).

#include <filesystem>

#include "data/caption.h"
#include "tests/test_util.h"

using namespace cudl;
using test::error_of;

// ---- vocabulary ----
TEST(Vocabulary, EncodesWithStartEndAndNullPadding) {
  const Vocabulary vocab = Vocabulary::from_captions({"a cat", "a dog", "a cat sits"});
  // Specials first, then by frequency (a: 3, cat: 2), ties alphabetical (dog, sits).
  EXPECT_EQ(vocab.words(), (std::vector<std::string>{"<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "sits"}));
  EXPECT_EQ(vocab.encode("A cat, sits!", 7), (std::vector<std::int64_t>{1, 4, 5, 7, 2, 0, 0}));
  EXPECT_EQ(vocab.encode("a zebra", 4), (std::vector<std::int64_t>{1, 4, kUnknownToken, 2}));
  EXPECT_EQ(vocab.decode({1, 4, 5, 7, 2, 6, 0}), "a cat sits");  // stops at <END>
  EXPECT_NE(error_of([&] { vocab.encode("a cat sits", 4); }).find("more than max_length 4"), std::string::npos);
}

TEST(Vocabulary, JsonRoundTripAndBadFiles) {
  const Vocabulary vocab = Vocabulary::from_captions({"two dogs play"});
  EXPECT_EQ(Vocabulary::parse_json(vocab.to_json()).words(), vocab.words());
  EXPECT_NE(error_of([] { Vocabulary::parse_json("{", "v.json"); }).find("v.json: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of([] { Vocabulary::parse_json(R"({"idx_to_word": ["a", "b"]})", "v.json"); }).find("<NULL> <START>"),
            std::string::npos);
  const std::string disagree =
      R"({"idx_to_word": ["<NULL>", "<START>", "<END>", "<UNK>", "a"],
          "word_to_idx": {"<NULL>": 0, "<START>": 1, "<END>": 2, "<UNK>": 3, "a": 7}})";
  EXPECT_NE(error_of([&] { Vocabulary::parse_json(disagree, "v.json"); }).find("word_to_idx[\"a\"]"), std::string::npos);
}

// ---- the loader ----
namespace {
CaptionDataset tiny_dataset() {
  CaptionDataset d;
  d.vocab = Vocabulary::from_captions({"a red ball", "a blue box"});
  d.images = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {3, 2});  // three feature vectors
  d.captions = encode_captions(d.vocab, {"a red ball", "a blue box", "a box", "red ball"}, 6);
  d.image_index = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 1, 2}, {4});
  return d;
}
}  // namespace

TEST(CaptionLoader, BatchesShiftCaptionsAndMaskPadding) {
  const CaptionDataset d = tiny_dataset();
  CaptionLoader loader(d, {.batch_size = 3, .shuffle = false});
  const auto batch = loader.next();
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->images.to_vector(), (std::vector<float>{0, 1, 2, 3, 2, 3}));
  // Caption 2 "a box": <START> a box <END> <NULL> <NULL>.
  const std::int64_t a = d.vocab.id("a"), box = d.vocab.id("box");
  const auto in = batch->captions_in.to_vector_i64(), out = batch->captions_out.to_vector_i64();
  EXPECT_EQ(std::vector<std::int64_t>(in.begin() + 10, in.end()), (std::vector<std::int64_t>{1, a, box, 2, 0}));
  EXPECT_EQ(std::vector<std::int64_t>(out.begin() + 10, out.end()), (std::vector<std::int64_t>{a, box, 2, 0, 0}));
  const auto mask = batch->mask.to_vector();
  EXPECT_EQ(std::vector<float>(mask.begin() + 10, mask.end()), (std::vector<float>{1, 1, 1, 0, 0}));
  ASSERT_TRUE(loader.next());     // the short last batch
  EXPECT_FALSE(loader.next());    // end of epoch 0
  EXPECT_EQ(loader.epoch(), 1);
}

TEST(CaptionLoader, ShuffleIsAPermutationFixedBySeedAndEpoch) {
  const CaptionDataset d = tiny_dataset();
  CaptionLoader a(d, {.batch_size = 4, .seed = 5}), b(d, {.batch_size = 4, .seed = 5});
  EXPECT_EQ(a.epoch_order(3), b.epoch_order(3));
  auto order = a.epoch_order(0);
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(a.next()->caption_ids, a.epoch_order(0));
}

TEST(CaptionDataset, ValidateNamesTheProblem) {
  CaptionDataset d = tiny_dataset();
  d.image_index = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 3, 2}, {4});
  EXPECT_NE(error_of([&] { d.validate("tiny"); }).find("tiny: caption 2 describes image 3, outside the 3 images"),
            std::string::npos);
  EXPECT_NE(error_of([] { check_caption_image(Tensor::zeros({1, 32, 32}), {3, 32, 32}, "caption"); }).find("[3,32,32]"),
            std::string::npos);
  EXPECT_NO_THROW(check_caption_image(Tensor::zeros({1, 3, 32, 32}), {3, 32, 32}, "caption"));
  EXPECT_EQ(tiny_dataset().references()[1], (std::vector<std::string>{"a blue box", "a box"}));
}

