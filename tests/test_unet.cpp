// The DDPM U-Net (models/unet.h) and the `cudl train ddpm` / `cudl sample ddpm` commands.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "autograd/var.h"
#include "core/formats/safetensors.h"
#include "core/random.h"
#include "data/emoji.h"
#include "diffusion/gaussian_diffusion.h"
#include "models/unet.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"
#include "train/optimizer.h"
#include "train/step.h"

using namespace cudl;
namespace fs = std::filesystem;

namespace {

// Two levels at 8x8 and 4x4, attention at 4x4, three classes; 2 channels in,
// 3 out, so a mix-up of the two shows.
UNetConfig tiny_config() {
  return {.in_channels = 2,
          .out_channels = 3,
          .image_size = 8,
          .width = 8,
          .multipliers = {1, 2},
          .num_res_blocks = 1,
          .attention_resolutions = {4},
          .groups = 4,
          .heads = 2,
          .num_classes = 3};
}

Tensor steps(const std::vector<std::int64_t>& t) { return Tensor::from_vector(t, {static_cast<std::int64_t>(t.size())}); }

}  // namespace

TEST(UNet, OutputHasTheInputsSizeAndTheClassConditions) {
  UNet unet(tiny_config(), 1);
  Generator gen(2);
  const Var x(randn({2, 2, 8, 8}, gen));
  const Tensor t = steps({0, 37});
  const Tensor ids = steps({1, 3}), nulls = steps({3, 3});
  const Tensor conditioned = unet.forward(x, t, &ids).value().clone();
  EXPECT_EQ(conditioned.shape(), (Shape{2, 3, 8, 8}));
  // Null pointer and explicit null ids are the same condition; a class is another.
  const std::vector<float> unconditioned = unet.forward(x, t, nullptr).value().to_vector();
  EXPECT_EQ(unet.forward(x, t, &nulls).value().to_vector(), unconditioned);
  const std::vector<float> c = conditioned.to_vector();
  EXPECT_NE(std::vector<float>(c.begin(), c.begin() + 192), std::vector<float>(unconditioned.begin(), unconditioned.begin() + 192));
  EXPECT_EQ(std::vector<float>(c.begin() + 192, c.end()), std::vector<float>(unconditioned.begin() + 192, unconditioned.end()));

  const Tensor out_of_range = steps({0, 4});
  EXPECT_THROW(unet.forward(x, t, &out_of_range), Error);
  EXPECT_THROW(unet.forward(Var(randn({2, 2, 4, 4}, gen)), t, nullptr), Error);
  EXPECT_THROW(unet.forward(x, steps({0}), nullptr), Error);
}

TEST(UNet, RejectsInconsistentConfigs) {
  for (auto edit : std::vector<void (*)(UNetConfig&)>{
           [](UNetConfig& c) { c.groups = 3; },             // 3 does not divide 8
           [](UNetConfig& c) { c.heads = 16; },             // nor 16 heads
           [](UNetConfig& c) { c.image_size = 5; },         // two levels need an even size
           [](UNetConfig& c) { c.width = 7; },              // the sinusoid needs an even width
           [](UNetConfig& c) { c.multipliers.clear(); }}) {
    UNetConfig c = tiny_config();
    edit(c);
    EXPECT_THROW(UNet(c, 0), Error);
  }
  const UNetConfig c = tiny_config();
  const UNetConfig round_trip = UNetConfig::from_json(c.to_json());
  EXPECT_EQ(round_trip.to_json(), c.to_json());
  EXPECT_THROW(UNetConfig::from_json(R"({"width": 8})"), Error);
}

