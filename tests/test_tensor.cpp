#include "core/random.h"
#include "core/tensor.h"
#include "tests/test_util.h"

using namespace cudl;

TEST(Tensor, ShapeStridesAndViews) {
  Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.strides(), (std::vector<std::int64_t>{3, 1}));
  EXPECT_EQ(t.size(-1), 3);
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.data<float>(), t.data<float>());  // a view: same memory
  Tensor s = t.slice(1, 2);
  EXPECT_EQ(s.shape(), (Shape{1, 3}));
  EXPECT_EQ(s.to_vector(), (std::vector<float>{3, 4, 5}));
  s.fill(7);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 1, 2, 7, 7, 7}));
}

TEST(Tensor, CopiesAreExplicitAndDeep) {
  Tensor t = Tensor::full({4}, 1.5f);
  Tensor c = t.clone();
  c.fill(2.0f);
  EXPECT_EQ(t.to_vector(), (std::vector<float>(4, 1.5f)));
  EXPECT_EQ(c.to_vector(), (std::vector<float>(4, 2.0f)));
  Tensor moved = std::move(c);
  EXPECT_TRUE(moved.defined());
  EXPECT_FALSE(c.defined());  // NOLINT: moved-from is undefined by design
}

TEST(Tensor, BadArgumentsThrowWithContext) {
  Tensor t = Tensor::zeros({2, 3});
  try {
    t.reshape({4, 2});
    FAIL() << "reshape to the wrong size did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2,3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.slice(1, 3), Error);
  EXPECT_THROW(t.data<std::int64_t>(), Error);
  EXPECT_THROW(Tensor::from_vector(std::vector<float>{1, 2}, {3}), Error);
}

TEST(Philox, KnownAnswer) {
  // Random123's known-answer test for philox4x32_10: counter 0, key 0.
  const PhiloxWords x = philox4x32_10(0, 0);
  EXPECT_EQ(x.w[0], 0x6627e8d5u);
  EXPECT_EQ(x.w[1], 0xe169c58du);
  EXPECT_EQ(x.w[2], 0xbc57ac4cu);
  EXPECT_EQ(x.w[3], 0x9b00dbd8u);
}

TEST(Philox, StreamResumesExactlyAndMomentsAreRight) {
  Generator a(42);
  Tensor first = randn({1000}, a);
  Tensor second = randn({1000}, a);
  Generator b(42, a.offset() - 250);  // resume at the start of `second`
  Tensor again = randn({1000}, b);
  EXPECT_EQ(second.to_vector(), again.to_vector());
  EXPECT_NE(first.to_vector(), second.to_vector());

  Generator g(7);
  std::vector<float> v = randn({200000}, g).to_vector();
  double mean = 0, var = 0;
  for (float x : v) mean += x;
  mean /= v.size();
  for (float x : v) var += (x - mean) * (x - mean);
  var /= v.size();
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.01);
}

TEST(Philox, SameNumbersOnCpuAndCuda) {
  CUDL_REQUIRE_CUDA();
  Generator cpu_gen(123), gpu_gen(123);
  Tensor cpu_u = rand({4099}, cpu_gen), cpu_n = randn({4099}, cpu_gen);
  Tensor gpu_u = rand({4099}, gpu_gen, Device::cuda()), gpu_n = randn({4099}, gpu_gen, Device::cuda());
  EXPECT_EQ(cpu_u.to_vector(), gpu_u.to_vector());  // uniform bits are exact
  EXPECT_LT(test::relative_error(gpu_n, cpu_n), 1e-6);
  EXPECT_EQ(cpu_gen.offset(), gpu_gen.offset());
  // A shifted and scaled fill (as layer initialisation does) must not be fused into an
  // FMA on the GPU: it would round once where the CPU rounds twice.
  Tensor cpu_w = Tensor::empty({4099}), gpu_w = Tensor::empty({4099}, DType::F32, Device::cuda());
  fill_uniform(cpu_w, cpu_gen, -0.19245f, 0.19245f);
  fill_uniform(gpu_w, gpu_gen, -0.19245f, 0.19245f);
  EXPECT_EQ(cpu_w.to_vector(), gpu_w.to_vector());
}
