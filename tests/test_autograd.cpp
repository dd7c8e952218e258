// The graph engine: accumulation where values fan out, detach and no-grad,
// frozen parameters, freed graphs and the errors that name the op, and the
// saved activations' memory going back once backward has passed.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "core/allocator.h"
#include "core/random.h"
#include "layers/layers.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"
#include "train/optimizer.h"
#include "train/step.h"

namespace cudl {
namespace {

Tensor random_tensor(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A custom op through record(): out = a * b elementwise (host only, for the test).
Var host_mul(const Var& a, const Var& b) {
  Tensor out = a.value().clone();
  const std::vector<float> vb = b.value().to_vector();
  for (std::int64_t i = 0; i < out.numel(); ++i) out.data<float>()[i] *= vb[i];
  return record("host_mul", std::move(out), {&a, &b},
                [a = a.value().view(), b = b.value().view()](const Tensor& g, const Node& node) {
                  Tensor da, db;
                  if (node.needs_grad(0)) {
                    da = g.clone();
                    for (std::int64_t i = 0; i < g.numel(); ++i) da.data<float>()[i] *= b.data<float>()[i];
                  }
                  if (node.needs_grad(1)) {
                    db = g.clone();
                    for (std::int64_t i = 0; i < g.numel(); ++i) db.data<float>()[i] *= a.data<float>()[i];
                  }
                  return gradients(std::move(da), std::move(db));
                });
}

TEST(Autograd, FanOutAccumulatesGradients) {
  // y = x * x through relu's node twice: dy/dx = 2 relu(x) relu'(x), summed
  // from both inputs of the op and through the shared relu node.
  Var x(Tensor::from_vector(std::vector<float>{-1.0f, 0.5f, 2.0f, 3.0f}, {4}), true);
  const Var h = relu(x);
  const Var y = host_mul(h, h);
  y.backward(Tensor::full({4}, 1.0f));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{0.0f, 1.0f, 4.0f, 6.0f}));
  // A second, separate graph over the same leaf accumulates into its grad.
  host_mul(x, Var(Tensor::full({4}, 10.0f))).backward(Tensor::full({4}, 1.0f));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{10.0f, 11.0f, 14.0f, 16.0f}));
}

TEST(Autograd, OnlyInputsThatNeedItGetGradients) {
  Var a(Tensor::full({3}, 2.0f), true), b(Tensor::full({3}, 5.0f));
  host_mul(a, b).backward(Tensor::full({3}, 1.0f));
  EXPECT_EQ(a.grad().to_vector(), std::vector<float>(3, 5.0f));
  EXPECT_FALSE(b.grad().defined());
}

TEST(Autograd, DetachAndNoGradRecordNothing) {
  Generator gen(7);
  Linear fc(3, 2, gen);
  Var x(random_tensor({4, 3}, 8), true);
  const Var y = linear(x, fc.weight, fc.bias);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(y.op(), "linear");
  const Var d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  {
    NoGradGuard no_grad;
    const Var z = linear(x, fc.weight, fc.bias);
    EXPECT_FALSE(z.requires_grad());
    EXPECT_TRUE(z.is_leaf());
  }
  EXPECT_TRUE(grad_enabled());
  // A value built only from a detached one cannot be differentiated.
  const Var from_detached = relu(d);
  EXPECT_NE(error_of([&] { from_detached.backward(Tensor::zeros({4, 2})); }).find("does not require grad"),
            std::string::npos);
}

TEST(Autograd, FrozenParametersGetNoGradientButPassItOn) {
  // The GAN pattern: the generator learns through a frozen discriminator.
  Generator gen(9);
  Linear generator(4, 6, gen), discriminator(6, 1, gen);
  discriminator.set_requires_grad(false);
  Var z(random_tensor({3, 4}, 10));
  const Var score = linear(linear(z, generator.weight, generator.bias), discriminator.weight, discriminator.bias);
  bce_with_logits(score, Tensor::full({3, 1}, 1.0f)).backward();
  EXPECT_TRUE(generator.weight.grad().defined());
  EXPECT_TRUE(generator.bias.grad().defined());
  EXPECT_FALSE(discriminator.weight.grad().defined());
  EXPECT_FALSE(discriminator.bias.grad().defined());
  EXPECT_FALSE(z.grad().defined());
}