// The torch.nn layout of docs/ddpm.md, with the shapes that pin the skip
// concatenation (up blocks read h + skip channels) and the time MLP.
TEST(UNet, ParameterNamesAndShapesAreTheTorchModules) {
  UNet unet(tiny_config(), 0);
  std::map<std::string, Shape> shapes;
  for (Parameter* p : unet.parameters()) EXPECT_TRUE(shapes.emplace(p->name, p->shape()).second) << p->name;
  const std::map<std::string, Shape> expected = {
      {"time_mlp.0.weight", {32, 8}},
      {"time_mlp.2.weight", {32, 32}},
      {"class_emb.weight", {4, 32}},
      {"init_conv.weight", {8, 2, 3, 3}},
      {"downs.0.blocks.0.mlp.weight", {16, 32}},
      {"downs.0.blocks.0.block1.conv.weight", {8, 8, 3, 3}},
      {"downs.0.downsample.weight", {8, 8, 3, 3}},
      {"downs.1.blocks.0.res_conv.weight", {16, 8, 1, 1}},
      {"downs.1.attns.0.to_qkv.weight", {48, 16}},
      {"mid_block1.block2.norm.weight", {16}},
      {"mid_attn.to_out.weight", {16, 16}},
      {"mid_block2.mlp.bias", {32}},
      {"ups.0.blocks.0.block1.conv.weight", {16, 32, 3, 3}},
      {"ups.0.attns.0.norm.bias", {16}},
      {"ups.0.upsample_conv.weight", {16, 16, 3, 3}},
      {"ups.1.blocks.0.block1.conv.weight", {8, 24, 3, 3}},
      {"ups.1.blocks.0.res_conv.weight", {8, 24, 1, 1}},
      {"final_norm.weight", {8}},
      {"final_conv.weight", {3, 8, 1, 1}},
      {"final_conv.bias", {3}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes.at(name), shape) << name;
  }
  for (const char* absent : {"downs.1.downsample.weight", "ups.1.upsample_conv.weight", "downs.0.attns.0.norm.weight"})
    EXPECT_FALSE(shapes.count(absent)) << absent;
  // time MLP 4, class table 1, init conv 2; blocks 10 each, 12 with a res_conv: downs 10 + 12,
  // mid 10 + 10, ups 12 + 12; three attentions of 5 (to_qkv has no bias); two resampling convs
  // and the final norm and conv, 2 each.
  EXPECT_EQ(shapes.size(), 4u + 1 + 2 + 66 + 3 * 5 + 2 * 2 + 2 * 2);
}

// x and one parameter of every kind of layer on each path (the time MLP, the class
// table, the resampling convs, a block that reads a skip, the attention); all the
// parameters would take minutes on a shared CPU.
TEST(UNet, GradientsMatchFiniteDifferences) {
  const UNetConfig c{.in_channels = 1, .out_channels = 1, .image_size = 4, .width = 4, .multipliers = {1, 2},
                     .num_res_blocks = 1, .attention_resolutions = {2}, .groups = 2, .heads = 1, .num_classes = 2};
  UNet unet(c, 3);
  Generator gen(4);
  Tensor x_value = randn({2, 1, 4, 4}, gen);
  Var x(x_value.view(), /*requires_grad=*/true);
  const Tensor t = steps({5, 90}), ids = steps({1, 2});
  std::vector<std::pair<std::string, Var>> leaves{{"x", x}};
  const std::set<std::string> checked = {"time_mlp.0.weight",
                                         "class_emb.weight",
                                         "init_conv.weight",
                                         "downs.0.blocks.0.mlp.weight",
                                         "downs.0.downsample.weight",
                                         "downs.1.attns.0.to_qkv.weight",
                                         "mid_attn.norm.weight",
                                         "ups.0.blocks.0.block1.conv.weight",
                                         "ups.0.upsample_conv.weight",
                                         "ups.1.blocks.0.res_conv.weight",
                                         "final_conv.weight"};
  for (Parameter* p : unet.parameters())
    if (checked.count(p->name)) leaves.emplace_back(p->name, *p);
  ASSERT_EQ(leaves.size(), checked.size() + 1);
  test::GradCheckOptions o;
  o.coords_per_tensor = 3;
  const test::GradCheckReport r = test::gradcheck([&] { return unet.forward(x, t, &ids); }, std::move(leaves), o);
  EXPECT_LT(r.max_error, 2e-2) << "worst tensor " << r.worst;
  EXPECT_GT(r.checked, 24);
}

