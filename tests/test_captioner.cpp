// The CaptioningTransformer and its training: torch.nn names, CS231n's overfit
// check, greedy and beam decoding, bit-exact resume, checkpoints and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "core/formats/safetensors.h"
#include "core/random.h"
#include "models/captioner.h"
#include "tests/test_util.h"
#include "train/captioning.h"
#include "train/checkpoint.h"

using namespace cudl;

namespace {

// `images` random feature vectors [images, 16] (CS231n's overfit check uses
// precomputed features), each with one caption of 3..8 words out of 20.
CaptionDataset random_caption_data(std::int64_t images, std::uint64_t seed, std::int64_t max_length = 10) {
  Generator gen(seed);
  CaptionDataset d;
  d.images = Tensor::empty({images, 16});
  fill_normal(d.images, gen, 0.0f, 1.0f);
  std::vector<std::string> words;
  for (int w = 0; w < 20; ++w) words.push_back("w" + std::to_string(w));
  std::vector<std::string> captions;
  const std::vector<float> draws = [&] {
    Tensor u = Tensor::empty({images * 9});
    fill_uniform(u, gen, 0.0f, 1.0f);
    return u.to_vector();
  }();
  for (std::int64_t i = 0; i < images; ++i) {
    const int length = 3 + static_cast<int>(draws[static_cast<std::size_t>(i * 9)] * 6);
    std::string caption;
    for (int k = 0; k < length; ++k)
      caption += (k ? " " : "") + words[static_cast<std::size_t>(draws[static_cast<std::size_t>(i * 9 + 1 + k)] * 20)];
    captions.push_back(caption);
  }
  d.vocab = Vocabulary::from_captions(captions);
  d.captions = encode_captions(d.vocab, captions, max_length);
  std::vector<std::int64_t> index(static_cast<std::size_t>(images));
  for (std::int64_t i = 0; i < images; ++i) index[static_cast<std::size_t>(i)] = i;
  d.image_index = Tensor::from_vector(index, {images});
  return d;
}

CaptionerConfig small_config() {
  CaptionerConfig c;
  c.wordvec_dim = 64;
  c.num_heads = 2;
  c.num_layers = 2;
  c.feedforward = 128;
  c.max_length = 0;  // the data's
  return c;
}

class CaptionerFiles : public test::ScratchDirTest {};

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor x = a.to(Device::cpu()), y = b.to(Device::cpu());
  return std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

}  // namespace