TEST(Autograd, ErrorsNameTheOp) {
  Generator gen(11);
  Conv2d conv(2, 3, 3, gen);
  Var x(random_tensor({1, 2, 5, 5}, 12), true);
  const Var y = conv2d(x, conv.weight, conv.bias);
  const Var loss = mse_loss(y, Tensor::zeros(y.shape()));
  loss.backward();
  const std::string twice = error_of([&] { loss.backward(); });
  EXPECT_NE(twice.find("freed"), std::string::npos) << twice;
  EXPECT_NE(twice.find("mse_loss"), std::string::npos) << twice;

  const Var y2 = conv2d(x, conv.weight, conv.bias);
  const std::string not_scalar = error_of([&] { y2.backward(); });
  EXPECT_NE(not_scalar.find("not a scalar"), std::string::npos) << not_scalar;
  EXPECT_NE(not_scalar.find("[1,3,3,3]"), std::string::npos) << not_scalar;
  const std::string wrong_upstream = error_of([&] { y2.backward(Tensor::zeros({2})); });
  EXPECT_NE(wrong_upstream.find("expected an upstream gradient [1,3,3,3]"), std::string::npos) << wrong_upstream;
  EXPECT_NE(error_of([&] { Var(Tensor::zeros({2}), true).backward(); }).find("not a scalar"), std::string::npos);
  EXPECT_NE(error_of([&] { y2.detach().set_requires_grad(true), y2.value(); }), "");
  const std::string non_leaf = error_of([&] { Var copy = y2; copy.set_requires_grad(false); });
  EXPECT_NE(non_leaf.find("conv2d"), std::string::npos) << non_leaf;
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
  Generator gen(13);
  Linear fc(3, 1, gen);
  Var x(random_tensor({2, 3}, 14), true);
  const Var loss = mse_loss(linear(x, fc.weight, fc.bias), Tensor::zeros({2, 1}));
  loss.backward(/*retain_graph=*/true);
  const std::vector<float> once = fc.weight.grad().to_vector();
  loss.backward();
  const std::vector<float> twice = fc.weight.grad().to_vector();
  for (std::size_t i = 0; i < once.size(); ++i) EXPECT_NEAR(twice[i], 2 * once[i], 1e-6);
}

TEST(Autograd, UpstreamGradientIsNotWrittenThrough) {
  // reshape passes the upstream gradient on as a view: accumulating into a leaf
  // later must not change the caller's tensor.
  Var x(Tensor::zeros({2, 3}), true);
  const Tensor up = Tensor::full({6}, 1.0f);
  reshape(x, {6}).backward(up);
  reshape(x, {6}).backward(up);
  EXPECT_EQ(up.to_vector(), std::vector<float>(6, 1.0f));
  EXPECT_EQ(x.grad().to_vector(), std::vector<float>(6, 2.0f));
}

TEST(Autograd, BackwardFreesSavedActivations) {
  // A conv stack's forward saves every activation; after backward, the host
  // bytes in use drop back to what the parameters, gradients and the inputs hold.
  Generator gen(15);
  Sequential net;
  net.emplace<Conv2d>(3, 16, 3, gen, Conv2dParams{1, 1, 1});
  net.emplace<ReLU>();
  net.emplace<Conv2d>(16, 16, 3, gen, Conv2dParams{1, 1, 1});
  net.emplace<ReLU>();
  net.emplace<Flatten>();
  const Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 3}, {4});
  Var x(random_tensor({4, 3, 32, 32}, 16));
  const std::size_t activation_bytes = 4 * 16 * 32 * 32 * sizeof(float);
  const std::size_t before = host_bytes_in_use();
  Var loss = cross_entropy(linear(net.forward(x), Parameter("w", random_tensor({4, 16 * 32 * 32}, 17)),
                                  Parameter("b", Tensor::zeros({4}))),
                           labels);
  const std::size_t after_forward = host_bytes_in_use();
  EXPECT_GT(after_forward - before, 3 * activation_bytes) << "the forward should hold its activations";
  loss.backward();
  const std::size_t after_backward = host_bytes_in_use();
  // What remains: the parameters' new gradients (about one activation's worth
  // for the 4x16384 linear, plus the convs'), nothing of the saved activations.
  EXPECT_LT(after_backward - before, after_forward - before - 2 * activation_bytes)
      << "forward held " << after_forward - before << " bytes, after backward " << after_backward - before;
}