// A caption-conditional U-Net: the condition is the mean of the caption's token
// embeddings (<NULL> padding left out), the null condition the empty caption.
TEST(UNet, CaptionConditionIsTheMeanOfItsTokenEmbeddings) {
  const UNetConfig c{.in_channels = 1, .out_channels = 1, .image_size = 4, .width = 4, .multipliers = {1, 2},
                     .num_res_blocks = 1, .attention_resolutions = {}, .groups = 2, .heads = 1, .vocab_size = 7};
  UNet unet(c, 3);
  Generator gen(4);
  Tensor x_value = randn({2, 1, 4, 4}, gen);
  Var x(x_value.view(), /*requires_grad=*/true);
  const Tensor t = steps({5, 90});
  // "w4 w5" and the empty caption; then the same words swapped, padded further.
  const Tensor captions = Tensor::from_vector(std::vector<std::int64_t>{1, 4, 5, 2, 1, 2, 0, 0}, {2, 4});
  const Tensor padded = Tensor::from_vector(std::vector<std::int64_t>{1, 5, 4, 2, 0, 0, 1, 2, 0, 0, 0, 0}, {2, 6});
  const Tensor other = Tensor::from_vector(std::vector<std::int64_t>{1, 6, 2, 0, 1, 2, 0, 0}, {2, 4});
  const std::vector<float> a = unet.forward(x, t, &captions).value().to_vector();
  const std::vector<float> b = unet.forward(x, t, &padded).value().to_vector();
  const std::vector<float> null = unet.forward(x, t, nullptr).value().to_vector();
  const std::vector<float> o = unet.forward(x, t, &other).value().to_vector();
  ASSERT_EQ(a.size(), 32u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6f) << i;
  for (std::size_t i = 16; i < 32; ++i) EXPECT_EQ(a[i], null[i]) << "the empty caption is the null condition, " << i;
  EXPECT_NE(std::vector<float>(a.begin(), a.begin() + 16), std::vector<float>(null.begin(), null.begin() + 16));
  EXPECT_NE(std::vector<float>(a.begin(), a.begin() + 16), std::vector<float>(o.begin(), o.begin() + 16));

  std::vector<std::pair<std::string, Var>> leaves{{"x", x}};
  for (Parameter* p : unet.parameters())
    if (p->name == "text_emb.weight" || p->name == "time_mlp.2.weight") leaves.emplace_back(p->name, *p);
  ASSERT_EQ(leaves.size(), 3u);
  test::GradCheckOptions opts;
  opts.coords_per_tensor = 6;
  const test::GradCheckReport r = test::gradcheck([&] { return unet.forward(x, t, &captions); }, std::move(leaves), opts);
  EXPECT_LT(r.max_error, 2e-2) << "worst tensor " << r.worst;

  const Tensor all_padding = Tensor::from_vector(std::vector<std::int64_t>{1, 2, 0, 0}, {2, 2});
  const Tensor out_of_vocabulary = Tensor::from_vector(std::vector<std::int64_t>{1, 7, 1, 2}, {2, 2});
  const Tensor class_ids = steps({1, 2});
  for (const Tensor* bad : {&out_of_vocabulary, &class_ids}) EXPECT_THROW(unet.forward(x, t, bad), Error);
  try {
    unet.forward(x, t, &all_padding);
    ADD_FAILURE() << "an all-padding caption row was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only <NULL> padding"), std::string::npos) << e.what();
  }
  UNetConfig both = c;
  both.num_classes = 2;
  EXPECT_THROW(UNet(both, 0), Error);
}

