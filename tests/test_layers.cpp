// Layers: torch.nn's initialisation and names, train/eval behaviour, and
// finite-difference checks of composed layers' backward passes.
#include <gtest/gtest.h>

#include <cmath>

#include "core/random.h"
#include "layers/layers.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace cudl {
namespace {

Tensor random_input(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen);
}

void expect_within(const Tensor& t, float bound) {
  float largest = 0.0f;
  for (float v : t.to_vector()) largest = std::max(largest, std::abs(v));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.5f * bound) << "values should fill most of U(-bound, bound)";
}

TEST(LayerInit, LinearAndConvFollowTorchDefaults) {
  Generator gen(3);
  Linear fc(50, 20, gen);
  EXPECT_EQ(fc.weight.value().shape(), (Shape{20, 50}));
  expect_within(fc.weight.value(), 1.0f / std::sqrt(50.0f));
  expect_within(fc.bias.value(), 1.0f / std::sqrt(50.0f));

  Conv2d conv(3, 8, 5, gen, {.stride = 1, .pad = 2, .groups = 1});
  EXPECT_EQ(conv.weight.value().shape(), (Shape{8, 3, 5, 5}));
  expect_within(conv.weight.value(), 1.0f / std::sqrt(75.0f));

  // torch's fan_in of a transposed conv weight [in, out, k, k] is out * k * k.
  ConvTranspose2d deconv(6, 4, 3, gen);
  EXPECT_EQ(deconv.weight.value().shape(), (Shape{6, 4, 3, 3}));
  expect_within(deconv.weight.value(), 1.0f / std::sqrt(36.0f));

  BatchNorm2d bn(5);
  EXPECT_EQ(bn.weight.value().to_vector(), std::vector<float>(5, 1.0f));
  EXPECT_EQ(bn.bias.value().to_vector(), std::vector<float>(5, 0.0f));
  EXPECT_EQ(bn.running_var.to_vector(), std::vector<float>(5, 1.0f));
}

TEST(LayerInit, SameSeedSameParameters) {
  Generator a(11), b(11), c(12);
  Linear la(7, 5, a), lb(7, 5, b), lc(7, 5, c);
  EXPECT_EQ(la.weight.value().to_vector(), lb.weight.value().to_vector());
  EXPECT_EQ(la.bias.value().to_vector(), lb.bias.value().to_vector());
  EXPECT_NE(la.weight.value().to_vector(), lc.weight.value().to_vector());
}

TEST(LayerInit, SameSeedSameParametersOnCuda) {
  CUDL_REQUIRE_CUDA();
  Generator cpu_gen(5), cuda_gen(5);
  Conv2d on_cpu(3, 4, 3, cpu_gen), on_cuda(3, 4, 3, cuda_gen, {}, Device::cuda());
  EXPECT_EQ(on_cpu.weight.value().to_vector(), on_cuda.weight.value().to_vector());
  EXPECT_EQ(on_cpu.bias.value().to_vector(), on_cuda.bias.value().to_vector());
}

TEST(Sequential, NamesChildrenLikeTorch) {
  Generator gen(0);
  Sequential net;
  net.emplace<Linear>(4, 3, gen);
  net.emplace<BatchNorm1d>(3);
  net.emplace<ReLU>();
  Sequential named;
  named.add("fc1", std::make_unique<Linear>(4, 3, gen));
  std::vector<std::string> names;
  for (Parameter* p : net.parameters()) names.push_back(p->name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"}));
  std::vector<std::string> buffers;
  for (auto& [name, t] : net.buffers()) buffers.push_back(name);
  EXPECT_EQ(buffers, (std::vector<std::string>{"1.running_mean", "1.running_var"}));
  EXPECT_EQ(named.parameters().front()->name, "fc1.weight");
  EXPECT_THROW(named.add("fc1", std::make_unique<ReLU>()), Error);
}

TEST(BatchNormLayer, TrainUpdatesRunningStatsEvalUsesThem) {
  BatchNorm1d bn(2);
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 10, 3, 20, 5, 30}, {3, 2});
  bn.forward(Var(x.view()));
  // PyTorch's momentum 0.1: running_mean = 0.9 * 0 + 0.1 * batch mean.
  const std::vector<float> mean = bn.running_mean.to_vector();
  EXPECT_NEAR(mean[0], 0.3f, 1e-6f);
  EXPECT_NEAR(mean[1], 2.0f, 1e-6f);
  bn.set_training(false);
  const std::vector<float> out = bn.forward(Var(x.view())).value().to_vector();
  const std::vector<float> var = bn.running_var.to_vector();
  EXPECT_NEAR(out[0], (1 - mean[0]) / std::sqrt(var[0] + 1e-5f), 1e-5f);
}

