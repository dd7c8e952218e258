// scaled_dot_product_attention, positional_encoding, temporal_softmax_loss:
// gradients against finite differences, rows that attend nothing, values by
// hand, argument errors, and on a GPU the flash kernels against the CPU reference
// and their memory. (Naive vs fast vs CUDA on the registry's cases: test_op_agreement.)
#include <cmath>
#include <limits>
#include <vector>

#include "core/allocator.h"
#include "core/random.h"
#include "kernels/attention.h"
#include "kernels/positional_encoding.h"
#include "kernels/registry.h"
#include "kernels/temporal_softmax_loss.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {
// A [S, T] 0/1 mask from a list of rows.
Tensor mask_of(const std::vector<std::vector<float>>& rows) {
  std::vector<float> values;
  for (const auto& r : rows) values.insert(values.end(), r.begin(), r.end());
  return Tensor::from_vector(values, {static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
}

// Row `row` of a [..., rows, cols] tensor flattened to [rows_total, cols].
std::vector<float> row_of(const Tensor& t, std::int64_t row) {
  const std::int64_t cols = t.size(-1);
  const std::vector<float> all = t.to_vector();
  return {all.begin() + row * cols, all.begin() + (row + 1) * cols};
}
}  // namespace

TEST(Attention, GradientsMatchFiniteDifferences) {
  Generator gen(21);
  const Tensor mask = mask_of({{1, 0, 1, 1, 0}, {0, 1, 1, 0, 1}, {1, 1, 0, 1, 1}, {1, 0, 0, 0, 1}});
  struct Setting {
    const char* name;
    bool causal;
    const Tensor* mask;
  };
  for (const Setting& setting : {Setting{"plain", false, nullptr}, Setting{"causal", true, nullptr},
                                 Setting{"masked", false, &mask}, Setting{"masked_causal", true, &mask}}) {
    for (Impl impl : {Impl::Naive, Impl::Fast}) {
      Tensor q = randn({1, 2, 4, 6}, gen), k = randn({1, 2, 5, 6}, gen), v = randn({1, 2, 5, 6}, gen);
      const AttentionOptions o{setting.causal, setting.mask, std::nullopt};
      const Tensor projection = randn({1, 2, 4, 6}, gen);
      const AttentionForward f = scaled_dot_product_attention_forward(q, k, v, o, impl);
      const AttentionGrads g = scaled_dot_product_attention_backward(projection, q, k, v, f.out, f.lse, o, impl);
      auto loss = [&] { return test::dot(scaled_dot_product_attention_forward(q, k, v, o, impl).out, projection); };
      const std::string what = std::string(setting.name) + " " + impl_name(impl);
      EXPECT_LT(test::relative_error(g.dq.to_vector(), test::numeric_gradient(loss, q, 1e-2f)), 1e-2) << what;
      EXPECT_LT(test::relative_error(g.dk.to_vector(), test::numeric_gradient(loss, k, 1e-2f)), 1e-2) << what;
      EXPECT_LT(test::relative_error(g.dv.to_vector(), test::numeric_gradient(loss, v, 1e-2f)), 1e-2) << what;
    }
  }
}

TEST(Attention, ARowThatAttendsNothingGivesZerosAndInfiniteLse) {
  Generator gen(5);
  const Tensor mask = mask_of({{1, 1, 0}, {0, 0, 0}, {0, 1, 1}});
  const Tensor q = randn({2, 1, 3, 4}, gen), k = randn({2, 1, 3, 4}, gen), v = randn({2, 1, 3, 4}, gen);
  const Tensor dout = randn(q.shape(), gen);
  const AttentionOptions o{false, &mask, std::nullopt};
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const AttentionForward f = scaled_dot_product_attention_forward(q, k, v, o, impl);
    const AttentionGrads g = scaled_dot_product_attention_backward(dout, q, k, v, f.out, f.lse, o, impl);
    const std::vector<float> lse = f.lse.to_vector();
    for (std::int64_t n = 0; n < 2; ++n) {
      const std::int64_t row = n * 3 + 1;
      EXPECT_EQ(lse[row], std::numeric_limits<float>::infinity()) << impl_name(impl);
      EXPECT_EQ(row_of(f.out, row), std::vector<float>(4, 0.0f)) << impl_name(impl);
      EXPECT_EQ(row_of(g.dq, row), std::vector<float>(4, 0.0f)) << impl_name(impl);
      EXPECT_TRUE(std::isfinite(lse[row - 1]) && std::isfinite(lse[row + 1])) << impl_name(impl);
    }
    for (const Tensor* t : {&g.dk, &g.dv})
      for (float x : t->to_vector()) ASSERT_TRUE(std::isfinite(x)) << impl_name(impl);
  }
}

