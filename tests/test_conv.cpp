#include "core/random.h"
#include "kernels/conv2d.h"
#include "tests/conv_test_util.h"

using namespace cudl;
using namespace cudl::test;

namespace {

// CS231n ConvolutionalNetworks.ipynb, "Convolution: Naive forward pass".
TEST(Conv2d, Cs231nNotebookForwardOnEveryImplementation) {
  Tensor x = Tensor::from_vector(linspace(-0.1, 0.5, 2 * 3 * 4 * 4), {2, 3, 4, 4});
  Tensor w = Tensor::from_vector(linspace(-0.2, 0.3, 3 * 3 * 4 * 4), {3, 3, 4, 4});
  Tensor b = Tensor::from_vector(linspace(-0.1, 0.2, 3), {3});
  const std::vector<float> correct_out = {
      -0.08759809f, -0.10987781f, -0.18387192f, -0.2109216f,  0.21027089f, 0.21661097f, 0.22847626f, 0.23004637f,
      0.50813986f,  0.54309974f,  0.64082444f,  0.67101435f,  -0.98053589f, -1.03143541f, -1.19128892f, -1.24695841f,
      0.69108355f,  0.66880383f,  0.59480972f,  0.56776003f,  2.36270298f,  2.36904306f,  2.38090835f,  2.38247847f};
  for (const Implementation& impl : usable_implementations("conv2d")) {
    const Device d = device_of(impl);
    Tensor out = conv2d_forward(x.to(d), w.to(d), b.to(d), {.stride = 2, .pad = 1}, impl.impl);
    ASSERT_EQ(out.shape(), (Shape{2, 3, 2, 2})) << impl.name;
    const std::vector<float> got = out.to_vector();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], correct_out[i], 2e-6) << impl.name << " at " << i;
  }
}

// conv_transpose2d is the adjoint of conv2d: <conv_transpose(y), x> = <y, conv(x)>
// (zero biases), which pins down its semantics independently of its code path.
TEST(ConvTranspose2d, IsTheAdjointOfConv2d) {
  Generator gen(3);
  const Conv2dParams p{.stride = 2, .pad = 1};
  Tensor w = randn({4, 3, 3, 4}, gen);  // conv2d [F=4, C=3]; conv_transpose2d [Cin=4, Cout=3]
  Tensor x = randn({2, 3, 9, 8}, gen);
  for (const Implementation& impl : usable_implementations("conv_transpose2d")) {
    const Device d = device_of(impl);
    Tensor conv = conv2d_forward(x.to(d), w.to(d), Tensor::zeros({4}, DType::F32, d), p, impl.impl);
    Generator ygen(5);
    Tensor y = randn(conv.shape(), ygen);
    Tensor back = conv_transpose2d_forward(y.to(d), w.to(d), Tensor::zeros({3}, DType::F32, d), p, impl.impl);
    ASSERT_EQ(back.shape(), x.shape()) << impl.name;
    const double lhs = dot(back, x), rhs = dot(conv, y);
    EXPECT_NEAR(lhs, rhs, 1e-4 * std::abs(rhs)) << impl.name;
  }
}

// Finite differences of sum(out * dout) against the analytic gradients.
// Both ops are linear in x and in w, so a large step loses nothing to curvature.
void check_gradients(const char* name, const Shape& xs, const Shape& ws, std::int64_t bs, const Conv2dParams& p) {
  const bool transpose = std::string(name) == "conv_transpose2d";
  auto forward = [&](const Tensor& x, const Tensor& w, const Tensor& b, Impl impl) {
    return transpose ? conv_transpose2d_forward(x, w, b, p, impl) : conv2d_forward(x, w, b, p, impl);
  };
  Generator gen(17);
  Tensor x = randn(xs, gen), w = randn(ws, gen), b = randn({bs}, gen);
  Tensor dout = randn(forward(x, w, b, Impl::Naive).shape(), gen);
  for (const Implementation& impl : usable_implementations(name)) {
    const Device d = device_of(impl);
    auto loss = [&] { return dot(forward(x.to(d), w.to(d), b.to(d), impl.impl), dout); };
    Conv2dGrads g = transpose ? conv_transpose2d_backward(dout.to(d), x.to(d), w.to(d), p, impl.impl)
                              : conv2d_backward(dout.to(d), x.to(d), w.to(d), p, impl.impl);
    EXPECT_LE(relative_error(g.dx.to_vector(), numeric_gradient(loss, x, 0.05f)), 1e-3) << name << " dx " << impl.name;
    EXPECT_LE(relative_error(g.dw.to_vector(), numeric_gradient(loss, w, 0.05f)), 1e-3) << name << " dw " << impl.name;
    EXPECT_LE(relative_error(g.db.to_vector(), numeric_gradient(loss, b, 0.05f)), 1e-3) << name << " db " << impl.name;
  }
}

