// upsample_nearest2d: known values, implementations agree, gradient, bad arguments.
#include "core/random.h"
#include "kernels/upsample.h"
#include "tests/grad_check.h"
#include "tests/test_util.h"

using namespace cudl;

TEST(Upsample, KnownValues) {
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    Tensor out = upsample_nearest2d_forward(x, 2, impl);
    EXPECT_EQ(out.shape(), (Shape{1, 1, 4, 4}));
    EXPECT_EQ(out.to_vector(), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
    Tensor dout = Tensor::from_vector(test::linspace(1, 16, 16), {1, 1, 4, 4});
    // Each input collects its 2x2 block: 1+2+5+6, 3+4+7+8, 9+10+13+14, 11+12+15+16.
    EXPECT_EQ(upsample_nearest2d_backward(dout, 2, impl).to_vector(), (std::vector<float>{14, 22, 46, 54}));
  }
}

TEST(Upsample, GradientMatchesFiniteDifferences) {
  Generator gen(4);
  Tensor x = randn({2, 2, 3, 3}, gen), dout = randn({2, 2, 9, 9}, gen);
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const Tensor dx = upsample_nearest2d_backward(dout, 3, impl);
    auto f = [&] { return test::dot(upsample_nearest2d_forward(x, 3, impl), dout); };
    EXPECT_LT(test::relative_error(dx.to_vector(), test::numeric_gradient(f, x, 1e-2f)), 1e-3) << impl_name(impl);
  }
}

TEST(Upsample, BadArgumentsNameTheOp) {
  auto expect_error = [](const std::function<void()>& f) {
    const std::string message = test::error_of(f);
    EXPECT_NE(message.find("upsample_nearest2d"), std::string::npos) << message;
  };
  expect_error([] { upsample_nearest2d_forward(Tensor::zeros({2, 3, 4}), 2); });
  expect_error([] { upsample_nearest2d_forward(Tensor::zeros({1, 1, 2, 2}), 0); });
  expect_error([] { upsample_nearest2d_backward(Tensor::zeros({1, 1, 5, 4}), 2); });
}
