// The plumbing ops an autograd graph is built from: matmul, permute/transpose,
// concat/slice/split/chunk, embedding, upsample_bilinear2d. Known values, every
// backward against finite differences (naive and fast CPU), argument checks; the
// GPU tests cover what the registry's agreement cases cannot (batch chunking,
// device-side index checks, determinism).
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "kernels/embedding.h"
#include "kernels/matmul.h"
#include "kernels/shape.h"
#include "kernels/upsample_bilinear.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {

constexpr Impl kCpuImpls[] = {Impl::Naive, Impl::Fast};

// Every op here is linear in each differentiated input, so the central
// difference is exact up to float32 rounding of the loss.
constexpr double kGradTolerance = 1e-3;

// d/dx of sum(forward() * dout), numerically, against `analytic`.
void expect_gradient(const std::function<Tensor()>& forward, Tensor& x, const Tensor& dout, const Tensor& analytic,
                     const std::string& what) {
  auto loss = [&] { return test::dot(forward(), dout); };
  EXPECT_LT(test::relative_error(analytic.to_vector(), test::numeric_gradient(loss, x, 1e-2f)), kGradTolerance)
      << what;
}

void expect_error_naming(const std::string& op, const std::function<void()>& f) {
  const std::string message = test::error_of(f);
  EXPECT_NE(message.find(op), std::string::npos) << message;
}

Tensor random(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen);
}

}  // namespace

// ---- matmul ----
TEST(Matmul, KnownValues) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector(std::vector<float>{1, 0, 0, 1, 1, 1}, {3, 2});
  for (Impl impl : kCpuImpls) {
    EXPECT_EQ(matmul_forward(a, b, impl).to_vector(), (std::vector<float>{4, 5, 10, 11})) << impl_name(impl);
    // a^T (a stored [2, 3] as op(a) [3, 2]) times a [2, 3] is [3, 3].
    EXPECT_EQ(matmul_forward(a, a, true, false, impl).to_vector(),
              (std::vector<float>{17, 22, 27, 22, 29, 36, 27, 36, 45}))
        << impl_name(impl);
  }
}

TEST(Matmul, GradientsMatchFiniteDifferences) {
  struct Config {
    Shape a, b;
    bool trans_a, trans_b;
  };
  const Config configs[] = {
      {{2, 3, 4}, {2, 4, 5}, false, false}, {{2, 3, 4}, {4, 5}, false, false},  // shared b: folded rows
      {{3, 4}, {2, 4, 5}, false, false},    {{2, 4, 3}, {4, 5}, true, false},    // shared b, a transposed
      {{2, 3, 4}, {2, 5, 4}, false, true},  {{4, 3}, {2, 5, 4}, true, true},
  };
  for (const Config& c : configs) {
    for (Impl impl : kCpuImpls) {
      Tensor a = random(c.a, 1), b = random(c.b, 2);
      Tensor out = matmul_forward(a, b, c.trans_a, c.trans_b, impl);
      Tensor dout = random(out.shape(), 3);
      MatmulGrads g = matmul_backward(dout, a, b, c.trans_a, c.trans_b, impl);
      const std::string what = shape_str(c.a) + " @ " + shape_str(c.b) + " trans " + std::to_string(c.trans_a) +
                               std::to_string(c.trans_b) + " " + impl_name(impl);
      auto forward = [&] { return matmul_forward(a, b, c.trans_a, c.trans_b, impl); };
      expect_gradient(forward, a, dout, g.da, "da of " + what);
      expect_gradient(forward, b, dout, g.db, "db of " + what);
    }
  }
}

TEST(Matmul, BadArgumentsNameTheOp) {
  expect_error_naming("matmul", [] { matmul_forward(Tensor::zeros({2, 3}), Tensor::zeros({4, 2})); });
  expect_error_naming("matmul", [] { matmul_forward(Tensor::zeros({3}), Tensor::zeros({3, 2})); });
  expect_error_naming("matmul", [] { matmul_forward(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 2})); });
  expect_error_naming("matmul", [] { matmul_forward(Tensor::zeros({2, 0}), Tensor::zeros({0, 2})); });
  expect_error_naming("matmul", [] {
    matmul_backward(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}), Tensor::zeros({3, 2}));  // dout should be [2, 2]
  });
}