// Two 8x8 images with their classes, learned well below the loss of predicting zero noise (1).
TEST(UNet, MemorisesTwoImages) {
  const UNetConfig c{.in_channels = 1, .out_channels = 1, .image_size = 8, .width = 8, .multipliers = {1, 2},
                     .num_res_blocks = 1, .attention_resolutions = {}, .groups = 4, .heads = 1, .num_classes = 2};
  UNet unet(c, 5);
  const GaussianDiffusion diffusion({.timesteps = 50, .schedule = NoiseSchedule::Cosine});
  std::vector<float> pixels(128);
  for (int i = 0; i < 64; ++i) {
    pixels[i] = (i % 8 < 4) ? 1.0f : -1.0f;        // left half bright
    pixels[64 + i] = (i / 8 < 4) ? 1.0f : -1.0f;   // top half bright
  }
  const Tensor x0 = Tensor::from_vector(pixels, {2, 1, 8, 8});
  const Tensor labels = steps({0, 1});
  Adam adam(unet.parameters(), 5e-3f);
  Generator gen(6);
  double first = 0.0, last = 0.0;
  constexpr int kSteps = 150, kWindow = 20;
  for (int i = 0; i < kSteps; ++i) {
    const StepResult r =
        optimization_step({&adam}, [&] { return diffusion.training_loss(unet.denoiser(), x0, &labels, gen); }, 1.0f);
    ASSERT_TRUE(r.nonfinite.empty()) << r.nonfinite;
    if (i < kWindow) first += r.loss / kWindow;
    if (i >= kSteps - kWindow) last += r.loss / kWindow;
  }
  EXPECT_GT(first, 0.5);
  EXPECT_LT(last, 0.15) << "first " << first;
}

TEST(UNet, DdimWithEtaZeroIsDeterministic) {
  UNetConfig c = tiny_config();
  c.out_channels = c.in_channels;
  UNet unet(c, 7);
  const GaussianDiffusion diffusion({.timesteps = 40});
  const Tensor ids = steps({0, 2});
  const SampleOptions ddim{.sampler = Sampler::Ddim, .steps = 8, .guidance = 1.5f};
  Generator a(9), b(9), other(10);
  const std::vector<float> first = diffusion.sample(unet.denoiser(), {2, 2, 8, 8}, &ids, a, ddim).to_vector();
  EXPECT_EQ(diffusion.sample(unet.denoiser(), {2, 2, 8, 8}, &ids, b, ddim).to_vector(), first);
  EXPECT_NE(diffusion.sample(unet.denoiser(), {2, 2, 8, 8}, &ids, other, ddim).to_vector(), first);
}

// ---- the CLI, on a tiny MNIST-format folder ----

namespace {

struct CliRun {
  int status;
  std::string output;
};

CliRun run_cli(const std::string& args) {
  const std::string command = "{ '" + std::string(CUDL_CLI) + "' " + args + "; } 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int rc = pclose(pipe);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, output};
}

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

void write_idx(const std::string& file, const std::vector<std::int32_t>& dims, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  const auto put32 = [&](std::uint32_t v) {
    const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    out.write(b, 4);
  };
  put32(0x800u | static_cast<std::uint32_t>(dims.size()));
  for (std::int32_t d : dims) put32(static_cast<std::uint32_t>(d));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

class DdpmCli : public test::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    fs::create_directories(path("data"));
    for (const auto& [split, n] : {std::pair{"train", 40}, std::pair{"t10k", 10}}) {
      std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n) * 28 * 28), labels(n);
      for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 37 + n) % 251);
      for (int i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
      write_idx(path("data") + "/" + split + "-images-idx3-ubyte", {n, 28, 28}, pixels);
      write_idx(path("data") + "/" + split + "-labels-idx1-ubyte", {n}, labels);
    }
  }
  // A tiny run: width 8, two levels, 20 diffusion steps, batch 4.
  CliRun train(const std::string& out, const std::string& extra) {
    return run_cli("train ddpm --device cpu --data-dir '" + path("data") + "' --width 8 --multipliers 1,2 --timesteps 20 "
                   "--batch-size 4 --sample-every 0 --out '" + path(out) + "' " + extra);
  }
};

}  // namespace