TEST(DropoutLayer, EvalIsIdentityTrainingScalesKept) {
  Generator gen(9);
  Dropout drop(0.25f, gen);
  const Tensor x = Tensor::full({1000}, 1.0f);
  std::int64_t kept = 0;
  for (float v : drop.forward(Var(x.view())).value().to_vector()) {
    if (v != 0.0f) {
      EXPECT_NEAR(v, 1.0f / 0.75f, 1e-6f);
      ++kept;
    }
  }
  EXPECT_NEAR(kept / 1000.0, 0.75, 0.05);
  drop.set_training(false);
  Var input(x.clone(), /*requires_grad=*/true);
  const Var same = drop.forward(input);
  EXPECT_EQ(same.value().to_vector(), x.to_vector());
  same.backward(x);
  EXPECT_EQ(input.grad().to_vector(), x.to_vector());
}

TEST(FlattenLayer, RowMajorViewAndBack) {
  Flatten flat;
  Var x(random_input({2, 3, 4, 5}, 1), /*requires_grad=*/true);
  const Var y = flat.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  EXPECT_EQ(y.value().to_vector(), x.value().to_vector());
  y.backward(y.value());
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(x.grad().to_vector(), x.value().to_vector());
}

void expect_gradients_match(Layer& m, Tensor x, const test::GradCheckOptions& o = {}) {
  const test::GradCheckReport r = test::gradcheck(m, x, o);
  EXPECT_LT(r.max_error, 2e-2) << "worst tensor " << r.worst << " of " << m.name();
  EXPECT_GT(r.checked, 3 * r.skipped) << "too many coordinates at kinks";
}

TEST(LayerGradcheck, ConvReluPool) {
  Generator gen(1);
  Sequential net;
  net.emplace<Conv2d>(3, 4, 3, gen, Conv2dParams{.stride = 1, .pad = 1, .groups = 1});
  net.emplace<ReLU>();
  net.emplace<MaxPool2d>(2);
  expect_gradients_match(net, random_input({2, 3, 6, 6}, 2));
}

TEST(LayerGradcheck, LinearBatchnormRelu) {
  Generator gen(3);
  Sequential net;
  net.emplace<Linear>(6, 5, gen);
  net.emplace<BatchNorm1d>(5);
  net.emplace<ReLU>();
  expect_gradients_match(net, random_input({8, 6}, 4));
}

TEST(LayerGradcheck, GroupnormSiluConv) {
  Generator gen(5);
  Sequential net;
  net.emplace<GroupNorm>(2, 4);
  net.emplace<SiLU>();
  net.emplace<Conv2d>(4, 3, 3, gen, Conv2dParams{.stride = 2, .pad = 1, .groups = 1});
  expect_gradients_match(net, random_input({2, 4, 5, 5}, 6));
}

TEST(LayerGradcheck, LayernormGeluLinearTanh) {
  Generator gen(7);
  Sequential net;
  net.emplace<LayerNorm>(6);
  net.emplace<GELU>();
  net.emplace<Linear>(6, 4, gen);
  net.emplace<Tanh>();
  expect_gradients_match(net, random_input({3, 2, 6}, 8));
}

TEST(LayerGradcheck, ConvTransposeUpsampleSigmoid) {
  Generator gen(9);
  Sequential net;
  net.emplace<ConvTranspose2d>(3, 2, 3, gen, Conv2dParams{.stride = 2, .pad = 1, .groups = 1});
  net.emplace<Upsample>(2);
  net.emplace<Sigmoid>();
  expect_gradients_match(net, random_input({2, 3, 3, 3}, 10));
}

TEST(LayerGradcheck, BatchNorm2dLeakyReluDropout) {
  Generator gen(11);
  Sequential net;
  net.emplace<BatchNorm2d>(3);
  net.emplace<LeakyReLU>(0.1f);
  net.emplace<Dropout>(0.3f, gen);
  test::GradCheckOptions o;
  o.before_forward = [&] { gen = Generator(11); };  // the same mask on every pass
  expect_gradients_match(net, random_input({4, 3, 3, 3}, 12), o);
}

TEST(LayerDevice, ModuleToMovesParametersAndBuffers) {
  CUDL_REQUIRE_CUDA();
  Generator gen(1);
  Sequential net;
  net.emplace<Linear>(4, 3, gen);
  net.emplace<BatchNorm1d>(3);
  const Tensor x = random_input({5, 4}, 2);
  const std::vector<float> expected = net.forward(Var(x.view())).value().to_vector();
  net.to(Device::cuda());
  for (Parameter* p : net.parameters()) {
    EXPECT_TRUE(p->value().is_cuda());
    EXPECT_TRUE(p->requires_grad());
  }
  for (auto& [name, t] : net.buffers()) EXPECT_TRUE(t->is_cuda()) << name;
  EXPECT_LT(test::relative_error(net.forward(Var(x.to(Device::cuda()))).value().to_vector(), expected), 1e-5);
}

}  // namespace
}  // namespace cudl