// ---- permute, transpose ----
TEST(Permute, KnownValuesAndTranspose) {
  Tensor x = Tensor::from_vector(test::linspace(0, 5, 6), {2, 3});
  for (Impl impl : kCpuImpls) {
    Tensor t = permute_forward(x, {1, 0}, impl);
    EXPECT_EQ(t.shape(), (Shape{3, 2}));
    EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5})) << impl_name(impl);
    EXPECT_EQ(transpose_forward(x, -1, 0, impl).to_vector(), t.to_vector()) << impl_name(impl);
  }
}

TEST(Permute, GradientIsTheInversePermutation) {
  const std::vector<std::int64_t> dims = {2, 0, 3, 1};
  for (Impl impl : kCpuImpls) {
    Tensor x = random({2, 3, 4, 5}, 4);
    Tensor dout = random(permute_forward(x, dims, impl).shape(), 5);
    const Tensor dx = permute_backward(dout, dims, impl);
    expect_gradient([&] { return permute_forward(x, dims, impl); }, x, dout, dx, impl_name(impl));
  }
}

TEST(Permute, BadArgumentsNameTheOp) {
  expect_error_naming("permute", [] { permute_forward(Tensor::zeros({2, 3}), {0}); });
  expect_error_naming("permute", [] { permute_forward(Tensor::zeros({2, 3}), {1, 1}); });
  expect_error_naming("permute", [] { permute_forward(Tensor::zeros({2, 3}), {0, 2}); });
  expect_error_naming("transpose", [] { transpose_forward(Tensor::zeros({2, 3}), 0, -3); });
}

// ---- concat, slice, split, chunk ----
TEST(ConcatSlice, KnownValues) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector(std::vector<float>{5, 6}, {2, 1});
  for (Impl impl : kCpuImpls) {
    Tensor c = concat_forward({&a, &b}, -1, impl);
    EXPECT_EQ(c.shape(), (Shape{2, 3}));
    EXPECT_EQ(c.to_vector(), (std::vector<float>{1, 2, 5, 3, 4, 6})) << impl_name(impl);
    EXPECT_EQ(slice_forward(c, 1, 1, 3, impl).to_vector(), (std::vector<float>{2, 5, 4, 6})) << impl_name(impl);
    Tensor dout = Tensor::from_vector(std::vector<float>{7, 8}, {1, 2});
    EXPECT_EQ(slice_backward(dout, {2, 2}, 0, 1, impl).to_vector(), (std::vector<float>{0, 0, 7, 8}))
        << impl_name(impl);
  }
}

TEST(ConcatSlice, GradientsMatchFiniteDifferences) {
  for (Impl impl : kCpuImpls) {
    Tensor x0 = random({2, 3, 4}, 6), x1 = random({2, 1, 4}, 7), x2 = random({2, 2, 4}, 8);
    auto forward = [&] { return concat_forward({&x0, &x1, &x2}, 1, impl); };
    Tensor dout = random(forward().shape(), 9);
    std::vector<Tensor> grads = concat_backward(dout, {3, 1, 2}, 1, impl);
    ASSERT_EQ(grads.size(), 3u);
    expect_gradient(forward, x0, dout, grads[0], std::string("dx0 ") + impl_name(impl));
    expect_gradient(forward, x1, dout, grads[1], std::string("dx1 ") + impl_name(impl));
    expect_gradient(forward, x2, dout, grads[2], std::string("dx2 ") + impl_name(impl));

    Tensor x = random({3, 7, 2}, 10);
    Tensor dslice = random({3, 4, 2}, 11);
    expect_gradient([&] { return slice_forward(x, -2, 2, 6, impl); }, x, dslice,
                    slice_backward(dslice, x.shape(), -2, 2, impl), std::string("slice ") + impl_name(impl));
  }
}

TEST(ConcatSlice, SplitAndChunkFollowTorch) {
  Tensor x = random({2, 5, 3}, 12);
  auto sizes = [](const std::vector<Tensor>& parts) {
    std::vector<std::int64_t> s;
    for (const Tensor& p : parts) s.push_back(p.size(1));
    return s;
  };
  EXPECT_EQ(sizes(split(x, 2, 1)), (std::vector<std::int64_t>{2, 2, 1}));
  EXPECT_EQ(sizes(chunk(x, 3, 1)), (std::vector<std::int64_t>{2, 2, 1}));
  EXPECT_EQ(sizes(chunk(x, 5, -2)), (std::vector<std::int64_t>{1, 1, 1, 1, 1}));
  Tensor y = random({2, 6}, 13);
  EXPECT_EQ(chunk(y, 4, 1).size(), 3u);  // torch.chunk: ceil(6 / 4) = 2 per chunk, so 3 chunks
  // The pieces put back together are the tensor.
  std::vector<Tensor> parts = split(x, 2, 1);
  EXPECT_EQ(concat_forward({&parts[0], &parts[1], &parts[2]}, 1).to_vector(), x.to_vector());
}