TEST_F(DdpmCli, ResumeContinuesBitExactlyAndSamplesAreWritten) {
  const CliRun straight = train("straight", "--iters 4");
  ASSERT_EQ(straight.status, 0) << straight.output;
  EXPECT_NE(straight.output.find("img/s"), std::string::npos) << straight.output;
  EXPECT_TRUE(fs::exists(path("straight/loss.png")));

  const CliRun part = train("resumed", "--iters 2");
  ASSERT_EQ(part.status, 0) << part.output;
  const CliRun rest = run_cli("train ddpm --resume --iters 4 --sample-every 0 --out '" + path("resumed") + "'");
  ASSERT_EQ(rest.status, 0) << rest.output;
  EXPECT_NE(rest.output.find("resumed"), std::string::npos) << rest.output;

  const SafetensorsFile a = read_safetensors(path("straight/checkpoint.safetensors"));
  const SafetensorsFile b = read_safetensors(path("resumed/checkpoint.safetensors"));
  EXPECT_EQ(a.metadata.at("iteration"), "4");
  EXPECT_EQ(a.metadata.at("model"), "ddpm_unet");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  EXPECT_TRUE(a.tensors.count("ema.final_conv.weight"));
  EXPECT_TRUE(a.tensors.count("adam.m.final_conv.weight"));
  for (const auto& [name, tensor] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    const Tensor& other = b.tensors.at(name);
    ASSERT_EQ(tensor.nbytes(), other.nbytes()) << name;
    EXPECT_EQ(std::memcmp(tensor.raw_data(), other.raw_data(), tensor.nbytes()), 0) << name;
  }

  const std::string ckpt = "--checkpoint '" + path("straight/checkpoint.safetensors") + "'";
  const CliRun sample = run_cli("sample ddpm --device cpu " + ckpt + " --steps 5 --guidance 2 --class 3 --n 4 --out '" +
                                path("grid.png") + "' --strip '" + path("strip.png") + "' --frames 4");
  ASSERT_EQ(sample.status, 0) << sample.output;
  EXPECT_TRUE(fs::exists(path("grid.png")));
  EXPECT_TRUE(fs::exists(path("strip.png")));

  // Bad inputs: one line each, 2 for usage, 1 for what the checkpoint cannot do.
  write_safetensors(path("classifier.safetensors"), {}, {{"model", "three_layer"}});
  for (const auto& [args, status, says] : std::vector<std::tuple<std::string, int, std::string>>{
           {"sample ddpm " + ckpt + " --class 10", 1, "out of range"},
           {"sample ddpm " + ckpt + " --sampler ddpm --steps 5", 2, "ddim only"},
           {"sample ddpm " + ckpt + " --steps 21", 1, "exceeds"},
           {"sample ddpm --checkpoint '" + path("classifier.safetensors") + "'", 1, "not a DDPM checkpoint"},
           {"sample ddpm", 2, "--checkpoint"},
           {"sample gan " + ckpt, 1, "expected a GAN checkpoint"},
           {"train ddpm --p-uncond 1.5", 2, "--p-uncond"},
           {"train ddpm --ema 1", 2, "--ema"},
           {"train ddpm --resume", 2, "--out"},
           {"train ddpm --resume --out '" + path("nowhere") + "'", 1, "no checkpoint"},
       }) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, status) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << "\n" << r.output;
  }
  // A finished run's folder is not started over.
  const CliRun again = train("straight", "--iters 4");
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_NE(again.output.find("--resume"), std::string::npos) << again.output;
}

