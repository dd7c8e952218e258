// batch_norm, layer_norm, group_norm: implementations agree, gradients match
// finite differences, running statistics follow PyTorch, bad arguments throw.
#include <cmath>
#include <functional>
#include <string>

#include "core/random.h"
#include "kernels/normalization.h"
#include "kernels/registry.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {

Tensor random_tensor(const Shape& shape, Generator& gen, float mean = 0.0f, float stddev = 1.0f) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t, gen, mean, stddev);
  return t;
}

// Central differences of L = sum(forward(x, gamma, beta) * dout) in float32
// against the analytic gradients of `backward`.
using Forward = std::function<NormForward(const Tensor&, const Tensor&, const Tensor&)>;
using Backward = std::function<NormGrads(const Tensor&, const Tensor&, const Tensor&, const NormForward&)>;

void expect_gradients_match(const Forward& forward, const Backward& backward, const Shape& x_shape,
                            std::int64_t channels, const std::string& what) {
  Generator gen(99);
  Tensor x = random_tensor(x_shape, gen), gamma = random_tensor({channels}, gen, 1.0f, 0.5f),
         beta = random_tensor({channels}, gen), dout = random_tensor(x_shape, gen);
  const NormGrads g = backward(dout, x, gamma, forward(x, gamma, beta));
  auto loss = [&] { return test::dot(forward(x, gamma, beta).out, dout); };
  const float h = 1e-2f;
  EXPECT_LE(test::relative_error(g.dx.to_vector(), test::numeric_gradient(loss, x, h)), 1e-2) << what;
  EXPECT_LE(test::relative_error(g.dgamma.to_vector(), test::numeric_gradient(loss, gamma, h)), 1e-2) << what;
  EXPECT_LE(test::relative_error(g.dbeta.to_vector(), test::numeric_gradient(loss, beta, h)), 1e-2) << what;
}

template <typename F>
void expect_error_naming(const std::string& op_name, F&& call) {
  const std::string message = test::error_of(call);
  EXPECT_EQ(message.rfind(op_name + ":", 0), 0u) << op_name << " error: " << message;
}

// One op, forward then backward, on fixed random inputs (the same on every device).
struct NormCall {
  std::string op;
  Shape shape;
  std::int64_t groups = 1;  // group_norm only
  bool training = true;     // batch_norm only
};

struct NormRun {
  NormForward forward;
  NormGrads grads;
  Tensor running_mean, running_var;  // batch_norm only, after the forward
};

NormRun run_norm(const NormCall& call, Device device, Impl impl) {
  Generator gen(41);
  const std::int64_t channels = call.op == "layer_norm" ? call.shape.back() : call.shape[1];
  Tensor x = random_tensor(call.shape, gen, 3.0f, 2.0f).to(device), dout = random_tensor(call.shape, gen).to(device);
  Tensor gamma = random_tensor({channels}, gen, 1.0f, 0.5f).to(device), beta = random_tensor({channels}, gen).to(device);
  NormRun r;
  if (call.op == "batch_norm") {
    r.running_mean = random_tensor({channels}, gen).to(device);
    r.running_var = Tensor::full({channels}, 1.5f, device);
    r.forward = batch_norm_forward(x, gamma, beta, &r.running_mean, &r.running_var, call.training, 0.1f, 1e-5f, impl);
    r.grads = batch_norm_backward(dout, x, gamma, r.forward, call.training, impl);
  } else if (call.op == "layer_norm") {
    r.forward = layer_norm_forward(x, gamma, beta, 1e-5f, impl);
    r.grads = layer_norm_backward(dout, x, gamma, r.forward, impl);
  } else {
    r.forward = group_norm_forward(x, gamma, beta, call.groups, 1e-5f, impl);
    r.grads = group_norm_backward(dout, x, gamma, r.forward, call.groups, impl);
  }
  return r;
}

void expect_runs_match(const NormRun& got, const NormRun& want, double tol, const std::string& what) {
  auto check = [&](const Tensor& a, const Tensor& b, const char* name) {
    if (b.defined()) EXPECT_LE(test::relative_error(a, b), tol) << what << " " << name;
  };
  check(got.forward.out, want.forward.out, "out");
  check(got.forward.mean, want.forward.mean, "mean");
  check(got.forward.inv_std, want.forward.inv_std, "inv_std");
  check(got.grads.dx, want.grads.dx, "dx");
  check(got.grads.dgamma, want.grads.dgamma, "dgamma");
  check(got.grads.dbeta, want.grads.dbeta, "dbeta");
  check(got.running_mean, want.running_mean, "running_mean");
  check(got.running_var, want.running_var, "running_var");
}

