// Captioning data: vocabulary and encoding, the caption loader, the emoji, scenes
// and COCO sources, and BLEU against NLTK's values (tests/bleu_reference.py).
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "data/caption.h"
#include "data/coco.h"
#include "data/emoji.h"
#include "data/scenes.h"
#include "tests/test_util.h"
#include "train/bleu.h"

using namespace cudl;
using test::error_of;
namespace fs = std::filesystem;

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
  // Resuming mid-epoch hands out what the uninterrupted loader would.
  CaptionLoader c(d, {.batch_size = 3, .seed = 5}), resumed(d, {.batch_size = 3, .seed = 5});
  while (c.next()) {
  }
  c.next();  // epoch 1, first batch
  resumed.set_state(c.state());
  EXPECT_EQ(resumed.next()->caption_ids, c.next()->caption_ids);
  EXPECT_EQ(resumed.state().epoch, 1);
}

TEST(CaptionLoader, CudaBatchesMatchCpuBatches) {
  CUDL_REQUIRE_CUDA();
  const CaptionDataset d = tiny_dataset();
  CaptionLoader cpu(d, {.batch_size = 3, .seed = 2}), gpu(d, {.batch_size = 3, .seed = 2, .device = Device::cuda(0)});
  const auto a = cpu.next(), b = gpu.next();
  ASSERT_TRUE(b->images.is_cuda() && b->captions_in.is_cuda() && b->mask.is_cuda());
  EXPECT_EQ(a->images.to_vector(), b->images.to_vector());
  EXPECT_EQ(a->captions_out.to_vector_i64(), b->captions_out.to_vector_i64());
  EXPECT_EQ(a->mask.to_vector(), b->mask.to_vector());
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

// ---- emoji ----
namespace {
constexpr const char* kEmojiTestExcerpt =
    "# group: Smileys & Emotion\n"
    "# subgroup: face-hat\n"
    "1F920                                      ; fully-qualified     # 🤠 E3.0 cowboy hat face\n"
    "263A FE0F                                  ; fully-qualified     # ☺️ E0.6 smiling face\n"
    "263A                                       ; unqualified         # ☺ E0.6 smiling face\n"
    "1F469 200D 1F9B0                           ; fully-qualified     # 👩‍🦰 E11.0 woman: red hair\n"
    "# group: Symbols\n"
    "# subgroup: av-symbol\n"
    "1F201                                      ; fully-qualified     # 🈁 E0.6 Japanese “here” button\n";

class Emoji : public test::ScratchDirTest {};
}  // namespace

TEST(EmojiTest, ParsesSingleCodePointFullyQualifiedEntries) {
  const auto entries = parse_emoji_test(kEmojiTestExcerpt);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].code_point, U'\U0001F920');
  EXPECT_EQ(entries[0].name, "cowboy hat face");
  EXPECT_EQ(entries[0].subgroup, "face-hat");
  EXPECT_EQ(entries[1].code_point, U'\u263A');
  EXPECT_EQ(entries[2].group, "Symbols");
  EXPECT_EQ(emoji_caption(entries[2].name), "japanese here button");
  EXPECT_EQ(emoji_caption("twelve o\u2019clock"), "twelve o'clock");
  EXPECT_NE(error_of([] { parse_emoji_test("# group: g\nXYZ ; fully-qualified # x E1.0 y\n", "t.txt"); }).find("t.txt:2"),
            std::string::npos);
}