TEST(ConcatSlice, BadArgumentsNameTheOp) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 3}), c = Tensor::zeros({2, 3, 1});
  expect_error_naming("concat", [&] { concat_forward({&a, &b}, 1); });
  expect_error_naming("concat", [&] { concat_forward({&a, &c}, 1); });
  expect_error_naming("concat", [] { concat_forward({}, 0); });
  expect_error_naming("concat", [&] { concat_backward(a, {1, 1}, 1); });
  expect_error_naming("slice", [&] { slice_forward(a, 1, 2, 4); });
  expect_error_naming("slice", [&] { slice_forward(a, 1, 2, 1); });
  expect_error_naming("slice", [&] { slice_forward(a, 2, 0, 1); });
  expect_error_naming("slice", [&] { slice_backward(a, {2, 4}, 1, 2); });
  expect_error_naming("split", [&] { split(a, 0, 1); });
  expect_error_naming("chunk", [&] { chunk(a, 0, 1); });
}

// ---- embedding ----
TEST(Embedding, KnownValuesAndPadding) {
  Tensor w = Tensor::from_vector(test::linspace(0, 5, 6), {3, 2});
  Tensor idx = Tensor::from_vector(std::vector<std::int64_t>{2, 0, 2}, {1, 3});
  Tensor dout = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 3, 2});
  for (Impl impl : kCpuImpls) {
    EXPECT_EQ(embedding_forward(idx, w, impl).to_vector(), (std::vector<float>{4, 5, 0, 1, 4, 5})) << impl_name(impl);
    // Row 2 collects positions 0 and 2; row 1 is never used.
    EXPECT_EQ(embedding_backward(dout, idx, 3, std::nullopt, impl).to_vector(), (std::vector<float>{3, 4, 0, 0, 6, 8}))
        << impl_name(impl);
    // padding_idx -1 is row 2: no gradient there, as torch.
    EXPECT_EQ(embedding_backward(dout, idx, 3, -1, impl).to_vector(), (std::vector<float>{3, 4, 0, 0, 0, 0}))
        << impl_name(impl);
  }
}

TEST(Embedding, GradientMatchesFiniteDifferences) {
  Generator gen(14);
  Tensor idx = Tensor::from_vector(std::vector<std::int64_t>{0, 3, 3, 1, 4, 3, 0, 2}, {2, 4});
  for (Impl impl : kCpuImpls) {
    Tensor w = randn({5, 3}, gen), dout = randn({2, 4, 3}, gen);
    expect_gradient([&] { return embedding_forward(idx, w, impl); }, w, dout,
                    embedding_backward(dout, idx, 5, std::nullopt, impl), impl_name(impl));
  }
}

TEST(Embedding, OutOfRangeIndexNamesTheIndexAndV) {
  Tensor w = Tensor::zeros({4, 2});
  for (std::int64_t bad : {4, -1}) {
    Tensor idx = Tensor::from_vector(std::vector<std::int64_t>{0, bad, 1}, {3});
    for (Impl impl : kCpuImpls) {
      const std::string message = test::error_of([&] { embedding_forward(idx, w, impl); });
      EXPECT_NE(message.find("embedding"), std::string::npos) << message;
      EXPECT_NE(message.find("index " + std::to_string(bad)), std::string::npos) << message;
      EXPECT_NE(message.find("4 embeddings"), std::string::npos) << message;
      expect_error_naming("embedding", [&] { embedding_backward(Tensor::zeros({3, 2}), idx, 4, std::nullopt, impl); });
    }
  }
  expect_error_naming("embedding", [&] {
    embedding_backward(Tensor::zeros({1, 2}), Tensor::zeros({1}, DType::I64), 4, 4);  // padding_idx out of range
  });
  expect_error_naming("embedding", [&] { embedding_forward(Tensor::zeros({2}), w); });  // float indices
}

