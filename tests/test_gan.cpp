// CS231n's GANs: the nets' sizes and torch.nn names, the losses on fixed logits, the
// frozen discriminator, a short training run, determinism, resuming and checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "autograd/functions.h"
#include "core/formats/safetensors.h"
#include "core/random.h"
#include "layers/layers.h"
#include "models/gan.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "train/gan.h"

namespace cudl {
namespace {

namespace fs = std::filesystem;

std::map<std::string, Shape> state_shapes(Module& net) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : model_state_dict(net)) shapes[name] = t.shape();
  return shapes;
}

TEST(GanModels, ParameterCountsAreCs231ns) {
  Generator gen(0);
  EXPECT_EQ(build_gan_discriminator("fc", gen)->num_parameters(), 267009);
  EXPECT_EQ(build_gan_discriminator("dcgan", gen)->num_parameters(), 1102721);
  // The notebook's figures are at noise_dim 4; cudl trains at 96.
  EXPECT_EQ(build_gan_generator("fc", 4, gen)->num_parameters(), 1858320);
  EXPECT_EQ(build_gan_generator("dcgan", 4, gen)->num_parameters(), 6580801);
  EXPECT_EQ(build_gan_generator("fc", 96, gen)->num_parameters(), 1952528);
  EXPECT_EQ(build_gan_generator("dcgan", 96, gen)->num_parameters(), 6675009);
  EXPECT_NE(test::error_of([&] { build_gan_generator("vae", 96, gen); }).find("expected fc or dcgan"),
            std::string::npos);
}

TEST(GanModels, StateDictNamesAreTorchNnSequentials) {
  Generator gen(0);
  const std::map<std::string, Shape> fc_d = {{"1.weight", {256, 784}}, {"1.bias", {256}}, {"3.weight", {256, 256}},
                                             {"3.bias", {256}},         {"5.weight", {1, 256}}, {"5.bias", {1}}};
  const std::map<std::string, Shape> fc_g = {{"0.weight", {1024, 96}},  {"0.bias", {1024}}, {"2.weight", {1024, 1024}},
                                             {"2.bias", {1024}},         {"4.weight", {784, 1024}}, {"4.bias", {784}}};
  const std::map<std::string, Shape> dc_d = {{"1.weight", {32, 1, 5, 5}},  {"1.bias", {32}},
                                             {"4.weight", {64, 32, 5, 5}}, {"4.bias", {64}},
                                             {"8.weight", {1024, 1024}},   {"8.bias", {1024}},
                                             {"10.weight", {1, 1024}},     {"10.bias", {1}}};
  const std::map<std::string, Shape> dc_g = {
      {"0.weight", {1024, 96}},        {"0.bias", {1024}},        {"2.weight", {1024}},      {"2.bias", {1024}},
      {"2.running_mean", {1024}},      {"2.running_var", {1024}}, {"3.weight", {6272, 1024}}, {"3.bias", {6272}},
      {"5.weight", {6272}},            {"5.bias", {6272}},        {"5.running_mean", {6272}}, {"5.running_var", {6272}},
      {"7.weight", {128, 64, 4, 4}},   {"7.bias", {64}},          {"9.weight", {64}},        {"9.bias", {64}},
      {"9.running_mean", {64}},        {"9.running_var", {64}},   {"10.weight", {64, 1, 4, 4}}, {"10.bias", {1}}};
  EXPECT_EQ(state_shapes(*build_gan_discriminator("fc", gen)), fc_d);
  EXPECT_EQ(state_shapes(*build_gan_generator("fc", 96, gen)), fc_g);
  EXPECT_EQ(state_shapes(*build_gan_discriminator("dcgan", gen)), dc_d);
  EXPECT_EQ(state_shapes(*build_gan_generator("dcgan", 96, gen)), dc_g);
}