TEST_F(Emoji, RendersCachesAndSplits) {
  if (!fs::exists(kEmojiFontPath)) GTEST_SKIP() << kEmojiFontPath << " missing: run scripts/setup.sh";
  const std::string test_file = path("emoji-test.txt");
  std::ofstream(test_file) << kEmojiTestExcerpt;
  const EmojiOptions options{.emoji_test = test_file, .cache_dir = dir_.string()};
  const EmojiSet set = load_emoji_set(options);
  ASSERT_EQ(set.size(), 3);
  EXPECT_EQ(set.images.shape(), (Shape{3, 32, 32, 3}));
  EXPECT_EQ(set.group.to_vector_i64(), (std::vector<std::int64_t>{0, 0, 1}));
  EXPECT_EQ(set.group_names, (std::vector<std::string>{"Smileys & Emotion", "Symbols"}));
  // White corners around the cowboy face, colour in the middle.
  const std::uint8_t* px = set.images.data<std::uint8_t>();
  EXPECT_EQ(px[0], 255);
  EXPECT_EQ(px[(31 * 32 + 31) * 3 + 2], 255);
  const std::uint8_t* centre = px + (16 * 32 + 16) * 3;
  EXPECT_LT(std::min({centre[0], centre[1], centre[2]}), 200);
  // The second load reads the cache, byte for byte the same.
  ASSERT_TRUE(fs::exists(emoji_cache_path(options)));
  const EmojiSet cached = load_emoji_set(options);
  EXPECT_EQ(cached.entries[2].name, set.entries[2].name);
  EXPECT_EQ(test::relative_error(cached.images_nchw(), set.images_nchw()), 0.0);
  // A black background: the corners are black.
  EmojiOptions black = options;
  black.black_background = true;
  EXPECT_EQ(load_emoji_set(black).images.data<std::uint8_t>()[0], 0);
  // A changed emoji-test.txt (another size) makes the cache stale: rendered again.
  std::ofstream(test_file, std::ios::app) << "1F600 ; fully-qualified # 😀 E1.0 grinning face\n";
  EXPECT_EQ(load_emoji_set(options).size(), 4);

  const CaptionSplits splits = emoji_caption_splits(set, {.val_fraction = 0.5});
  EXPECT_EQ(splits.train.size() + splits.val.size(), 3);
  for (std::int64_t row : splits.val_rows) EXPECT_TRUE(is_validation_emoji(set.entries[row].code_point, 0, 0.5));
  EXPECT_EQ(splits.train.images.shape(), (Shape{splits.train.size(), 3, 32, 32}));
}

TEST(EmojiSplit, AboutTheAskedFractionAndFixedBySeed) {
  int val = 0;
  for (char32_t cp = 0x1F300; cp < 0x1F300 + 2000; ++cp) val += is_validation_emoji(cp, 7, 0.1);
  EXPECT_GT(val, 150);
  EXPECT_LT(val, 250);
  EXPECT_EQ(is_validation_emoji(U'\U0001F920', 7, 0.1), is_validation_emoji(U'\U0001F920', 7, 0.1));
}

// ---- scenes ----
namespace {
// Ten classes, two 4 x 4 images each, image value = class + 1 (so cells can be told apart).
Dataset toy_items() {
  Dataset d;
  std::vector<float> pixels;
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 20; ++i) {
    labels.push_back(i % 10);
    for (int p = 0; p < 16; ++p) pixels.push_back(static_cast<float>(i % 10 + 1));
  }
  d.images = Tensor::from_vector(pixels, {20, 1, 4, 4});
  d.labels = Tensor::from_vector(labels, {20});
  d.class_names = fashion_mnist_classes();
  return d;
}
}  // namespace

TEST(Scenes, CaptionGrammar) {
  EXPECT_EQ(scene_caption({8, 7, 4, -1}), "a bag left of a sneaker above a coat on the left");
  EXPECT_EQ(scene_caption({-1, 3, -1, -1}), "a dress on the right at the top");
  EXPECT_EQ(scene_caption({-1, -1, 0, 9}), "a t-shirt left of a boot at the bottom");
  EXPECT_NE(error_of([] { scene_caption({-1, -1, -1, -1}); }).find("no item"), std::string::npos);
}

