// Activations and softmax: implementations agree, gradients match finite
// differences, known values, bad arguments.
#include <cmath>

#include "core/random.h"
#include "kernels/activation.h"
#include "kernels/activation_math.h"
#include "kernels/softmax.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {
constexpr Activation kActivations[] = {Activation::ReLU, Activation::LeakyReLU, Activation::GELU,
                                       Activation::SiLU, Activation::Tanh,      Activation::Sigmoid};

// N(0,1) values pushed at least 0.1 away from 0, so that a finite-difference step
// never crosses the kink of relu or leaky_relu.
Tensor away_from_zero(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v = randn(shape, gen).to_vector();
  for (float& x : v) x += x < 0 ? -0.1f : 0.1f;
  return Tensor::from_vector(v, shape);
}
}  // namespace

TEST(Activation, KnownValues) {
  Tensor x = Tensor::from_vector(std::vector<float>{-1.0f, 0.0f, 1.0f}, {3});
  auto values = [&](Activation a, float slope = 0.01f) { return activation_forward(a, x, slope).to_vector(); };
  EXPECT_EQ(values(Activation::ReLU), (std::vector<float>{0.0f, 0.0f, 1.0f}));
  EXPECT_EQ(values(Activation::LeakyReLU, 0.2f), (std::vector<float>{-0.2f, 0.0f, 1.0f}));
  // Phi(1) = 0.8413447460685429 (standard normal CDF), so gelu(+-1) = +-Phi(+-1).
  const std::vector<float> gelu = values(Activation::GELU);
  EXPECT_NEAR(gelu[0], -0.15865525393145707, 1e-7);
  EXPECT_NEAR(gelu[2], 0.8413447460685429, 1e-7);
  // sigmoid(1) = 0.7310585786300049.
  const std::vector<float> sigmoid = values(Activation::Sigmoid), silu = values(Activation::SiLU);
  EXPECT_NEAR(sigmoid[1], 0.5, 1e-7);
  EXPECT_NEAR(sigmoid[2], 0.7310585786300049, 1e-7);
  EXPECT_NEAR(silu[2], 0.7310585786300049, 1e-7);
  EXPECT_NEAR(values(Activation::Tanh)[2], 0.7615941559557649, 1e-7);
  // Saturation without overflow.
  Tensor big = Tensor::from_vector(std::vector<float>{-200.0f, 200.0f}, {2});
  EXPECT_EQ(activation_forward(Activation::Sigmoid, big).to_vector(), (std::vector<float>{0.0f, 1.0f}));
  EXPECT_EQ(activation_forward(Activation::SiLU, big).to_vector(), (std::vector<float>{-0.0f, 200.0f}));
}

// The CPU's vectorisable exp behind sigmoid and SiLU: within 3 ulp of std::exp
// over the whole non-positive float range, 0 below it, NaN kept.
TEST(Activation, ExpOfNonPositiveIsWithinThreeUlpOfStdExp) {
  double worst = 0;
  for (float x = 0.0f; x > -87.0f; x -= 0.0013f) {
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_nonpositive(x) - exact) / exact);
  }
  EXPECT_LT(worst, 3 * 1.1920929e-7);  // 3 ulp of a float in [1, 2)
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-INFINITY), 0.0f);
  EXPECT_EQ(exp_nonpositive(-100.0f), 0.0f);
  EXPECT_TRUE(std::isnan(exp_nonpositive(NAN)));
}

TEST(Activation, GradientMatchesFiniteDifferences) {
  Generator gen(3);
  for (Activation a : kActivations) {
    for (Impl impl : {Impl::Naive, Impl::Fast}) {
      Tensor x = away_from_zero({3, 7}, 11);
      Tensor dout = randn({3, 7}, gen);
      const float slope = 0.1f;
      const Tensor dx = activation_backward(a, dout, x, slope, impl);
      auto f = [&] { return test::dot(activation_forward(a, x, slope, impl), dout); };
      EXPECT_LT(test::relative_error(dx.to_vector(), test::numeric_gradient(f, x, 1e-2f)), 1e-2)
          << activation_name(a) << " " << impl_name(impl);
    }
  }
}

TEST(Activation, BadArgumentsNameTheOp) {
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{1, 2}, {2});
  try {
    activation_forward(Activation::GELU, labels);
    FAIL() << "gelu accepted an int64 tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gelu"), std::string::npos) << e.what();
  }
  Tensor x = Tensor::zeros({2, 3}), dout = Tensor::zeros({3, 2});
  try {
    activation_backward(Activation::LeakyReLU, dout, x);
    FAIL() << "leaky_relu backward accepted dout of the wrong shape";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("leaky_relu"), std::string::npos) << e.what();
  }
}

TEST(Softmax, KnownValuesAndStability) {
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    Tensor equal = Tensor::full({2, 4}, 3.0f);
    for (float p : softmax_forward(equal, impl).to_vector()) EXPECT_FLOAT_EQ(p, 0.25f);
    // Without the max shift exp(1000) would overflow to inf. sigmoid(1) = 0.7310585786300049.
    Tensor big = Tensor::from_vector(std::vector<float>{1000.0f, 999.0f}, {1, 2});
    const std::vector<float> p = softmax_forward(big, impl).to_vector();
    EXPECT_NEAR(p[0], 0.7310585786300049, 1e-6);
    EXPECT_NEAR(p[1], 1 - 0.7310585786300049, 1e-6);
    // Masked scores (-inf, as attention uses them) get probability 0.
    Tensor masked = Tensor::from_vector(std::vector<float>{0.5f, -INFINITY, 0.5f}, {1, 3});
    EXPECT_EQ(softmax_forward(masked, impl).to_vector(), (std::vector<float>{0.5f, 0.0f, 0.5f}));
  }
}

TEST(Softmax, GradientMatchesFiniteDifferences) {
  Generator gen(5);
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    Tensor x = randn({4, 9}, gen), dout = randn({4, 9}, gen);
    const Tensor dx = softmax_backward(dout, softmax_forward(x, impl), impl);
    auto f = [&] { return test::dot(softmax_forward(x, impl), dout); };
    EXPECT_LT(test::relative_error(dx.to_vector(), test::numeric_gradient(f, x, 1e-2f)), 1e-2) << impl_name(impl);
  }
}

TEST(Softmax, BadArgumentsNameTheOp) {
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{1, 2}, {2});
  EXPECT_THROW(softmax_forward(labels), Error);
  Tensor out = Tensor::zeros({2, 3}), dout = Tensor::zeros({2, 4});
  try {
    softmax_backward(dout, out);
    FAIL() << "softmax backward accepted dout of the wrong shape";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("softmax"), std::string::npos) << e.what();
  }
  EXPECT_THROW(softmax_forward(out, Impl::Vendor), Error);  // cuDNN is a CUDA implementation
}