TEST(GanModels, GeneratorsMakeImagesInRangeThatDiscriminatorsScore) {
  for (const char* model : {"fc", "dcgan"}) {
    Generator gen(1);
    auto g = build_gan_generator(model, 96, gen);
    auto d = build_gan_discriminator(model, gen);
    const Var images = g->forward(Var(sample_noise(5, 96, gen)));
    ASSERT_EQ(images.shape(), (Shape{5, 784})) << model;
    for (float v : images.value().to_vector()) ASSERT_TRUE(v >= -1.0f && v <= 1.0f) << model << ": " << v;
    EXPECT_EQ(d->forward(images).shape(), (Shape{5, 1})) << model;
  }
}

TEST(GanModels, DcganWeightsAreXavierUniformAndFcKeepsTorchsDefaults) {
  Generator gen(2);
  auto max_abs = [](const Tensor& t) {
    float m = 0;
    for (float v : t.to_vector()) m = std::max(m, std::abs(v));
    return m;
  };
  // fc generator layer 2, Linear(1024, 1024): torch's default bound 1/sqrt(1024) = 0.03125,
  // below Xavier's sqrt(6 / 2048) = 0.054, and approached by a million draws.
  auto fc = build_gan_generator("fc", 96, gen);
  const float torch_bound = 1.0f / 32;
  EXPECT_LE(max_abs(dynamic_cast<Linear&>((*fc)[2]).weight.value()), torch_bound);
  EXPECT_GT(max_abs(dynamic_cast<Linear&>((*fc)[2]).weight.value()), 0.99f * torch_bound);
  // dcgan generator layer 7, ConvTranspose2d(128, 64, 4): sqrt(6 / ((64 + 128) * 16)) = 0.0442,
  // above torch's default 1/sqrt(64 * 16) = 0.03125.
  auto dc = build_gan_generator("dcgan", 96, gen);
  const float deconv_bound = std::sqrt(6.0f / ((64 + 128) * 16));
  EXPECT_LE(max_abs(dynamic_cast<ConvTranspose2d&>((*dc)[7]).weight.value()), deconv_bound);
  EXPECT_GT(max_abs(dynamic_cast<ConvTranspose2d&>((*dc)[7]).weight.value()), 0.99f * deconv_bound);
  // Conv2d keeps torch's default: 1/sqrt(1 * 5 * 5) = 0.2 (Xavier's would be 0.337).
  auto d = build_gan_discriminator("dcgan", gen);
  EXPECT_LE(max_abs(dynamic_cast<Conv2d&>((*d)[1]).weight.value()), 0.2f);
}

TEST(UnflattenLayer, ViewsRowsAsFeatureMapsAndChecksTheSize) {
  Unflatten unflatten({2, 3, 4});
  EXPECT_EQ(unflatten.name(), "Unflatten(dim=1, unflattened_size=(2, 3, 4))");
  Generator gen(3);
  const Var x(randn({5, 24}, gen));
  const Var y = unflatten.forward(x);
  EXPECT_EQ(y.shape(), (Shape{5, 2, 3, 4}));
  EXPECT_EQ(y.value().to_vector(), x.value().to_vector());
  EXPECT_NE(test::error_of([&] { unflatten.forward(Var(randn({5, 25}, gen))); }).find("Unflatten: expected [N, 24]"),
            std::string::npos);
}

// ---- losses on fixed logits ----
const std::vector<float> kReal = {0.5f, -1.0f, 2.0f, 0.25f}, kFake = {-0.3f, 1.2f, 0.0f, -2.5f};

Var scores_leaf(const std::vector<float>& real, const std::vector<float>& fake) {
  std::vector<float> both = real;
  both.insert(both.end(), fake.begin(), fake.end());
  return Var(Tensor::from_vector(both, {static_cast<std::int64_t>(both.size()), 1}), /*requires_grad=*/true);
}

