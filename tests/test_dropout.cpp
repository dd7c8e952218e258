// Dropout: mask statistics and scaling, the same mask from every implementation
// and device for the same generator state, eval identity, backward through the mask.
#include <cmath>

#include "core/random.h"
#include "kernels/dropout.h"
#include "tests/test_util.h"

using namespace cudl;

TEST(Dropout, DropsAFractionPAndScalesTheRest) {
  const std::int64_t n = 100000;
  for (float p : {0.1f, 0.5f, 0.8f}) {
    for (Impl impl : {Impl::Naive, Impl::Fast}) {
      Generator gen(2024);
      Tensor x = Tensor::full({n}, 1.0f);
      DropoutResult r = dropout_forward(x, p, gen, /*training=*/true, impl);
      const std::vector<float> out = r.out.to_vector(), mask = r.mask.to_vector();
      std::int64_t dropped = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        if (mask[i] == 0.0f) {
          ++dropped;
          EXPECT_EQ(out[i], 0.0f);
        } else {
          ASSERT_EQ(mask[i], 1.0f / (1.0f - p)) << "element " << i;
          ASSERT_EQ(out[i], mask[i]);
        }
      }
      const double sigma = std::sqrt(p * (1.0 - p) / n);
      EXPECT_NEAR(static_cast<double>(dropped) / n, p, 4 * sigma) << "p " << p << " " << impl_name(impl);
    }
  }
}

TEST(Dropout, CudaDrawsTheSameMaskAsCpu) {
  CUDL_REQUIRE_CUDA();
  // A view that starts 12 bytes into its storage takes the unaligned path.
  Generator data_gen(1);
  Tensor whole = randn({4, 4099}, data_gen);
  Tensor cpu_x = Tensor::empty({4 * 4099 - 3});
  cpu_x.copy_from(whole.reshape({-1}).slice(3, 4 * 4099));
  Tensor gpu_whole = whole.to(Device::cuda());
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    Generator cpu_gen(99, 5), gpu_gen(99, 5);
    DropoutResult cpu = dropout_forward(cpu_x, 0.3f, cpu_gen, true, Impl::Naive);
    DropoutResult gpu = dropout_forward(gpu_whole.reshape({-1}).slice(3, 4 * 4099), 0.3f, gpu_gen, true, impl);
    EXPECT_EQ(cpu.mask.to_vector(), gpu.mask.to_vector()) << impl_name(impl);
    EXPECT_EQ(cpu.out.to_vector(), gpu.out.to_vector()) << impl_name(impl);
    EXPECT_EQ(cpu_gen.offset(), gpu_gen.offset());
  }
}

TEST(Dropout, SuccessiveCallsDrawFreshMasks) {
  Generator gen(5);
  Tensor x = Tensor::full({1000}, 1.0f);
  DropoutResult first = dropout_forward(x, 0.5f, gen, true);
  DropoutResult second = dropout_forward(x, 0.5f, gen, true);
  EXPECT_NE(first.mask.to_vector(), second.mask.to_vector());
  EXPECT_EQ(gen.offset(), 2u * 250u);  // 1000 values take 250 Philox blocks per call
}

TEST(Dropout, EvalModeIsTheIdentity) {
  Generator gen(5);
  Tensor x = Tensor::from_vector(std::vector<float>{1, -2, 3}, {3});
  DropoutResult r = dropout_forward(x, 0.5f, gen, /*training=*/false);
  EXPECT_EQ(r.out.to_vector(), x.to_vector());
  EXPECT_FALSE(r.mask.defined());
  EXPECT_EQ(gen.offset(), 0u);  // no random numbers consumed
}

TEST(Dropout, BackwardMultipliesByTheMask) {
  Generator gen(8);
  Tensor x = randn({6, 50}, gen), dout = randn({6, 50}, gen);
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    DropoutResult r = dropout_forward(x, 0.4f, gen, true, impl);
    const std::vector<float> dx = dropout_backward(dout, r.mask, impl).to_vector(), mask = r.mask.to_vector(),
                             g = dout.to_vector();
    for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_EQ(dx[i], g[i] * mask[i]) << "element " << i;
  }
}

TEST(Dropout, BadArgumentsNameTheOp) {
  Generator gen(1);
  Tensor x = Tensor::zeros({4});
  for (float p : {1.0f, -0.1f, 1.5f})
    EXPECT_NE(test::error_of([&] { dropout_forward(x, p, gen, true); }).find("dropout"), std::string::npos) << p;
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{1, 2}, {2});
  EXPECT_NE(test::error_of([&] { dropout_forward(labels, 0.5f, gen, true); }).find("dropout"), std::string::npos);
  EXPECT_NE(test::error_of([&] { dropout_backward(x, Tensor::zeros({5})); }).find("dropout"), std::string::npos);
}