// Shapes that reach every kernel path: batch norm's column (2-D) and chunked (4-D)
// reductions, layer/group norm's warp-per-segment (<= 1024 values) and
// block-per-segment ones, in training and eval mode.
const NormCall kCalls[] = {
    {"batch_norm", {300, 70}},           {"batch_norm", {5, 7, 33, 17}},     {"batch_norm", {6, 9}, 1, false},
    {"batch_norm", {3, 4, 5, 6}, 1, false}, {"layer_norm", {40, 300}},     {"layer_norm", {9, 1029}},
    {"layer_norm", {2, 3, 1}},           {"group_norm", {2, 6, 4, 5}, 3},    {"group_norm", {3, 8, 20, 20}, 2},
};

std::string describe(const NormCall& call) {
  return call.op + " " + shape_str(call.shape) + (call.training ? "" : " eval");
}

}  // namespace

// CS231n's batchnorm_backward_alt check, for all three ops: the node-by-node graph
// backward (naive) and the simplified formula (fast) agree on the same saved forward.
// (Registry-wide naive-vs-fast and CPU-vs-CUDA checks live in test_op_agreement.cpp.)
TEST(Normalization, GraphBackwardMatchesSimplifiedFormula) {
  for (const NormCall& call : kCalls) {
    const NormRun naive = run_norm(call, Device::cpu(), Impl::Naive), fast = run_norm(call, Device::cpu(), Impl::Fast);
    expect_runs_match(fast, naive, 1e-6, describe(call));
  }
}

// What the registry does not return: saved mean and inv_std, and running statistics.
TEST(Normalization, CudaMatchesCpuIncludingSavedStatistics) {
  CUDL_REQUIRE_CUDA();
  for (const NormCall& call : kCalls) {
    const NormRun want = run_norm(call, Device::cpu(), Impl::Naive);
    for (const Implementation& impl : find_op(call.op)->implementations)
      if (impl.device == DeviceType::CUDA)
        expect_runs_match(run_norm(call, Device::cuda(), impl.impl), want, 1e-5, describe(call) + " " + impl.name);
  }
}

TEST(Normalization, GradientsMatchFiniteDifferences) {
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const std::string tag = impl_name(impl);
    for (bool training : {true, false}) {
      Generator gen(5);
      Tensor running_mean = random_tensor({3}, gen), running_var = Tensor::full({3}, 0.7f);
      auto forward = [&](const Tensor& x, const Tensor& g, const Tensor& b) {
        // Fresh copies: the training forward updates running stats in place.
        Tensor rm = running_mean.clone(), rv = running_var.clone();
        return batch_norm_forward(x, g, b, &rm, &rv, training, 0.1f, 1e-5f, impl);
      };
      auto backward = [&](const Tensor& dy, const Tensor& x, const Tensor& g, const NormForward& f) {
        return batch_norm_backward(dy, x, g, f, training, impl);
      };
      const std::string mode = training ? " training" : " eval";
      expect_gradients_match(forward, backward, {6, 3}, 3, "batch_norm 2d " + tag + mode);
      expect_gradients_match(forward, backward, {3, 3, 2, 3}, 3, "batch_norm 4d " + tag + mode);
    }
    expect_gradients_match(
        [&](const Tensor& x, const Tensor& g, const Tensor& b) { return layer_norm_forward(x, g, b, 1e-5f, impl); },
        [&](const Tensor& dy, const Tensor& x, const Tensor& g, const NormForward& f) {
          return layer_norm_backward(dy, x, g, f, impl);
        },
        {2, 3, 5}, 5, "layer_norm " + tag);
    expect_gradients_match(
        [&](const Tensor& x, const Tensor& g, const Tensor& b) { return group_norm_forward(x, g, b, 2, 1e-5f, impl); },
        [&](const Tensor& dy, const Tensor& x, const Tensor& g, const NormForward& f) {
          return group_norm_backward(dy, x, g, f, 2, impl);
        },
        {2, 4, 2, 3}, 4, "group_norm " + tag);
  }
}