// --minutes ends the run at a step boundary once the budget is spent, saving a
// checkpoint that --resume continues; a budget of a few milliseconds stops a
// 100,000-step run after its first step or so.
TEST_F(DdpmCli, TimeBudgetStopsTheRunWithAResumableCheckpoint) {
  const CliRun r = train("budget", "--iters 100000 --minutes 0.0001");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("time budget of 0.0001 minutes reached at step"), std::string::npos) << r.output;
  const SafetensorsFile saved = read_safetensors(path("budget/checkpoint.safetensors"));
  const std::int64_t steps = std::stoll(saved.metadata.at("iteration"));
  EXPECT_GE(steps, 1);
  EXPECT_LT(steps, 100000);
  EXPECT_EQ(saved.tensors.at("train.loss_history").numel(), steps);

  const CliRun rest = run_cli("train ddpm --resume --sample-every 0 --iters " + std::to_string(steps + 2) + " --out '" +
                              path("budget") + "'");
  ASSERT_EQ(rest.status, 0) << rest.output;
  EXPECT_EQ(read_safetensors(path("budget/checkpoint.safetensors")).metadata.at("iteration"), std::to_string(steps + 2));
  const CliRun negative = train("negative", "--minutes -1");
  EXPECT_EQ(negative.status, 2) << negative.output;
  EXPECT_NE(negative.output.find("--minutes"), std::string::npos) << negative.output;
}

// --data emoji: the caption-conditional model on the real emoji set, sampled
// from a prompt; the condition flags that do not fit the model are refused.
TEST_F(DdpmCli, EmojiModelSamplesFromAPrompt) {
  if (!fs::exists(kEmojiFontPath) || !fs::exists(kEmojiTestPath))
    GTEST_SKIP() << kEmojiFontPath << " or " << kEmojiTestPath << " missing: run scripts/setup.sh";
  const CliRun run = run_cli("train ddpm --device cpu --data emoji --width 8 --multipliers 1,2 --timesteps 20 "
                             "--batch-size 4 --iters 2 --sample-every 2 --out '" + path("emoji") + "'");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("emoji, 32x32 RGB"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("grid rows: \""), std::string::npos) << run.output;
  EXPECT_TRUE(fs::exists(path("emoji/samples-0000002.png")));
  const SafetensorsFile file = read_safetensors(path("emoji/checkpoint.safetensors"));
  ASSERT_TRUE(file.metadata.count("vocabulary"));
  ASSERT_TRUE(file.tensors.count("text_emb.weight"));
  EXPECT_EQ(file.tensors.at("text_emb.weight").size(1), 32);  // 4 x width
  EXPECT_EQ(file.tensors.at("init_conv.weight").size(1), 3);   // RGB

  const std::string ckpt = "sample ddpm --device cpu --checkpoint '" + path("emoji/checkpoint.safetensors") + "'";
  const CliRun sample = run_cli(ckpt + " --steps 3 --guidance 2 --n 2 --prompt 'face with cowboy hat' --out '" +
                                path("prompt.png") + "'");
  ASSERT_EQ(sample.status, 0) << sample.output;
  EXPECT_NE(sample.output.find("prompt \"face with cowboy hat\""), std::string::npos) << sample.output;
  EXPECT_TRUE(fs::exists(path("prompt.png")));
  const CliRun unknown = run_cli(ckpt + " --steps 2 --n 1 --prompt 'zzyzx face' --out '" + path("u.png") + "'");
  EXPECT_EQ(unknown.status, 0) << unknown.output;
  EXPECT_NE(unknown.output.find("'zzyzx' is not in the model's vocabulary"), std::string::npos) << unknown.output;

  const CliRun fashion = train("fashion", "--iters 1");
  ASSERT_EQ(fashion.status, 0) << fashion.output;
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {ckpt + " --steps 2", "--prompt TEXT is required"},
           {ckpt + " --steps 2 --prompt x --class 1", "out of range"},
           {"sample ddpm --checkpoint '" + path("fashion/checkpoint.safetensors") + "' --prompt x", "--prompt needs"},
       }) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << "\n" << r.output;
  }
}