TEST(Attention, FastLseMatchesNaive) {
  Generator gen(8);
  const Tensor q = randn({2, 3, 70, 16}, gen), k = randn({2, 3, 90, 16}, gen), v = randn({2, 3, 90, 16}, gen);
  const AttentionOptions o{true, nullptr, 0.3f};
  const AttentionForward naive = scaled_dot_product_attention_forward(q, k, v, o, Impl::Naive);
  const AttentionForward fast = scaled_dot_product_attention_forward(q, k, v, o, Impl::Fast);
  EXPECT_LT(test::relative_error(fast.lse, naive.lse), 1e-6);
  EXPECT_LT(test::relative_error(fast.out, naive.out), 1e-5);
}

TEST(Attention, RegistryCaseRowsMaskedOutHasRowsThatAttendNothing) {
  const OpDef& op = *find_op("scaled_dot_product_attention");
  for (const OpCase& c : op.cases) {
    if (c.label != "rows_masked_out") continue;
    const std::vector<float> mask = make_inputs(c, 42).at("attn_mask").to_vector();  // the agreement tests' seed
    int empty_rows = 0;
    for (std::size_t i = 0; i < mask.size(); i += 2) empty_rows += mask[i] == 0.0f && mask[i + 1] == 0.0f;
    EXPECT_GT(empty_rows, 0);
    return;
  }
  FAIL() << "no rows_masked_out case";
}