TEST(Autograd, ImplScopeRunsForwardAndBackwardWithTheChosenVariant) {
  Generator gen(18);
  Sequential net;
  net.emplace<Conv2d>(2, 3, 3, gen, Conv2dParams{1, 1, 1});
  net.emplace<BatchNorm2d>(3);
  net.emplace<ReLU>();
  const Tensor input = random_tensor({2, 2, 6, 6}, 19);
  auto grads_with = [&](Impl impl) {
    ImplScope scope(impl);
    net.zero_grad();
    Var x(input.clone(), true);
    net.forward(x).backward(random_tensor({2, 3, 6, 6}, 20));
    std::vector<float> all = x.grad().to_vector();
    for (Parameter* p : net.parameters()) {
      const std::vector<float> g = p->grad().to_vector();
      all.insert(all.end(), g.begin(), g.end());
    }
    return all;
  };
  EXPECT_LT(test::relative_error(grads_with(Impl::Naive), grads_with(Impl::Fast)), 1e-5);
  EXPECT_EQ(current_impl(), Impl::Auto);
}

TEST(TrainStep, TwoOptimizersOverSeparateGroups) {
  // Each optimizer steps only its parameters; the step's loss is returned.
  Generator gen(21);
  Linear first(3, 4, gen), second(4, 1, gen);
  auto opt_first = make_optimizer("sgd", first.parameters(), 0.1f);
  auto opt_second = make_optimizer("sgd", second.parameters(), 0.1f);
  // A target the two layers can fit: a fixed linear function of x.
  const Tensor x = random_tensor({8, 3}, 22);
  std::vector<float> t(8);
  for (int i = 0; i < 8; ++i)
    t[i] = x.data<float>()[3 * i] - 2 * x.data<float>()[3 * i + 1] + 0.5f * x.data<float>()[3 * i + 2];
  const Tensor target = Tensor::from_vector(t, {8, 1});
  auto loss = [&] { return mse_loss(second.forward(relu(first.forward(Var(x.view())))), target); };
  const std::vector<float> second_before = second.weight.value().to_vector();
  const StepResult r = optimization_step({opt_first.get()}, loss);
  EXPECT_GT(r.loss, 0.0f);
  EXPECT_EQ(second.weight.value().to_vector(), second_before) << "not in the stepped optimizer";
  float last = r.loss;
  for (int i = 0; i < 200; ++i) last = optimization_step({opt_first.get(), opt_second.get()}, loss, 1.0f).loss;
  EXPECT_LT(last, 0.2f * r.loss);
}

}  // namespace
}  // namespace cudl

namespace cudl {
namespace {
// One training step of the default `small` classifier at batch 64: host bytes at
// the peak and still held after backward, with the saved activations freed as
// backward passes (the default) and kept (retain_graph). Printed for the notes.
TEST(Autograd, TrainingStepMemoryWithAndWithoutFreeing) {
  Generator gen(3);
  Sequential net;
  net.emplace<Conv2d>(1, 32, 3, gen, Conv2dParams{1, 1, 1});
  net.emplace<BatchNorm2d>(32);
  net.emplace<ReLU>();
  net.emplace<MaxPool2d>(2);
  net.emplace<Conv2d>(32, 64, 3, gen, Conv2dParams{1, 1, 1});
  net.emplace<BatchNorm2d>(64);
  net.emplace<ReLU>();
  net.emplace<MaxPool2d>(2);
  net.emplace<Flatten>();
  net.emplace<Linear>(64 * 7 * 7, 128, gen);
  net.emplace<ReLU>();
  net.emplace<Linear>(128, 10, gen);
  const Tensor x = random_tensor({64, 1, 28, 28}, 4);
  std::vector<std::int64_t> y(64);
  for (int i = 0; i < 64; ++i) y[i] = i % 10;
  const Tensor labels = Tensor::from_vector(y, {64});
  auto step = [&](bool retain) {
    net.zero_grad();
    const std::size_t base = host_bytes_in_use();
    reset_host_peak();
    Var loss = cross_entropy(net.forward(Var(x.view())), labels);
    loss.backward(retain);
    const std::size_t peak = host_peak_bytes_in_use() - base, held = host_bytes_in_use() - base;
    return std::pair{peak, held};
  };
  const auto [peak_freed, held_freed] = step(false);
  const auto [peak_kept, held_kept] = step(true);
  std::printf("one step, batch 64: peak %.2f MB, held after backward %.2f MB (freeing); peak %.2f MB, held %.2f MB "
              "(retain_graph)\n",
              peak_freed / 1e6, held_freed / 1e6, peak_kept / 1e6, held_kept / 1e6);
  EXPECT_LE(peak_freed, peak_kept);
  EXPECT_LT(held_freed * 2, held_kept) << "the kept graph holds the activations";
}
}  // namespace
}  // namespace cudl