TEST(Scenes, HeldOutPairsOnlyInValidation) {
  const Dataset items = toy_items();
  const Scenes s = make_scenes(items, items, {.train_scenes = 300, .val_scenes = 50, .seed = 3});
  const std::set<std::pair<int, int>> held(s.held_out.begin(), s.held_out.end());
  ASSERT_EQ(held.size(), 10u);
  auto pairs_of = [&](const SceneLayout& l) {
    int n = 0;
    for (int row : {0, 2}) n += l[row] >= 0 && l[row + 1] >= 0 && held.count({l[row], l[row + 1]});
    return n;
  };
  for (const auto& l : s.train_layouts) EXPECT_EQ(pairs_of(l), 0);
  for (const auto& l : s.val_layouts) EXPECT_GE(pairs_of(l), 1);
  EXPECT_EQ(s.train.images.shape(), (Shape{300, 1, 8, 8}));
  // Each occupied cell shows its class's image; empty cells are 0.
  const auto& first = s.train_layouts[0];
  const float* img = s.train.images.data<float>();
  for (int cell = 0; cell < 4; ++cell)
    EXPECT_EQ(img[(cell / 2) * 4 * 8 + (cell % 2) * 4], static_cast<float>(first[cell] + 1)) << cell;
  EXPECT_EQ(s.train.vocab.decode(s.train.captions.to_vector_i64()), scene_caption(first));
  s.val.validate("scenes val");
  // Same seed, same scenes.
  const Scenes again = make_scenes(items, items, {.train_scenes = 300, .val_scenes = 50, .seed = 3});
  EXPECT_EQ(again.train_layouts, s.train_layouts);
  EXPECT_EQ(test::relative_error(again.val.images, s.val.images), 0.0);
}