double softplus(double x) { return std::log1p(std::exp(x)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST(GanLosses, VanillaMatchesBceByHandWithGradients) {
  const double n = kReal.size();
  double d = 0, g = 0;
  for (float r : kReal) d += softplus(-r) / n;  // BCE(r, 1) = log(1 + e^-r)
  for (float f : kFake) d += softplus(f) / n;   // BCE(f, 0) = log(1 + e^f)
  for (float f : kFake) g += softplus(-f) / n;
  const Var scores = scores_leaf(kReal, kFake);
  const Var d_loss = discriminator_loss(GanLoss::Vanilla, scores);
  EXPECT_NEAR(d_loss.item(), d, 1e-6);
  d_loss.backward();
  const std::vector<float> grad = scores.grad().to_vector();
  for (std::size_t i = 0; i < kReal.size(); ++i) {
    EXPECT_NEAR(grad[i], (sigmoid(kReal[i]) - 1) / n, 1e-7) << "real " << i;
    EXPECT_NEAR(grad[kReal.size() + i], sigmoid(kFake[i]) / n, 1e-7) << "fake " << i;
  }
  const Var fake(Tensor::from_vector(kFake, {4, 1}), true);
  const Var g_loss = generator_loss(GanLoss::Vanilla, fake);
  EXPECT_NEAR(g_loss.item(), g, 1e-6);
  g_loss.backward();
  for (std::size_t i = 0; i < kFake.size(); ++i) EXPECT_NEAR(fake.grad().to_vector()[i], (sigmoid(kFake[i]) - 1) / n, 1e-7);
}

TEST(GanLosses, LeastSquaresMatchesHalfMeanSquaresByHandWithGradients) {
  const double n = kReal.size();
  double d = 0, g = 0;
  for (float r : kReal) d += 0.5 * (r - 1) * (r - 1) / n;
  for (float f : kFake) d += 0.5 * f * f / n;
  for (float f : kFake) g += 0.5 * (f - 1) * (f - 1) / n;
  const Var scores = scores_leaf(kReal, kFake);
  const Var d_loss = discriminator_loss(GanLoss::LeastSquares, scores);
  EXPECT_NEAR(d_loss.item(), d, 1e-6);
  d_loss.backward();
  const std::vector<float> grad = scores.grad().to_vector();
  for (std::size_t i = 0; i < kReal.size(); ++i) {
    EXPECT_NEAR(grad[i], (kReal[i] - 1) / n, 1e-7) << "real " << i;
    EXPECT_NEAR(grad[kReal.size() + i], kFake[i] / n, 1e-7) << "fake " << i;
  }
  const Var fake(Tensor::from_vector(kFake, {4, 1}), true);
  const Var g_loss = generator_loss(GanLoss::LeastSquares, fake);
  EXPECT_NEAR(g_loss.item(), g, 1e-6);
  g_loss.backward();
  for (std::size_t i = 0; i < kFake.size(); ++i) EXPECT_NEAR(fake.grad().to_vector()[i], (kFake[i] - 1) / n, 1e-7);
}

TEST(GanLosses, RejectScoresOfTheWrongShape) {
  Generator gen(4);
  EXPECT_NE(test::error_of([&] { discriminator_loss(GanLoss::Vanilla, Var(randn({4, 2}, gen))); })
                .find("discriminator_loss: expected discriminator scores [N, 1]"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { discriminator_loss(GanLoss::LeastSquares, Var(randn({3, 1}, gen))); })
                .find("N real then N fake"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { parse_gan_loss("wgan"); }).find("expected vanilla or ls"), std::string::npos);
}

// ---- training ----
// Fashion-MNIST's first `n` training images when installed, else `n` synthetic
// ones (bright rectangles on black, in [0, 1]): either is something to learn.
Dataset training_images(std::int64_t n) {
  static const std::unique_ptr<Dataset> fashion = []() -> std::unique_ptr<Dataset> {
    if (!fs::exists(kFashionMnistDir)) return nullptr;
    return std::make_unique<Dataset>(load_fashion_mnist().train.slice(0, 256));
  }();
  if (fashion != nullptr && n <= fashion->size()) return fashion->slice(0, n);
  Dataset d;
  d.images = Tensor::zeros({n, 1, 28, 28});
  d.labels = Tensor::zeros({n}, DType::I64);
  d.class_names = {"blob"};
  float* p = d.images.data<float>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t y = 4 + i % 5; y < 20 + i % 7; ++y)
      for (std::int64_t x = 6 + i % 3; x < 22; ++x) p[(i * 28 + y) * 28 + x] = 1.0f;
  return d;
}

GanOptions small_options(const std::string& model, GanLoss loss, std::uint64_t seed = 0) {
  return {.model = model, .loss = loss, .batch_size = 16, .sample_count = 8, .seed = seed};
}

TEST(GanTraining, FrozenDiscriminatorGetsNoGradientsAndFakesCarryNoneToTheGenerator) {
  GanTrainer trainer(training_images(32), small_options("fc", GanLoss::Vanilla));
  trainer.generator().zero_grad();
  trainer.discriminator_step(Tensor::zeros({16, 1, 28, 28}));
  for (Parameter* p : trainer.discriminator().parameters()) EXPECT_TRUE(p->grad().defined()) << p->name;
  for (Parameter* p : trainer.generator().parameters()) EXPECT_FALSE(p->grad().defined()) << "G " << p->name;

  trainer.discriminator().zero_grad();
  trainer.generator_step();
  for (Parameter* p : trainer.generator().parameters()) EXPECT_TRUE(p->grad().defined()) << p->name;
  for (Parameter* p : trainer.discriminator().parameters()) {
    EXPECT_FALSE(p->grad().defined()) << "D " << p->name;
    EXPECT_TRUE(p->requires_grad()) << "D is unfrozen after the generator step: " << p->name;
  }
}

TEST(GanTraining, ShortRunMovesTheLossesAndTheSamples) {
  GanTrainer trainer(training_images(256), small_options("fc", GanLoss::Vanilla));
  const std::vector<float> before = trainer.samples().to_vector();
  for (int i = 0; i < 30; ++i) trainer.step();
  const std::vector<float>& d = trainer.discriminator_losses();
  const std::vector<float>& g = trainer.generator_losses();
  ASSERT_EQ(d.size(), 30u);
  // Untrained, D scores everything near 0: d = 2 ln 2, g = ln 2. D then learns to
  // tell the fakes apart faster than G learns to fool it.
  EXPECT_NEAR(d[0], 2 * std::log(2.0), 0.2);
  EXPECT_NEAR(g[0], std::log(2.0), 0.2);
  auto last5 = [](const std::vector<float>& v) { return (v[25] + v[26] + v[27] + v[28] + v[29]) / 5.0; };
  EXPECT_LT(last5(d), d[0] - 0.3) << ::testing::PrintToString(d);
  EXPECT_GT(last5(g), g[0] + 0.1) << ::testing::PrintToString(g);
  const std::vector<float> after = trainer.samples().to_vector();
  EXPECT_GT(test::relative_error(after, before), 0.1) << "the fixed-noise samples change";
  EXPECT_EQ(trainer.samples().to_vector(), after) << "sampling has no side effects";
}

TEST(GanTraining, SameSeedSameLossesBitForBit) {
  auto run = [](std::uint64_t seed) {
    GanTrainer trainer(training_images(64), small_options("fc", GanLoss::LeastSquares, seed));
    for (int i = 0; i < 3; ++i) trainer.step();
    std::vector<float> losses = trainer.discriminator_losses();
    losses.insert(losses.end(), trainer.generator_losses().begin(), trainer.generator_losses().end());
    return losses;
  };
  const std::vector<float> a = run(5);
  EXPECT_EQ(run(5), a);
  EXPECT_NE(run(6), a);
}

class GanFiles : public test::ScratchDirTest {};

TEST_F(GanFiles, ResumedDcganRunIsTheUninterruptedOneBitForBit) {
  const GanOptions options = small_options("dcgan", GanLoss::Vanilla);
  GanTrainer straight(training_images(32), options);
  for (int i = 0; i < 3; ++i) straight.step();  // crosses an epoch of two batches

  GanTrainer first(training_images(32), options);
  first.step();
  first.save_state(path("state.safetensors"));
  GanTrainer resumed(training_images(32), options);
  resumed.load_state(path("state.safetensors"));
  EXPECT_EQ(resumed.iteration(), 1);
  resumed.step();
  resumed.step();
  EXPECT_EQ(resumed.discriminator_losses(), straight.discriminator_losses());
  EXPECT_EQ(resumed.generator_losses(), straight.generator_losses());
  const TensorMap a = model_state_dict(straight.generator()), b = model_state_dict(resumed.generator());
  for (const auto& [name, t] : a) EXPECT_EQ(b.at(name).to_vector(), t.to_vector()) << name;  // running stats too
  EXPECT_EQ(resumed.samples().to_vector(), straight.samples().to_vector());
}

TEST_F(GanFiles, StateOfAnotherNoiseDimOrLossIsAClearError) {
  GanTrainer trainer(training_images(32), small_options("fc", GanLoss::Vanilla));
  trainer.save_state(path("state.safetensors"));
  GanOptions other = small_options("fc", GanLoss::Vanilla);
  other.noise_dim = 64;
  GanTrainer narrow(training_images(32), other);
  EXPECT_NE(test::error_of([&] { narrow.load_state(path("state.safetensors")); })
                .find("has noise_dim 96, this run uses noise_dim 64"),
            std::string::npos);
  GanTrainer ls(training_images(32), small_options("fc", GanLoss::LeastSquares));
  EXPECT_NE(test::error_of([&] { ls.load_state(path("state.safetensors")); }).find("trained with loss vanilla"),
            std::string::npos);
}

TEST_F(GanFiles, CheckpointHoldsBothNetsUnderTorchPrefixesAndReloads) {
  GanTrainer trainer(training_images(32), small_options("dcgan", GanLoss::LeastSquares));
  trainer.step();
  trainer.save_checkpoint(path("gan.safetensors"));
  const SafetensorsFile file = read_safetensors(path("gan.safetensors"));
  EXPECT_EQ(file.metadata.at("model"), "dcgan");
  EXPECT_EQ(file.metadata.at("loss"), "ls");
  EXPECT_EQ(file.metadata.at("noise_dim"), "96");
  EXPECT_EQ(file.metadata.at("iteration"), "1");
  EXPECT_EQ(file.tensors.at("generator.7.weight").shape(), (Shape{128, 64, 4, 4}));
  EXPECT_EQ(file.tensors.at("generator.9.running_var").shape(), (Shape{64}));
  EXPECT_EQ(file.tensors.at("discriminator.10.weight").shape(), (Shape{1, 1024}));
  EXPECT_EQ(file.tensors.size(), 20u + 8u);

  LoadedGan loaded = load_gan_checkpoint(path("gan.safetensors"));
  EXPECT_EQ(loaded.info.iteration, 1);
  Generator gen(9);
  const Tensor noise = sample_noise(4, 96, gen);
  EXPECT_EQ(generate_images(*loaded.generator, noise).to_vector(),
            generate_images(trainer.generator(), noise).to_vector());
}

TEST_F(GanFiles, ClassifierCheckpointOrOddImagesAreClearErrors) {
  auto convnet = build_model(ModelConfig::defaults("three_layer"), 0);
  save_checkpoint(path("convnet.safetensors"), *convnet, {{0.5f}, {0.5f}}, fashion_mnist_classes());
  const std::string error = test::error_of([&] { load_gan_checkpoint(path("convnet.safetensors")); });
  EXPECT_NE(error.find("holds a 'three_layer' model; expected a GAN checkpoint of `cudl train gan`"),
            std::string::npos)
      << error;

  Dataset cifar_like;
  cifar_like.images = Tensor::zeros({32, 3, 32, 32});
  cifar_like.labels = Tensor::zeros({32}, DType::I64);
  EXPECT_NE(test::error_of([&] { GanTrainer(std::move(cifar_like), small_options("fc", GanLoss::Vanilla)); })
                .find("expected grey 28x28 images"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { GanTrainer(training_images(8), small_options("fc", GanLoss::Vanilla)); })
                .find("fewer than one batch of 16"),
            std::string::npos);
}

}  // namespace
}  // namespace cudl