TEST(Attention, BadArgumentsNameTheOp) {
  const Tensor q = Tensor::zeros({1, 2, 3, 4}), k = Tensor::zeros({1, 2, 5, 4});
  auto expect_error = [](const std::function<void()>& fn, const std::string& part) {
    const std::string msg = test::error_of(fn);
    EXPECT_NE(msg.find("scaled_dot_product_attention"), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  };
  expect_error([&] { scaled_dot_product_attention_forward(q, Tensor::zeros({1, 2, 5, 3}), k); }, "expected k");
  expect_error([&] { scaled_dot_product_attention_forward(q, k, Tensor::zeros({1, 2, 4, 4})); }, "expected v");
  const Tensor wrong_mask = Tensor::zeros({5, 3});
  expect_error([&] { scaled_dot_product_attention_forward(q, k, k, {false, &wrong_mask, std::nullopt}); },
               "attn_mask of shape [3,5]");
  const AttentionForward f = scaled_dot_product_attention_forward(q, k, k);
  expect_error([&] { scaled_dot_product_attention_backward(q, q, k, k, f.out, Tensor::zeros({1, 2, 4})); },
               "lse of shape [1,2,3]");
}

TEST(Attention, FlashMatchesCpuNaive) {
  CUDL_REQUIRE_CUDA();
  Generator gen(3);
  struct Problem {
    std::int64_t s, t, dh;
    bool causal, masked;
  };
  // Sizes that leave partial tiles, every compiled head dim, causal with S != T,
  // and a mask whose row 5 attends nothing.
  for (const Problem& p : {Problem{200, 200, 64, false, false}, Problem{130, 77, 64, true, true},
                           Problem{77, 130, 128, true, false}, Problem{96, 100, 128, false, true},
                           Problem{33, 65, 20, false, true}, Problem{64, 64, 100, true, true}}) {
    const Tensor q = randn({2, 3, p.s, p.dh}, gen), k = randn({2, 3, p.t, p.dh}, gen), v = randn({2, 3, p.t, p.dh}, gen);
    const Tensor dout = randn(q.shape(), gen);
    Tensor mask = Tensor::empty({p.s, p.t});
    fill_uniform(mask, gen);
    std::vector<float> m = mask.to_vector();
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = m[i] < 0.7f || i % p.t == 0 ? 1.0f : 0.0f;
    for (std::int64_t j = 0; j < p.t; ++j) m[5 * p.t + j] = 0.0f;
    mask = Tensor::from_vector(m, {p.s, p.t});
    const Tensor mask_gpu = mask.to(Device::cuda());
    const AttentionOptions cpu_o{p.causal, p.masked ? &mask : nullptr, std::nullopt};
    const AttentionOptions gpu_o{p.causal, p.masked ? &mask_gpu : nullptr, std::nullopt};
    const AttentionForward want = scaled_dot_product_attention_forward(q, k, v, cpu_o, Impl::Naive);
    const AttentionGrads want_g =
        scaled_dot_product_attention_backward(dout, q, k, v, want.out, want.lse, cpu_o, Impl::Naive);
    const Tensor qg = q.to(Device::cuda()), kg = k.to(Device::cuda()), vg = v.to(Device::cuda());
    const Tensor doutg = dout.to(Device::cuda());
    for (Impl impl : {Impl::Naive, Impl::Fast}) {
      const AttentionForward got = scaled_dot_product_attention_forward(qg, kg, vg, gpu_o, impl);
      const AttentionGrads got_g =
          scaled_dot_product_attention_backward(doutg, qg, kg, vg, got.out, got.lse, gpu_o, impl);
      const std::string what = "S " + std::to_string(p.s) + " T " + std::to_string(p.t) + " Dh " +
                               std::to_string(p.dh) + " " + impl_name(impl);
      EXPECT_LT(test::relative_error(got.out, want.out), 1e-5) << what;
      // lse: +inf rows must match exactly, the others closely.
      const std::vector<float> lw = want.lse.to_vector(), lg = got.lse.to_vector();
      for (std::size_t i = 0; i < lw.size(); ++i)
        ASSERT_TRUE(std::isinf(lw[i]) ? lg[i] == lw[i] : std::abs(lg[i] - lw[i]) <= 1e-4f * (1 + std::abs(lw[i])))
            << what << " lse[" << i << "] " << lg[i] << " vs " << lw[i];
      EXPECT_LT(test::relative_error(got_g.dq, want_g.dq), 1e-4) << what;
      EXPECT_LT(test::relative_error(got_g.dk, want_g.dk), 1e-4) << what;
      EXPECT_LT(test::relative_error(got_g.dv, want_g.dv), 1e-4) << what;
    }
  }
}

// The caching allocator's peak counter over one call, beyond what was in use before.
TEST(Attention, FlashNeedsNoScoreMatrixInDeviceMemory) {
  CUDL_REQUIRE_CUDA();
  Generator gen(4);
  const std::int64_t bh = 4, s = 2048, dh = 64;
  const Tensor q = randn({1, bh, s, dh}, gen, Device::cuda()), k = randn(q.shape(), gen, Device::cuda()),
               v = randn(q.shape(), gen, Device::cuda());
  const AttentionOptions o{true, nullptr, std::nullopt};
  const std::size_t scores = bh * s * s * sizeof(float), head_tensor = q.nbytes(), row_values = bh * s * sizeof(float);
  CachingAllocator& allocator = cuda_allocator();
  auto extra_peak = [&](const std::function<void()>& call) {
    const std::size_t before = allocator.stats().bytes_in_use;
    allocator.reset_peak();
    call();
    return allocator.stats().peak_bytes_in_use - before;
  };
  // Outputs: out + lse forward; dq, dk, dv (+ the forward's out, lse kept alive) backward.
  EXPECT_GE(extra_peak([&] { scaled_dot_product_attention_forward(q, k, v, o, Impl::Naive); }), scores);
  EXPECT_LE(extra_peak([&] { scaled_dot_product_attention_forward(q, k, v, o, Impl::Fast); }),
            head_tensor + row_values + 2 * CachingAllocator::kGranularity);
  const AttentionForward f = scaled_dot_product_attention_forward(q, k, v, o, Impl::Fast);
  EXPECT_GE(extra_peak([&] { scaled_dot_product_attention_backward(q, q, k, v, f.out, f.lse, o, Impl::Naive); }),
            2 * scores);
  EXPECT_LE(extra_peak([&] { scaled_dot_product_attention_backward(q, q, k, v, f.out, f.lse, o, Impl::Fast); }),
            3 * head_tensor + row_values + 4 * CachingAllocator::kGranularity);
}

TEST(Attention, FlashRejectsHeadDimsAbove128) {
  CUDL_REQUIRE_CUDA();
  const Tensor q = Tensor::zeros({1, 1, 4, 160}, DType::F32, Device::cuda());
  const std::string msg = test::error_of([&] { scaled_dot_product_attention_forward(q, q, q, {}, Impl::Fast); });
  EXPECT_NE(msg.find("Dh = 160"), std::string::npos) << msg;
}

TEST(PositionalEncoding, ValuesByHandAndPassThroughGradient) {
  const Tensor x = Tensor::zeros({2, 3, 5});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const std::vector<float> out = positional_encoding_forward(x, 3, impl).to_vector();
    // position 0: sin 0, cos 0, ...; position 2, dims 2 and 3: the angle 2 * 10000^(-2/5);
    // the odd width's last dim (4) is a sine.
    EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 5), (std::vector<float>{0, 1, 0, 1, 0}));
    const double angle = 2 * std::pow(10000.0, -2.0 / 5);
    EXPECT_NEAR(out[2 * 5 + 2], std::sin(angle), 1e-6);
    EXPECT_NEAR(out[2 * 5 + 3], std::cos(angle), 1e-6);
    EXPECT_NEAR(out[2 * 5 + 4], std::sin(2 * std::pow(10000.0, -4.0 / 5)), 1e-6);
    EXPECT_EQ(std::vector<float>(out.begin() + 15, out.end()), std::vector<float>(out.begin(), out.begin() + 15));
  }
  Generator gen(2);
  Tensor xs = randn({2, 4, 6}, gen);
  const Tensor projection = randn(xs.shape(), gen);
  auto loss = [&] { return test::dot(positional_encoding_forward(xs, 8), projection); };
  EXPECT_LT(test::relative_error(positional_encoding_backward(projection).to_vector(),
                                 test::numeric_gradient(loss, xs, 1e-2f)),
            1e-3);
  const std::string msg = test::error_of([&] { positional_encoding_forward(x, 2); });
  EXPECT_NE(msg.find("positional_encoding"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_len = 2"), std::string::npos) << msg;
}

TEST(TemporalSoftmaxLoss, GradientMatchesFiniteDifferences) {
  Generator gen(6);
  const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 3, 2, 1, 1, 4}, {2, 3});
  const Tensor mask = Tensor::from_vector(std::vector<float>{1, 1, 0, 1, 0, 0}, {2, 3});
  for (TemporalLossNormalize normalize : {TemporalLossNormalize::Batch, TemporalLossNormalize::Tokens})
    for (Impl impl : {Impl::Naive, Impl::Fast}) {
      Tensor x = randn({2, 3, 5}, gen);
      const LossResult r = temporal_softmax_loss(x, y, mask, normalize, impl);
      auto f = [&] { return static_cast<double>(temporal_softmax_loss(x, y, mask, normalize, impl).loss.item()); };
      EXPECT_LT(test::relative_error(r.dx.to_vector(), test::numeric_gradient(f, x, 1e-3f)), 1e-2) << impl_name(impl);
      // Masked steps get no gradient.
      EXPECT_EQ(row_of(r.dx, 2), std::vector<float>(5, 0.0f));
    }
}