TEST(Captioner, ParameterNamesAreTheTorchNnModules) {
  CaptionerConfig c = small_config();
  c.vocab_size = 30;
  c.input_shape = {3, 8, 8};
  c.encoder_channels = {4, 8};
  c.max_length = 12;
  CaptioningTransformer model(c, 0);
  std::set<std::string> names;
  for (Parameter* p : model.parameters()) names.insert(p->name);
  for (const char* name : {"encoder.0.weight", "encoder.3.bias", "visual_projection.weight", "embedding.weight",
                           "layers.0.self_attn.query.weight", "layers.1.cross_attn.proj.bias", "layers.1.ffn.fc2.weight",
                           "layers.0.norm_ffn.bias", "output.weight", "output.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  // encoder 3->4->8 channels (2 stages), memory width 8, W = 64, V = 30, FFN 128.
  const std::int64_t encoder = (4 * 3 * 9 + 4) + (8 * 4 * 9 + 8);
  const std::int64_t attention = 4 * (64 * 64 + 64);
  const std::int64_t layer = 2 * attention + (64 * 128 + 128) + (128 * 64 + 64) + 3 * 2 * 64;
  EXPECT_EQ(model.num_parameters(), encoder + (8 * 64 + 64) + 30 * 64 + 2 * layer + (64 * 30 + 30));
}

// CS231n's check: a small set of captions is memorised, the loss goes to nearly
// zero within a few hundred iterations, and greedy decoding gives the captions back.
TEST(Captioner, OverfitsFiftyCaptions) {
  const CaptionDataset data = random_caption_data(50, 7);
  CaptionerConfig config = small_config();
  config.wordvec_dim = 32;
  // One batch of all 50, no clipping, lr 3e-3: the loss falls below 0.05 in about 200 steps.
  CaptionTrainer trainer(data, {.model = config, .batch_size = 50, .schedule = LrSchedule::constant(3e-3f), .clip_norm = 0.0f, .seed = 3});
  const float first = trainer.step();
  float last = first;
  while (trainer.iteration() < 300) last = trainer.step();
  EXPECT_GT(first, 15.0f);  // about 6.5 targets of ln(24) each
  EXPECT_LT(last, 0.05f) << "loss after 300 iterations, started at " << first;
  const CaptionScores greedy = score_captions(trainer.model(), data);
  EXPECT_EQ(greedy.exact_match, 1.0) << greedy.hypotheses[0] << " vs " << greedy.references[0];
  EXPECT_NEAR(greedy.bleu.bleu[3], 1.0, 1e-12);
  // Beam search of width 1 is greedy decoding; wider beams find the memorised captions too.
  EXPECT_EQ(trainer.model().sample_beam(data.images.slice(0, 10), 1), trainer.model().sample_greedy(data.images.slice(0, 10)));
  EXPECT_EQ(score_captions(trainer.model(), data, 20, 3).exact_match, 1.0);
}

TEST(Captioner, PaddingRowGetsNoUpdateAndEveryOtherParameterMoves) {
  const CaptionDataset data = random_caption_data(8, 1);
  CaptionTrainer trainer(data, {.model = small_config(), .batch_size = 8, .seed = 0});
  const TensorMap before = model_state_dict(trainer.model());
  trainer.step();
  const TensorMap after = model_state_dict(trainer.model());
  for (const auto& [name, value] : before) {
    if (name == "embedding.weight") {
      const std::int64_t w = value.size(1);
      EXPECT_TRUE(same_bits(value.slice(0, 1), after.at(name).slice(0, 1))) << "the <NULL> row moved";
      EXPECT_FALSE(same_bits(value.slice(1, 2), after.at(name).slice(1, 2))) << "<START> did not move";
      EXPECT_EQ(w, 64);
    } else {
      EXPECT_FALSE(same_bits(value, after.at(name))) << name << " did not move";
    }
  }
}

TEST_F(CaptionerFiles, CaptionTrainingResumesBitForBit) {
  const CaptionDataset data = random_caption_data(20, 2);
  const CaptionTrainOptions options{.model = small_config(), .batch_size = 8, .seed = 5};
  CaptionTrainer straight(data, options);
  while (straight.iteration() < 6) straight.step();  // crosses an epoch (3 batches)

  {
    CaptionTrainer first(data, options);
    while (first.iteration() < 4) first.step();
    first.save_state(path("state.safetensors"));
  }
  CaptionTrainer resumed(data, options);
  resumed.load_state(path("state.safetensors"));
  EXPECT_EQ(resumed.iteration(), 4);
  while (resumed.iteration() < 6) resumed.step();
  EXPECT_EQ(resumed.losses(), straight.losses());
  const TensorMap a = model_state_dict(straight.model()), b = model_state_dict(resumed.model());
  for (const auto& [name, value] : a) EXPECT_TRUE(same_bits(value, b.at(name))) << name;

  // A state of another configuration or seed is refused, naming what differs.
  CaptionTrainOptions wider = options;
  wider.model.feedforward = 64;
  CaptionTrainer other(data, wider);
  EXPECT_NE(test::error_of([&] { other.load_state(path("state.safetensors")); }).find("model config"), std::string::npos);
  CaptionTrainOptions reseeded = options;
  reseeded.seed = 6;
  CaptionTrainer third(data, reseeded);
  EXPECT_NE(test::error_of([&] { third.load_state(path("state.safetensors")); }).find("seed"), std::string::npos);
}

TEST_F(CaptionerFiles, CheckpointReloadsToTheSameCaptions) {
  const CaptionDataset data = random_caption_data(12, 4);
  CaptionTrainer trainer(data, {.model = small_config(), .batch_size = 12, .seed = 1});
  while (trainer.iteration() < 20) trainer.step();
  trainer.save_checkpoint(path("captioner.safetensors"), {{"data", "random"}});
  LoadedCaptioner loaded = load_captioner_checkpoint(path("captioner.safetensors"));
  EXPECT_EQ(loaded.vocab.words(), data.vocab.words());
  EXPECT_EQ(loaded.metadata.at("data"), "random");
  EXPECT_EQ(loaded.model->sample_greedy(data.images), trainer.model().sample_greedy(data.images));

  TensorMap other;
  other.emplace("w", Tensor::zeros({2}));
  write_safetensors(path("other.safetensors"), other, {{"model", "ddpm_unet"}});
  const std::string message = test::error_of([&] { load_captioner_checkpoint(path("other.safetensors")); });
  EXPECT_NE(message.find("not a captioner checkpoint"), std::string::npos) << message;
  EXPECT_NE(message.find("ddpm_unet"), std::string::npos) << message;
}

TEST(Captioner, BadInputNamesTheProblem) {
  CaptionerConfig c = small_config();
  c.vocab_size = 30;
  c.input_shape = {3, 8, 8};
  c.encoder_channels = {4};
  c.max_length = 6;
  CaptioningTransformer model(c, 0);
  const Tensor images = Tensor::zeros({2, 3, 8, 8});
  const std::string long_caption = test::error_of([&] { model.forward(Var(images.view()), Tensor::zeros({2, 7}, DType::I64)); });
  EXPECT_NE(long_caption.find("max_length 6"), std::string::npos) << long_caption;
  const std::string wrong_size = test::error_of([&] { model.encode(Var(Tensor::zeros({2, 3, 9, 8}))); });
  EXPECT_NE(wrong_size.find("expected inputs [N,3,8,8]"), std::string::npos) << wrong_size;
  const std::string grey = test::error_of([&] { model.encode(Var(Tensor::zeros({2, 1, 8, 8}))); });
  EXPECT_NE(grey.find("[2,1,8,8]"), std::string::npos) << grey;
  const std::string bad_word = test::error_of([&] {
    Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{1, 4, 30, 2}, {1, 4});
    model.forward(Var(images.slice(0, 1)), ids);
  });
  EXPECT_NE(bad_word.find("embedding"), std::string::npos) << bad_word;
  EXPECT_NE(test::error_of([&] { check_caption_image(Tensor::zeros({3, 8, 9}), {3, 8, 8}, "x.png"); }).find("x.png"),
            std::string::npos);
  CaptionerConfig odd_heads = c;
  odd_heads.num_heads = 3;
  EXPECT_FALSE(test::error_of([&] { CaptioningTransformer m(odd_heads, 0); }).empty());
}