TEST(BatchNorm, RunningStatisticsFollowPyTorch) {
  // x [4, 2, 1, 3]: channel c holds 12 values; momentum 0.1, unbiased variance.
  const std::vector<float> values = test::linspace(-2.0, 3.5, 24);
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    Tensor x = Tensor::from_vector(values, {4, 2, 1, 3});
    Tensor gamma = Tensor::full({2}, 1.0f), beta = Tensor::zeros({2});
    Tensor running_mean = Tensor::from_vector(std::vector<float>{0.5f, -1.0f}, {2});
    Tensor running_var = Tensor::from_vector(std::vector<float>{2.0f, 0.25f}, {2});
    const std::vector<float> rm0 = running_mean.to_vector(), rv0 = running_var.to_vector();
    const NormForward f = batch_norm_forward(x, gamma, beta, &running_mean, &running_var, true, 0.1f, 1e-5f, impl);
    for (int c = 0; c < 2; ++c) {
      double mean = 0, sq = 0;
      std::vector<double> v;
      for (int n = 0; n < 4; ++n)
        for (int s = 0; s < 3; ++s) v.push_back(values[n * 6 + c * 3 + s]);
      for (double a : v) mean += a;
      mean /= v.size();
      for (double a : v) sq += (a - mean) * (a - mean);
      const double biased = sq / v.size(), unbiased = sq / (v.size() - 1);
      EXPECT_NEAR(running_mean.to_vector()[c], 0.9 * rm0[c] + 0.1 * mean, 1e-6) << impl_name(impl);
      EXPECT_NEAR(running_var.to_vector()[c], 0.9 * rv0[c] + 0.1 * unbiased, 1e-6) << impl_name(impl);
      EXPECT_NEAR(f.mean.to_vector()[c], mean, 1e-6);
      EXPECT_NEAR(f.inv_std.to_vector()[c], 1.0 / std::sqrt(biased + 1e-5), 1e-5);
    }
  }
}

TEST(BatchNorm, EvalModeUsesRunningStatistics) {
  Generator gen(3);
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    Tensor x = random_tensor({5, 3, 2, 2}, gen), gamma = random_tensor({3}, gen), beta = random_tensor({3}, gen);
    Tensor running_mean = random_tensor({3}, gen), running_var = Tensor::from_vector(std::vector<float>{0.5f, 1.5f, 3.0f}, {3});
    const std::vector<float> rm = running_mean.to_vector(), rv = running_var.to_vector();
    const NormForward f = batch_norm_forward(x, gamma, beta, &running_mean, &running_var, false, 0.1f, 1e-3f, impl);
    EXPECT_EQ(running_mean.to_vector(), rm);  // eval leaves the running statistics alone
    EXPECT_EQ(running_var.to_vector(), rv);
    const std::vector<float> xv = x.to_vector(), out = f.out.to_vector(), g = gamma.to_vector(), b = beta.to_vector();
    std::vector<float> expected(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) {
      const size_t c = (i / 4) % 3;
      expected[i] = static_cast<float>(g[c] * (xv[i] - rm[c]) / std::sqrt(rv[c] + 1e-3) + b[c]);
    }
    EXPECT_LE(test::relative_error(out, expected), 1e-6) << impl_name(impl);
  }
}

// CS231n's check: after a training forward, each feature's mean is beta and its std gamma.
TEST(BatchNorm, TrainingOutputHasMeanBetaAndStdGamma) {
  Generator gen(231);
  const std::vector<float> gamma_values{1.0f, 2.0f, 3.0f}, beta_values{11.0f, 12.0f, 13.0f};
  for (const Shape& shape : {Shape{200, 3}, Shape{20, 3, 4, 5}}) {
    Tensor x = random_tensor(shape, gen, 12.0f, 5.0f);
    Tensor gamma = Tensor::from_vector(gamma_values, {3}), beta = Tensor::from_vector(beta_values, {3});
    for (Impl impl : {Impl::Naive, Impl::Fast}) {
      const std::vector<float> out =
          batch_norm_forward(x, gamma, beta, nullptr, nullptr, true, 0.1f, 1e-5f, impl).out.to_vector();
      const std::int64_t s = x.numel() / (shape[0] * 3);
      for (int c = 0; c < 3; ++c) {
        double sum = 0, sq = 0;
        std::int64_t count = 0;
        for (std::int64_t n = 0; n < shape[0]; ++n)
          for (std::int64_t j = 0; j < s; ++j, ++count) sum += out[(n * 3 + c) * s + j];
        const double mean = sum / count;
        for (std::int64_t n = 0; n < shape[0]; ++n)
          for (std::int64_t j = 0; j < s; ++j) sq += std::pow(out[(n * 3 + c) * s + j] - mean, 2);
        EXPECT_NEAR(mean, beta_values[c], 1e-4);
        EXPECT_NEAR(std::sqrt(sq / count), gamma_values[c], 1e-3);
      }
    }
  }
}

TEST(LayerNorm, RowsHaveZeroMeanAndUnitStd) {
  Generator gen(8);
  Tensor x = random_tensor({6, 50}, gen, -4.0f, 3.0f), gamma = Tensor::full({50}, 1.0f), beta = Tensor::zeros({50});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const NormForward f = layer_norm_forward(x, gamma, beta, 1e-5f, impl);
    EXPECT_EQ(f.mean.shape(), (Shape{6}));
    const std::vector<float> out = f.out.to_vector();
    for (int r = 0; r < 6; ++r) {
      double sum = 0, sq = 0;
      for (int d = 0; d < 50; ++d) sum += out[r * 50 + d];
      for (int d = 0; d < 50; ++d) sq += std::pow(out[r * 50 + d] - sum / 50, 2);
      EXPECT_NEAR(sum / 50, 0.0, 1e-5);
      EXPECT_NEAR(std::sqrt(sq / 50), 1.0, 1e-4);
    }
  }
}