TEST(TemporalSoftmaxLoss, TokensDividesByNTimesT) {
  Generator gen(7);
  const Tensor x = randn({4, 6, 11}, gen), mask = Tensor::full({4, 6}, 1.0f);
  Tensor u = rand({4, 6}, gen);
  std::vector<std::int64_t> labels;
  for (float value : u.to_vector()) labels.push_back(static_cast<std::int64_t>(value * 11) % 11);
  const Tensor y = Tensor::from_vector(labels, {4, 6});
  // Zero logits: every step's cross-entropy is log V, so the batch loss is T log V.
  const LossResult zeros = temporal_softmax_loss(Tensor::zeros({4, 6, 11}), y, mask);
  EXPECT_NEAR(zeros.loss.item(), 6 * std::log(11.0), 1e-5);
  const float batch = temporal_softmax_loss(x, y, mask, TemporalLossNormalize::Batch).loss.item();
  const float tokens = temporal_softmax_loss(x, y, mask, TemporalLossNormalize::Tokens).loss.item();
  EXPECT_NEAR(tokens * 6, batch, 1e-5 * batch);
}

TEST(TemporalSoftmaxLoss, BadLabelNamesTheStep) {
  const Tensor x = Tensor::zeros({2, 3, 4}), mask = Tensor::full({2, 3}, 1.0f);
  const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 3, 9, 0}, {2, 3});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const std::string msg = test::error_of([&] { temporal_softmax_loss(x, y, mask, TemporalLossNormalize::Batch, impl); });
    EXPECT_NE(msg.find("temporal_softmax_loss: label 9 at n = 1, t = 1"), std::string::npos) << msg;
  }
}

TEST(TemporalSoftmaxLoss, BadLabelOnCudaNamesTheStep) {
  CUDL_REQUIRE_CUDA();
  const Tensor x = Tensor::zeros({2, 3, 4}, DType::F32, Device::cuda());
  const Tensor mask = Tensor::full({2, 3}, 1.0f, Device::cuda());
  const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 3, 9, -1}, {2, 3}, Device::cuda());
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const std::string msg = test::error_of([&] { temporal_softmax_loss(x, y, mask, TemporalLossNormalize::Batch, impl); });
    EXPECT_NE(msg.find("label 9 at n = 1, t = 1"), std::string::npos) << msg;
  }
}