// ---- COCO (CS231n's HDF5 layout, written here with the HDF5 C API) ----
namespace {
class Coco : public test::ScratchDirTest {
 protected:
  template <typename T>
  void write_dataset(hid_t file, const char* name, hid_t type, const std::vector<hsize_t>& dims, const std::vector<T>& values) {
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(set, 0);
    ASSERT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Dclose(set);
    H5Sclose(space);
  }
  // Two images, three captions of length 5 each split; `bad_idx` puts one index out of range.
  void write_files(bool bad_idx = false, bool float_captions = false) {
    const hid_t f = H5Fcreate(path("coco2014_captions.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    for (const char* split : {"train", "val"}) {
      const std::string captions = std::string(split) + "_captions", idxs = std::string(split) + "_image_idxs";
      if (float_captions)
        write_dataset<float>(f, captions.c_str(), H5T_NATIVE_FLOAT, {3, 5}, std::vector<float>(15, 1.0f));
      else
        write_dataset<std::int32_t>(f, captions.c_str(), H5T_NATIVE_INT32, {3, 5}, {1, 4, 5, 2, 0, 1, 5, 2, 0, 0, 1, 4, 4, 5, 2});
      write_dataset<std::int32_t>(f, idxs.c_str(), H5T_NATIVE_INT32, {3}, {0, 1, bad_idx ? 2 : 1});
    }
    H5Fclose(f);
    for (const char* name : {"train2014_vgg16_fc7_pca.h5", "val2014_vgg16_fc7_pca.h5"}) {
      const hid_t g = H5Fcreate(path(name).c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
      write_dataset<float>(g, "features", H5T_NATIVE_FLOAT, {2, 3}, {0.5f, 1, 2, 3, 4, 5});
      H5Fclose(g);
    }
    write_vocabulary_json(path("coco2014_vocab.json"), Vocabulary::from_captions({"a a man", "man"}));
  }
};
}  // namespace

TEST_F(Coco, ReadsCaptionsFeaturesAndVocabulary) {
  write_files();
  const CocoData coco = load_coco(dir_.string());
  EXPECT_EQ(coco.train.captions.shape(), (Shape{3, 5}));
  EXPECT_EQ(coco.train.images.to_vector(), (std::vector<float>{0.5f, 1, 2, 3, 4, 5}));
  EXPECT_EQ(coco.val.image_index.to_vector_i64(), (std::vector<std::int64_t>{0, 1, 1}));
  EXPECT_EQ(coco.train.vocab.decode({1, 4, 5, 2, 0}), "a man");
  EXPECT_EQ(coco.train.references()[1], (std::vector<std::string>{"man", "a a man"}));
  // The same file from memory, as a fuzzer feeds it.
  const std::vector<std::uint8_t> bytes = [&] {
    std::ifstream in(path("coco2014_captions.h5"), std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
  }();
  const Hdf5File memory = Hdf5File::from_bytes(bytes.data(), bytes.size(), "memory.h5");
  EXPECT_EQ(memory.read_integers("val_image_idxs", 1).to_vector_i64(), (std::vector<std::int64_t>{0, 1, 1}));
}

TEST_F(Coco, BadFilesNameTheFileAndDataset) {
  write_files(/*bad_idx=*/true);
  std::string message = error_of([&] { load_coco(dir_.string()); });
  EXPECT_NE(message.find("coco2014_captions.h5: train_image_idxs[2] = 2 is outside the 2 feature rows"), std::string::npos)
      << message;
  {
    const Hdf5File captions = Hdf5File::open(path("coco2014_captions.h5"));
    message = error_of([&] { captions.read_integers("test_captions", 2); });
    EXPECT_NE(message.find("coco2014_captions.h5: no dataset 'test_captions'"), std::string::npos) << message;
    message = error_of([&] { captions.read_integers("train_captions", 1); });
    EXPECT_NE(message.find("'train_captions' should have 1 dimensions, it has 2"), std::string::npos) << message;
  }  // closed: HDF5 cannot truncate an open file
  write_files(false, /*float_captions=*/true);
  message = error_of([&] { load_coco(dir_.string()); });
  EXPECT_NE(message.find("'train_captions' should hold integers"), std::string::npos) << message;
  const std::vector<std::uint8_t> junk(64, 7);
  EXPECT_NE(error_of([&] { Hdf5File::from_bytes(junk.data(), junk.size(), "junk.h5"); }).find("junk.h5: not an HDF5 file"),
            std::string::npos);
  write_files();
  fs::remove(path("val2014_vgg16_fc7_pca.h5"));
  EXPECT_NE(error_of([&] { load_coco(dir_.string()); }).find("val2014_vgg16_fc7_pca.h5 not found"), std::string::npos);
}

// ---- BLEU against NLTK 3.10.4 corpus_bleu (tests/bleu_reference.py) ----
namespace {
void expect_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                 const std::array<double, 4>& nltk) {
  const BleuScore score = corpus_bleu(hyps, refs);
  for (int n = 0; n < 4; ++n) EXPECT_NEAR(score.bleu[n], nltk[n], 1e-12) << "BLEU-" << n + 1;
}
}  // namespace

TEST(Bleu, MatchesNltkCorpusBleu) {
  expect_bleu({"a man riding a horse on a beach", "a plate of food with broccoli", "two dogs play in the snow"},
              {{"a man rides a horse along the beach", "a person riding a horse on the sand"},
               {"a plate with broccoli and rice", "a white plate of food with broccoli on it"},
               {"two dogs playing in the snow", "dogs play together in deep snow"}},
              {0.95, 0.852332439975913, 0.677766996023486, 0.539811901114374});
  // Brevity penalty, and no 3-gram match: NLTK's 1.2e-103 and 7.2e-155 are cudl's 0.
  expect_bleu({"a cat", "the red bus on the street"}, {{"a cat sitting on a mat", "a small cat"}, {"a red bus driving down the city street"}},
              {0.515466959093229, 0.343644639395486, 0.0, 0.0});
  expect_bleu({"the the the the the the the", "grinning face with big eyes"},
              {{"the cat is on the mat", "there is a cat on the mat"}, {"grinning face with big eyes"}},
              {0.583333333333333, 0.483045891539648, 0.4439520008713, 0.41325840918969});
}

TEST(Bleu, PerfectMatchAndBadInput) {
  const BleuScore s = corpus_bleu(std::vector<std::string>{"a b c d e"}, {{"a b c d e"}});
  EXPECT_DOUBLE_EQ(s.bleu[3], 1.0);
  EXPECT_DOUBLE_EQ(s.brevity_penalty, 1.0);
  EXPECT_NE(error_of([] { corpus_bleu(std::vector<std::string>{"a"}, {}); }).find("1 hypotheses but 0"), std::string::npos);
}