TEST(Conv2d, GradientsMatchFiniteDifferences) {
  check_gradients("conv2d", {2, 3, 5, 6}, {4, 3, 3, 2}, 4, {.stride = 2, .pad = 1});
  check_gradients("conv2d", {1, 4, 5, 5}, {6, 2, 3, 3}, 6, {.stride = 1, .pad = 2, .groups = 2});
}

TEST(ConvTranspose2d, GradientsMatchFiniteDifferences) {
  check_gradients("conv_transpose2d", {2, 3, 3, 4}, {3, 2, 3, 3}, 2, {.stride = 2, .pad = 1});
  check_gradients("conv_transpose2d", {1, 2, 4, 3}, {2, 3, 2, 4}, 3, {.stride = 3, .pad = 0});
}

TEST(Conv2d, BadArgumentsNameTheOpAndShapes) {
  auto conv = [](Shape xs, Shape ws, Conv2dParams p) {
    return [=] { conv2d_forward(Tensor::zeros(xs), Tensor::zeros(ws), Tensor::zeros({ws[0]}), p); };
  };
  expect_error(conv({2, 3, 8, 8}, {4, 2, 3, 3}, {}), {"conv2d", "3 channels", "[2,3,8,8]", "[4,2,3,3]"});
  expect_error(conv({1, 1, 2, 2}, {1, 1, 5, 5}, {.stride = 1, .pad = 1}), {"conv2d", "larger", "[1,1,2,2]", "[1,1,5,5]"});
  expect_error(conv({1, 1, 4, 4}, {1, 1, 3, 3}, {.stride = 0}), {"conv2d", "stride", "0"});
  expect_error(conv({1, 3, 4, 4}, {2, 1, 3, 3}, {.groups = 2}), {"conv2d", "groups 2", "[1,3,4,4]"});
  expect_error(conv({3, 8, 8}, {4, 3, 3, 3}, {}), {"conv2d", "x", "4 dimensions", "[3,8,8]"});
  // Zero-sized dimensions once divided by zero in the CUDA im2col path (SIGFPE).
  expect_error(conv({1, 3, 4, 4}, {2, 3, 0, 0}, {}), {"conv2d", "zero-sized", "[2,3,0,0]"});
  expect_error(conv({1, 0, 4, 4}, {2, 0, 3, 3}, {}), {"conv2d", "zero-sized", "[1,0,4,4]"});
  expect_error([] { conv2d_forward(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({2, 3, 3, 3}), Tensor::zeros({3}), {}); },
               {"conv2d", "b", "[2]", "[3]"});
  expect_error(
      [] {
        conv2d_backward(Tensor::zeros({1, 2, 3, 3}), Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({2, 3, 3, 3}), {});
      },
      {"conv2d", "dout", "[1,2,2,2]", "[1,2,3,3]"});
  expect_error(
      [] { conv_transpose2d_forward(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({2, 3, 3, 3}), Tensor::zeros({3}), {}); },
      {"conv_transpose2d", "3 channels", "[1,3,4,4]", "[2,3,3,3]"});
  expect_error(
      [] { conv_transpose2d_forward(Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({2, 0, 3, 3}), Tensor::zeros({0}), {}); },
      {"conv_transpose2d", "zero-sized", "[2,0,3,3]"});
}

}  // namespace