TEST(Normalization, BadArgumentsThrowNamingTheOp) {
  Tensor x2 = Tensor::zeros({4, 3}), x4 = Tensor::zeros({2, 6, 3, 3}), x3 = Tensor::zeros({2, 6, 9});
  Tensor c3 = Tensor::full({3}, 1.0f), c5 = Tensor::full({5}, 1.0f), c6 = Tensor::full({6}, 1.0f);
  expect_error_naming("batch_norm", [&] { batch_norm_forward(x2, c5, c3, nullptr, nullptr, true); });
  expect_error_naming("batch_norm", [&] { batch_norm_forward(x3, c6, c6, nullptr, nullptr, true); });
  expect_error_naming("batch_norm", [&] { batch_norm_forward(x2, c3, c3, nullptr, nullptr, false); });
  expect_error_naming("batch_norm", [&] { batch_norm_forward(Tensor::zeros({1, 3}), c3, c3, nullptr, nullptr, true); });
  expect_error_naming("batch_norm", [&] {
    Tensor rm = Tensor::zeros({5}), rv = Tensor::zeros({3});
    batch_norm_forward(x2, c3, c3, &rm, &rv, true);
  });
  expect_error_naming("layer_norm", [&] { layer_norm_forward(x2, c5, c3); });
  expect_error_naming("layer_norm", [&] {
    const NormForward f = layer_norm_forward(x2, c3, c3);
    layer_norm_backward(Tensor::zeros({3, 4}), x2, c3, f);
  });
  expect_error_naming("group_norm", [&] { group_norm_forward(x4, c6, c6, 4); });
  expect_error_naming("group_norm", [&] { group_norm_forward(x3, c6, c6, 2); });
  expect_error_naming("group_norm", [&] { group_norm_forward(x4, c5, c6, 2); });
  expect_error_naming("group_norm", [&] {
    const NormForward f = group_norm_forward(x4, c6, c6, 2);
    group_norm_backward(Tensor::zeros({2, 6, 3, 3}), x4, c6, f, 3);
  });
}

// A mean far from zero against a small spread (2.0 +- 0.004): one-pass float32
// statistics would cancel (the review saw dgamma 1e-4 off). The fast variants'
// shifted sums keep them within 3e-5 of the naive double-precision graph; what
// is left is x - mean rounded in float32 (ulp(2) / 0.004 ~ 6e-5 relative).
TEST(Normalization, LargeMeanSmallSpreadKeepsPrecision) {
  Generator gen(21);
  auto offset = [&](const Shape& s) {
    Tensor t = randn(s, gen);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 2.0f + 0.004f * t.data<float>()[i];
    return t;
  };
  const Tensor x4 = offset({8, 6, 5, 5}), x2 = offset({64, 6}), gamma = Tensor::full({6}, 1.5f),
               beta = Tensor::full({6}, 0.25f);
  const Tensor dout4 = randn({8, 6, 5, 5}, gen), dout2 = randn({64, 6}, gen);
  auto grads = [&](Impl impl) {
    std::vector<std::vector<float>> all;
    for (const Tensor* x : {&x4, &x2}) {
      const Tensor& dout = x == &x4 ? dout4 : dout2;
      NormForward f = batch_norm_forward(*x, gamma, beta, nullptr, nullptr, true, 0.1f, 1e-5f, impl);
      NormGrads g = batch_norm_backward(dout, *x, gamma, f, true, impl);
      all.push_back(f.out.to_vector());
      all.push_back(g.dx.to_vector());
      all.push_back(g.dgamma.to_vector());
    }
    NormForward lf = layer_norm_forward(x2, gamma, beta, 1e-5f, impl);
    NormGrads lg = layer_norm_backward(dout2, x2, gamma, lf, impl);
    all.push_back(lf.out.to_vector());
    all.push_back(lg.dx.to_vector());
    all.push_back(lg.dgamma.to_vector());
    NormForward gf = group_norm_forward(x4, gamma, beta, 3, 1e-5f, impl);
    NormGrads gg = group_norm_backward(dout4, x4, gamma, gf, 3, impl);
    all.push_back(gf.out.to_vector());
    all.push_back(gg.dx.to_vector());
    all.push_back(gg.dgamma.to_vector());
    return all;
  };
  const auto naive = grads(Impl::Naive), fast = grads(Impl::Fast);
  for (std::size_t i = 0; i < naive.size(); ++i)
    EXPECT_LT(test::relative_error(fast[i], naive[i]), 3e-5) << "result " << i;
}
