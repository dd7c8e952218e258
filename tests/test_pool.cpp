#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "core/random.h"
#include "kernels/max_pool2d.h"
#include "kernels/pool2d_geometry.h"
#include "tests/conv_test_util.h"

using namespace cudl;
using namespace cudl::test;

namespace {

// CS231n ConvolutionalNetworks.ipynb, "Max-Pooling: Naive forward".
TEST(MaxPool2d, Cs231nNotebookForwardOnEveryImplementation) {
  Tensor x = Tensor::from_vector(linspace(-0.3, 0.4, 2 * 3 * 4 * 4), {2, 3, 4, 4});
  const std::vector<float> correct_out = {
      -0.26315789f, -0.24842105f, -0.20421053f, -0.18947368f, -0.14526316f, -0.13052632f, -0.08631579f, -0.07157895f,
      -0.02736842f, -0.01263158f, 0.03157895f,  0.04631579f,  0.09052632f,  0.10526316f,  0.14947368f,  0.16421053f,
      0.20842105f,  0.22315789f,  0.26736842f,  0.28210526f,  0.32631579f,  0.34105263f,  0.38526316f,  0.4f};
  for (const Implementation& impl : usable_implementations("max_pool2d")) {
    Tensor out = max_pool2d_forward(x.to(device_of(impl)), {2, 2, 2}, impl.impl);
    ASSERT_EQ(out.shape(), (Shape{2, 3, 2, 2})) << impl.name;
    const std::vector<float> got = out.to_vector();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], correct_out[i], 1e-7) << impl.name << " at " << i;
  }
}

// A NaN propagates: the window's output is NaN and its last NaN takes the gradient, as in
// PyTorch's kernels, wherever the NaN lies in the window (cuDNN's forward agrees).
TEST(MaxPool2d, NaNsPropagateAndTheLastNaNTakesTheGradient) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor dout = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2});
  struct Case {
    std::vector<float> x, dx;
  };
  const Case cases[] = {
      {{nan, 1, 2, 3, 4, 5, 6, 7, nan}, {1, 0, 0, 0, 0, 2, 0, 3, 4}},  // a NaN last in its window wins
      {{nan, 1, 2, 3, nan, 5, 6, 7, nan}, {0, 0, 0, 0, 6, 0, 0, 0, 4}},
  };
  for (const Case& c : cases) {
    const Tensor x = Tensor::from_vector(c.x, {1, 1, 3, 3});
    for (const Implementation& impl : usable_implementations("max_pool2d")) {
      const Device d = device_of(impl);
      const std::vector<float> out = max_pool2d_forward(x.to(d), {2, 2, 1}, impl.impl).to_vector();
      EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[3])) << impl.name;
      EXPECT_EQ(max_pool2d_backward(dout.to(d), x.to(d), {2, 2, 1}, impl.impl).to_vector(), c.dx) << impl.name;
    }
  }
}

// Ties go to the first maximum in row-major window order (PyTorch's rule).
TEST(MaxPool2d, TiesRouteToTheFirstMaximum) {
  // One 3x3 window of equal values except a smaller corner, pooled 2x2 stride 1:
  // each window's gradient lands on its top-left equal maximum.
  Tensor x = Tensor::from_vector(std::vector<float>{1, 1, 1, 1, 1, 1, 1, 1, 0}, {1, 1, 3, 3});
  Tensor dout = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2});
  const std::vector<float> expected = {1, 2, 0, 3, 4, 0, 0, 0, 0};
  for (const Implementation& impl : usable_implementations("max_pool2d")) {
    const Device d = device_of(impl);
    EXPECT_EQ(max_pool2d_backward(dout.to(d), x.to(d), {2, 2, 1}, impl.impl).to_vector(), expected) << impl.name;
  }
}

// The CUDA gather backward visits, for each input, only the outputs that
// covering_outputs names; check that range against every window, brute force.
TEST(MaxPool2d, CoveringOutputsAreExactlyTheWindowsThatContainAnInput) {
  for (std::int64_t size = 1; size <= 12; ++size)
    for (std::int64_t k = 1; k <= size; ++k)
      for (std::int64_t stride = 1; stride <= 4; ++stride) {
        const std::int64_t outputs = 1 + (size - k) / stride;
        for (std::int64_t i = 0; i < size; ++i) {
          const CoveringOutputs range = covering_outputs(i, k, stride, outputs);
          for (std::int64_t o = 0; o < outputs; ++o) {
            const bool covers = o * stride <= i && i < o * stride + k;
            EXPECT_EQ(covers, range.first <= o && o <= range.last)
                << "size " << size << " k " << k << " stride " << stride << " input " << i << " output " << o;
          }
        }
      }
}

// Finite differences with distinct inputs spaced wider than the step, so no
// perturbation changes which element is a window's maximum.
TEST(MaxPool2d, GradientsMatchFiniteDifferences) {
  for (const Pool2dParams& p : {Pool2dParams{2, 2, 2}, Pool2dParams{3, 2, 1}, Pool2dParams{2, 3, 2}}) {
    const Shape shape{2, 2, 7, 6};
    std::vector<float> values(shape_numel(shape));
    std::iota(values.begin(), values.end(), 0.0f);
    std::shuffle(values.begin(), values.end(), std::mt19937(42));
    for (float& v : values) v = v * 0.05f - 1.0f;
    Tensor x = Tensor::from_vector(values, shape);
    Generator gen(9);
    Tensor dout = randn(max_pool2d_forward(x, p, Impl::Naive).shape(), gen);
    for (const Implementation& impl : usable_implementations("max_pool2d")) {
      const Device d = device_of(impl);
      auto loss = [&] { return dot(max_pool2d_forward(x.to(d), p, impl.impl), dout); };
      Tensor dx = max_pool2d_backward(dout.to(d), x.to(d), p, impl.impl);
      EXPECT_LE(relative_error(dx.to_vector(), numeric_gradient(loss, x, 1e-2f)), 1e-4)
          << impl.name << " kernel " << p.kernel_h << "x" << p.kernel_w << " stride " << p.stride;
    }
  }
}

TEST(MaxPool2d, BadArgumentsNameTheOpAndShapes) {
  expect_error([] { max_pool2d_forward(Tensor::zeros({1, 1, 2, 3}), {3, 3, 1}); }, {"max_pool2d", "3x3", "[1,1,2,3]"});
  expect_error([] { max_pool2d_forward(Tensor::zeros({2, 4, 4}), {2, 2, 2}); }, {"max_pool2d", "4 dimensions", "[2,4,4]"});
  expect_error([] { max_pool2d_forward(Tensor::zeros({1, 1, 4, 4}), {2, 2, 0}); }, {"max_pool2d", "stride 0"});
  expect_error([] { max_pool2d_backward(Tensor::zeros({1, 1, 3, 3}), Tensor::zeros({1, 1, 4, 4}), {2, 2, 2}); },
               {"max_pool2d", "dout", "[1,1,2,2]", "[1,1,3,3]"});
}

}  // namespace