// ---- upsample_bilinear2d ----
TEST(UpsampleBilinear, KnownValues) {
  // One row [a, b] = [1, 3] at scale 2: sample points -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to b).
  Tensor x = Tensor::from_vector(std::vector<float>{1, 3}, {1, 1, 1, 2});
  for (Impl impl : kCpuImpls) {
    Tensor out = upsample_bilinear2d_forward(x, 2, impl);
    EXPECT_EQ(out.shape(), (Shape{1, 1, 2, 4}));
    EXPECT_EQ(out.to_vector(), (std::vector<float>{1, 1.5, 2.5, 3, 1, 1.5, 2.5, 3})) << impl_name(impl);
    // Each input's weights over the 8 outputs: a gets 2 * (1 + 0.75 + 0.25), b the same.
    EXPECT_EQ(upsample_bilinear2d_backward(Tensor::full({1, 1, 2, 4}, 1.0f), 2, impl).to_vector(),
              (std::vector<float>{4, 4}))
        << impl_name(impl);
  }
}

TEST(UpsampleBilinear, GradientMatchesFiniteDifferences) {
  for (std::int64_t scale : {1, 2, 3}) {
    for (Impl impl : kCpuImpls) {
      Tensor x = random({2, 2, 3, 4}, 15);
      Tensor dout = random({2, 2, 3 * scale, 4 * scale}, 16);
      expect_gradient([&] { return upsample_bilinear2d_forward(x, scale, impl); }, x, dout,
                      upsample_bilinear2d_backward(dout, scale, impl),
                      "scale " + std::to_string(scale) + " " + impl_name(impl));
    }
  }
}

TEST(UpsampleBilinear, BadArgumentsNameTheOp) {
  expect_error_naming("upsample_bilinear2d", [] { upsample_bilinear2d_forward(Tensor::zeros({2, 3, 4}), 2); });
  expect_error_naming("upsample_bilinear2d", [] { upsample_bilinear2d_forward(Tensor::zeros({1, 1, 2, 2}), 0); });
  expect_error_naming("upsample_bilinear2d", [] { upsample_bilinear2d_backward(Tensor::zeros({1, 1, 5, 4}), 2); });
}

// ---- CUDA: what the registry's cases do not reach ----
TEST(PlumbingCuda, MatmulBatchesBeyondOneLaunch) {
  CUDL_REQUIRE_CUDA();
  // 70000 products: more than gemm_tiled_batched's 65535 per launch.
  Tensor a = random({70000, 2, 3}, 17), b = random({70000, 3, 2}, 18);
  const Tensor want = matmul_forward(a, b, Impl::Fast);
  for (Impl impl : {Impl::Naive, Impl::Fast, Impl::Vendor})
    EXPECT_LT(test::relative_error(matmul_forward(a.to(Device::cuda()), b.to(Device::cuda()), impl), want), 1e-6)
        << impl_name(impl);
}

TEST(PlumbingCuda, PermuteTilesBeyondOneGridLayer) {
  CUDL_REQUIRE_CUDA();
  // 70000 outer combinations of a 3 x 2 transpose: the tiled kernel's grid z loops.
  Tensor x = random({70000, 3, 2}, 19);
  const Tensor want = permute_forward(x, {0, 2, 1}, Impl::Naive);
  EXPECT_EQ(permute_forward(x.to(Device::cuda()), {0, 2, 1}, Impl::Fast).to_vector(), want.to_vector());
}

TEST(PlumbingCuda, EmbeddingOutOfRangeIsAnError) {
  CUDL_REQUIRE_CUDA();
  Tensor w = Tensor::zeros({4, 2}, DType::F32, Device::cuda());
  Tensor idx = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 7, 2}, {4}, Device::cuda());
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const std::string message = test::error_of([&] { embedding_forward(idx, w, impl); });
    EXPECT_NE(message.find("index 7 at position 2"), std::string::npos) << message;
  }
}

TEST(PlumbingCuda, EmbeddingBackwardIsDeterministic) {
  CUDL_REQUIRE_CUDA();
  // Many positions on few rows: the sorted gradient must not depend on scheduling.
  Generator gen(20);
  Tensor u = Tensor::empty({64, 512});
  fill_uniform(u, gen);
  std::vector<std::int64_t> values;
  for (float v : u.to_vector()) values.push_back(static_cast<std::int64_t>(v * 7.99f));
  Tensor idx = Tensor::from_vector(values, {64, 512}, Device::cuda());
  Tensor dout = randn({64, 512, 96}, gen, Device::cuda());
  const std::vector<float> first = embedding_backward(dout, idx, 8, 3, Impl::Fast).to_vector();
  EXPECT_EQ(embedding_backward(dout, idx, 8, 3, Impl::Fast).to_vector(), first);
  const Tensor want = embedding_backward(dout.to(Device::cpu()), idx.to(Device::cpu()), 8, 3, Impl::Naive);
  EXPECT_LT(test::relative_error(Tensor::from_vector(first, {8, 96}), want), 1e-6);
}
