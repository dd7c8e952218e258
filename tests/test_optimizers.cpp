// Update rules against steps worked by hand, implementations against each other,
// the Optimizer classes (state round trips, weight decay), gradient clipping and
// the learning-rate schedules.
#include <cmath>
#include <vector>

#include "core/random.h"
#include "kernels/optimizer_update.h"
#include "tests/test_util.h"
#include "train/optimizer.h"
#include "train/schedule.h"

using namespace cudl;

namespace {

const std::vector<float> kW = {1.0f, -2.0f, 3.0f, 0.5f};
const std::vector<float> kDw = {0.5f, 1.0f, -1.0f, 2.0f};

Tensor vec(const std::vector<float>& v, Device device = Device::cpu()) {
  return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())}, device);
}

void expect_near_all(const Tensor& got, const std::vector<float>& want, double tol = 1e-6) {
  const std::vector<float> g = got.to_vector();
  ASSERT_EQ(g.size(), want.size());
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << "element " << i;
}

const Impl kCpuImpls[] = {Impl::Naive, Impl::Fast};

// Tensors are move-only, so no initializer lists of them.
std::vector<Tensor> tensors(Tensor a, Tensor b, Tensor c) {
  std::vector<Tensor> out;
  out.push_back(std::move(a));
  out.push_back(std::move(b));
  out.push_back(std::move(c));
  return out;
}

}  // namespace

TEST(OptimizerUpdate, SgdByHand) {
  for (Impl impl : kCpuImpls) {
    Tensor w = vec(kW), dw = vec(kDw);
    sgd_update(w, dw, 0.1f, impl);
    expect_near_all(w, {0.95f, -2.1f, 3.1f, 0.3f});  // w - 0.1 dw
  }
}

TEST(OptimizerUpdate, SgdMomentumByHand) {
  for (Impl impl : kCpuImpls) {
    Tensor w = vec(kW), dw = vec(kDw), v = vec({0.1f, 0.0f, -0.2f, 0.3f});
    sgd_momentum_update(w, dw, v, 0.1f, 0.9f, impl);
    // v = 0.9 v - 0.1 dw = [0.09-0.05, -0.1, -0.18+0.1, 0.27-0.2]; w += v
    expect_near_all(v, {0.04f, -0.1f, -0.08f, 0.07f});
    expect_near_all(w, {1.04f, -2.1f, 2.92f, 0.57f});
  }
}

TEST(OptimizerUpdate, RmspropByHand) {
  for (Impl impl : kCpuImpls) {
    Tensor w = vec(kW), dw = vec(kDw), cache = vec({0.0f, 1.0f, 4.0f, 0.25f});
    rmsprop_update(w, dw, cache, 0.1f, 0.9f, 1e-8f, impl);
    // cache = 0.9 cache + 0.1 dw^2 = [0.025, 1.0, 3.7, 0.625]
    expect_near_all(cache, {0.025f, 1.0f, 3.7f, 0.625f});
    // w -= 0.1 dw / sqrt(cache): 0.05/0.158114 = 0.316228, 0.1, -0.1/1.923538 = -0.051988, 0.2/0.790569 = 0.252982
    expect_near_all(w, {0.683772f, -2.1f, 3.051988f, 0.247018f}, 2e-6);
  }
}

TEST(OptimizerUpdate, AdamFirstStepMovesEachWeightByLr) {
  // From m = v = 0 the bias-corrected first step is lr * dw / |dw| = lr * sign(dw).
  for (Impl impl : kCpuImpls) {
    Tensor w = vec(kW), dw = vec(kDw), m = vec({0, 0, 0, 0}), v = vec({0, 0, 0, 0});
    adam_update(w, dw, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 1, 0.0f, impl);
    expect_near_all(w, {0.9f, -2.1f, 3.1f, 0.4f});
    expect_near_all(m, {0.05f, 0.1f, -0.1f, 0.2f});             // 0.1 dw
    // 0.001 dw^2, up to float32's 1 - 0.999f = 0.00099998713
    expect_near_all(v, {0.00025f, 0.001f, 0.001f, 0.004f}, 1e-7);
  }
}

TEST(OptimizerUpdate, AdamLaterStepUsesBiasCorrectionOfThatStep) {
  const std::vector<float> m0 = {0.1f, -0.2f, 0.3f, 0.0f}, v0 = {0.01f, 0.04f, 0.02f, 0.5f};
  const int step = 3;
  // The hyper-parameters as the float32 values the kernel receives.
  const double lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  std::vector<float> want_w, want_m, want_v;
  for (int i = 0; i < 4; ++i) {  // CS231n's adam, written out in double
    const double m = b1 * m0[i] + (1 - b1) * kDw[i], v = b2 * v0[i] + (1 - b2) * kDw[i] * kDw[i];
    const double m_hat = m / (1 - std::pow(b1, step)), v_hat = v / (1 - std::pow(b2, step));
    want_w.push_back(static_cast<float>(kW[i] - lr * m_hat / (std::sqrt(v_hat) + eps)));
    want_m.push_back(static_cast<float>(m));
    want_v.push_back(static_cast<float>(v));
  }
  for (Impl impl : kCpuImpls) {
    Tensor w = vec(kW), dw = vec(kDw), m = vec(m0), v = vec(v0);
    adam_update(w, dw, m, v, 0.01f, 0.9f, 0.999f, 1e-8f, step, 0.0f, impl);
    expect_near_all(w, want_w);
    expect_near_all(m, want_m);
    expect_near_all(v, want_v, 1e-7);
  }
}

TEST(OptimizerUpdate, AdamWDecaysWeightsEvenWithoutGradient) {
  // dw = 0 leaves m = v = 0 and the Adam step 0, so only w *= 1 - lr * wd remains.
  for (Impl impl : kCpuImpls) {
    Tensor w = vec(kW), dw = vec({0, 0, 0, 0}), m = vec({0, 0, 0, 0}), v = vec({0, 0, 0, 0});
    adam_update(w, dw, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 1, 0.5f, impl);
    expect_near_all(w, {0.95f, -1.9f, 2.85f, 0.475f});  // factor 1 - 0.1 * 0.5
  }
}

TEST(OptimizerUpdate, RejectsMismatchedArguments) {
  Tensor w = vec(kW), dw = vec({1, 2, 3}), v = vec({0, 0});
  try {
    sgd_update(w, dw, 0.1f);
    FAIL() << "a shape mismatch went through";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sgd: expected dw of shape [4]"), std::string::npos) << e.what();
  }
  Tensor dw4 = vec(kDw);
  EXPECT_THROW(sgd_momentum_update(w, dw4, v, 0.1f, 0.9f), Error);
  Tensor m = vec(kW), vv = vec(kW);
  EXPECT_THROW(adam_update(w, dw4, m, vv, 0.1f, 0.9f, 0.999f, 1e-8f, 0), Error);  // steps are 1-based
  EXPECT_THROW(rmsprop_update(w, dw4, m, 0.1f, 1.5f, 1e-8f), Error);
}

TEST(OptimizerUpdate, FastMatchesNaiveOnOddSizes) {
  Generator gen(7);
  for (std::int64_t n : {1, 3, 1001, 70001}) {  // 70001 crosses the OpenMP threshold
    Tensor w0 = randn({n}, gen), dw = randn({n}, gen), s0 = rand({n}, gen), s1 = rand({n}, gen);
    auto run = [&](Impl impl) {
      Tensor w = w0.clone(), a = s0.clone(), b = s1.clone();
      adam_update(w, dw, a, b, 1e-3f, 0.9f, 0.999f, 1e-8f, 4, 0.01f, impl);
      rmsprop_update(w, dw, b, 1e-2f, 0.99f, 1e-8f, impl);
      sgd_momentum_update(w, dw, a, 1e-2f, 0.9f, impl);
      sgd_update(w, dw, 1e-2f, impl);
      return tensors(std::move(w), std::move(a), std::move(b));
    };
    const auto naive = run(Impl::Naive), fast = run(Impl::Fast);
    for (int k = 0; k < 3; ++k) EXPECT_LE(test::relative_error(fast[k], naive[k]), 1e-6) << "n=" << n << " k=" << k;
  }
}

TEST(OptimizerUpdate, CudaMatchesCpuIncludingUnalignedViews) {
  CUDL_REQUIRE_CUDA();
  Generator gen(11);
  const std::int64_t n = 4099;
  Tensor w0 = randn({n}, gen), dw = randn({n}, gen), s0 = rand({n}, gen), s1 = rand({n}, gen);
  auto run = [&](Device device, Impl impl, std::int64_t offset) {
    // A slice starting at element 1 is not 16-byte aligned: the scalar path of the fused kernel.
    Tensor w = w0.to(device), g = dw.to(device), a = s0.to(device), b = s1.to(device);
    Tensor ws = w.slice(offset, n), gs = g.slice(offset, n), as = a.slice(offset, n), bs = b.slice(offset, n);
    adam_update(ws, gs, as, bs, 1e-3f, 0.9f, 0.999f, 1e-8f, 2, 0.01f, impl);
    rmsprop_update(ws, gs, bs, 1e-2f, 0.99f, 1e-8f, impl);
    sgd_momentum_update(ws, gs, as, 1e-2f, 0.9f, impl);
    sgd_update(ws, gs, 1e-2f, impl);
    return tensors(ws.to(Device::cpu()), as.to(Device::cpu()), bs.to(Device::cpu()));
  };
  for (std::int64_t offset : {0, 1}) {
    const auto want = run(Device::cpu(), Impl::Naive, offset);
    for (Impl impl : {Impl::Naive, Impl::Fast}) {
      const auto got = run(Device::cuda(), impl, offset);
      for (int k = 0; k < 3; ++k)
        EXPECT_LE(test::relative_error(got[k], want[k]), 1e-6) << impl_name(impl) << " offset " << offset << " k " << k;
    }
  }
}

namespace {
// Adam over many tensors at once on `device` with `impl`; returns w, m, v of each.
std::vector<Tensor> adam_many(const std::vector<std::int64_t>& sizes, Device device, Impl impl) {
  Generator gen(21);
  std::vector<Tensor> w, g, m, v;
  for (std::int64_t n : sizes) {
    w.push_back(randn({n}, gen, device));
    g.push_back(randn({n}, gen, device));
    m.push_back(randn({n}, gen, device));
    v.push_back(rand({n}, gen, device));
  }
  std::vector<ParamUpdate> params;
  for (std::size_t i = 0; i < sizes.size(); ++i) params.push_back({&w[i], &g[i], &m[i], &v[i]});
  adam_update_multi(params, 1e-3f, 0.9f, 0.999f, 1e-8f, 7, 0.01f, impl);
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    out.push_back(w[i].to(Device::cpu()));
    out.push_back(m[i].to(Device::cpu()));
    out.push_back(v[i].to(Device::cpu()));
  }
  return out;
}

// Sizes around the CUDA chunk (32K elements) and own-launch (1M) limits, and
// enough small tensors to need more than one launch of 96 chunks.
std::vector<std::int64_t> many_sizes() {
  std::vector<std::int64_t> sizes = {3, 32768, 32769, 70001, (1 << 20) + 5};
  for (int i = 0; i < 100; ++i) sizes.push_back(1 + 37 * i);
  return sizes;
}
}  // namespace

TEST(OptimizerUpdate, MultiTensorMatchesNaive) {
  const auto want = adam_many(many_sizes(), Device::cpu(), Impl::Naive);
  const auto got = adam_many(many_sizes(), Device::cpu(), Impl::Fast);
  for (std::size_t i = 0; i < want.size(); ++i) ASSERT_LE(test::relative_error(got[i], want[i]), 1e-6) << i;
  std::vector<ParamUpdate> missing_state = {{nullptr, nullptr}};
  EXPECT_THROW(adam_update_multi(missing_state, 1e-3f, 0.9f, 0.999f, 1e-8f, 1), Error);
}

TEST(OptimizerUpdate, CudaMultiTensorMatchesCpu) {
  CUDL_REQUIRE_CUDA();
  const auto want = adam_many(many_sizes(), Device::cpu(), Impl::Naive);
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    const auto got = adam_many(many_sizes(), Device::cuda(), impl);
    for (std::size_t i = 0; i < want.size(); ++i)
      ASSERT_LE(test::relative_error(got[i], want[i]), 1e-6) << impl_name(impl) << " tensor " << i / 3;
  }
}

// ---- Optimizer classes ----
namespace {

// Two parameters with fixed gradients that change each step.
struct ToyModel {
  Parameter a{"fc1.weight", Tensor::from_vector(std::vector<float>{1, -2, 3, 0.5f, 0.25f, -1}, {2, 3}), Tensor::zeros({2, 3})};
  Parameter b{"fc1.bias", Tensor::from_vector(std::vector<float>{0.1f, -0.3f}, {2}), Tensor::zeros({2})};
  std::vector<Parameter*> params() { return {&a, &b}; }
  void set_gradients(int step) {
    for (Parameter* p : params()) {
      std::vector<float> g = p->value().to_vector();
      for (std::size_t i = 0; i < g.size(); ++i) g[i] = std::sin(0.7f * step + i) + 0.5f * g[i];
      p->grad() = Tensor::from_vector(g, p->value().shape());
    }
  }
};

const char* const kOptimizers[] = {"sgd", "sgd_momentum", "rmsprop", "adam", "adamw"};

}  // namespace

TEST(Optimizer, StateRoundTripResumesBitForBit) {
  for (const char* name : kOptimizers) {
    ToyModel straight, resumed;
    auto opt = make_optimizer(name, straight.params(), 1e-2f);
    for (int s = 0; s < 3; ++s) straight.set_gradients(s), opt->step();
    const TensorMap saved = opt->state_dict();
    EXPECT_EQ(saved.at(std::string(name) + ".step").to_vector_i64().front(), 3);

    resumed.a.value().copy_from(straight.a.value());
    resumed.b.value().copy_from(straight.b.value());
    auto opt2 = make_optimizer(name, resumed.params(), 1e-3f);  // lr comes back from the state
    opt2->load_state_dict(saved);
    EXPECT_EQ(opt2->steps_taken(), 3);
    EXPECT_FLOAT_EQ(opt2->learning_rate(), 1e-2f);
    for (int s = 3; s < 6; ++s) {
      straight.set_gradients(s), opt->step();
      resumed.set_gradients(s), opt2->step();
    }
    EXPECT_EQ(straight.a.value().to_vector(), resumed.a.value().to_vector()) << name;
    EXPECT_EQ(straight.b.value().to_vector(), resumed.b.value().to_vector()) << name;
  }
}

TEST(Optimizer, StateNamesFollowParameterNames) {
  ToyModel model;
  Adam adam(model.params());
  model.set_gradients(0);
  adam.step();
  const TensorMap state = adam.state_dict();
  for (const char* key : {"adam.m.fc1.weight", "adam.v.fc1.weight", "adam.m.fc1.bias", "adam.v.fc1.bias", "adam.step",
                          "adam.lr"})
    EXPECT_TRUE(state.count(key)) << key;
  EXPECT_EQ(state.size(), 6u);
}

TEST(Optimizer, LoadStateRejectsWrongShapesAndUnknownNames) {
  ToyModel model;
  SGDMomentum opt(model.params());
  TensorMap state;
  state.emplace("sgd_momentum.step", Tensor::from_vector(std::vector<std::int64_t>{1}, {1}));
  state.emplace("sgd_momentum.velocity.fc1.bias", Tensor::zeros({3}));
  EXPECT_THROW(opt.load_state_dict(state), Error);
  TensorMap unknown;
  unknown.emplace("sgd_momentum.step", Tensor::from_vector(std::vector<std::int64_t>{1}, {1}));
  unknown.emplace("sgd_momentum.velocity.fc2.bias", Tensor::zeros({2}));
  EXPECT_THROW(opt.load_state_dict(unknown), Error);
  EXPECT_THROW(opt.load_state_dict({}), Error);  // no step count
}

TEST(Optimizer, L2WeightDecayAddsToTheGradient) {
  ToyModel model;
  const std::vector<float> w0 = model.a.value().to_vector();
  model.set_gradients(0);
  const std::vector<float> g = model.a.grad().to_vector();
  SGD sgd(model.params(), 0.1f, 0.01f);
  sgd.step();
  const std::vector<float> w1 = model.a.value().to_vector();
  for (std::size_t i = 0; i < w0.size(); ++i) EXPECT_NEAR(w1[i], w0[i] - 0.1f * (g[i] + 0.01f * w0[i]), 1e-6);
}

TEST(Optimizer, DefaultsAreCs231ns) {
  ToyModel model;
  EXPECT_FLOAT_EQ(make_optimizer("sgd", model.params())->learning_rate(), 1e-2f);
  EXPECT_FLOAT_EQ(make_optimizer("sgd_momentum", model.params())->learning_rate(), 1e-2f);
  EXPECT_FLOAT_EQ(make_optimizer("rmsprop", model.params())->learning_rate(), 1e-2f);
  EXPECT_FLOAT_EQ(make_optimizer("adam", model.params())->learning_rate(), 1e-3f);
  EXPECT_EQ(make_optimizer("sgd_momentum", model.params())->describe(),
            "sgd_momentum(lr=0.01, momentum=0.9, weight_decay=0)");
  EXPECT_EQ(make_optimizer("adamw", model.params())->describe(),
            "adamw(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.01)");
  EXPECT_THROW(make_optimizer("adagrad", model.params()), Error);
}

TEST(Optimizer, RejectsDuplicateParameterNames) {
  ToyModel model;
  model.b.name = model.a.name;
  EXPECT_THROW(SGD(model.params()), Error);
}

TEST(ClipGradNorm, ScalesToMaxNormAndReturnsTheNorm) {
  Parameter a{"a", vec({0, 0}), vec({3, 4})}, b{"b", vec({0}), vec({12})};  // global norm 13
  EXPECT_NEAR(clip_grad_norm({&a, &b}, 100.0f), 13.0f, 1e-5);
  expect_near_all(a.grad(), {3, 4});  // under the limit: untouched
  EXPECT_NEAR(clip_grad_norm({&a, &b}, 6.5f), 13.0f, 1e-5);
  expect_near_all(a.grad(), {1.5f, 2.0f}, 1e-5);
  expect_near_all(b.grad(), {6.0f}, 1e-5);
}

TEST(ClipGradNorm, CudaMatchesCpu) {
  CUDL_REQUIRE_CUDA();
  Generator gen(3);
  Tensor g1 = randn({1000}, gen), g2 = randn({33, 7}, gen);
  Parameter c1{"p1", Tensor::zeros({1000}), g1.clone()}, c2{"p2", Tensor::zeros({33, 7}), g2.clone()};
  Parameter d1{"p1", Tensor::zeros({1000}, DType::F32, Device::cuda()), g1.to(Device::cuda())},
      d2{"p2", Tensor::zeros({33, 7}, DType::F32, Device::cuda()), g2.to(Device::cuda())};
  const float cpu_norm = clip_grad_norm({&c1, &c2}, 1.0f), cuda_norm = clip_grad_norm({&d1, &d2}, 1.0f);
  EXPECT_NEAR(cuda_norm, cpu_norm, 1e-4 * cpu_norm);
  EXPECT_LE(test::relative_error(d1.grad(), c1.grad()), 1e-6);
  EXPECT_LE(test::relative_error(d2.grad(), c2.grad()), 1e-6);
}

TEST(ClipGradNorm, CudaSumIsTheSameOnEveryRun) {
  CUDL_REQUIRE_CUDA();
  Generator gen(4);
  // Enough elements for the most partial blocks per tensor, plus an empty and a tiny tensor.
  Tensor big = randn({3 << 20}, gen, Device::cuda()), empty = Tensor::empty({0}, DType::F32, Device::cuda()),
         tiny = randn({3}, gen, Device::cuda());
  const double first = sum_of_squares({&big, &empty, &tiny});
  for (int run = 0; run < 5; ++run) EXPECT_EQ(sum_of_squares({&big, &empty, &tiny}), first) << "run " << run;
  const Tensor big_cpu = big.to(Device::cpu()), tiny_cpu = tiny.to(Device::cpu());
  EXPECT_NEAR(first, sum_of_squares({&big_cpu, &tiny_cpu}), 1e-9 * first);
}

TEST(Optimizer, CudaStepsMatchCpu) {
  CUDL_REQUIRE_CUDA();
  for (const char* name : kOptimizers) {
    ToyModel cpu_model, cuda_model;
    for (Parameter* p : cuda_model.params()) p->value() = p->value().to(Device::cuda());
    auto cpu_opt = make_optimizer(name, cpu_model.params()), cuda_opt = make_optimizer(name, cuda_model.params());
    for (int s = 0; s < 3; ++s) {
      cpu_model.set_gradients(s), cpu_opt->step();
      ToyModel host;  // gradients computed on the host from the CUDA values
      host.a.value() = cuda_model.a.value().to(Device::cpu());
      host.b.value() = cuda_model.b.value().to(Device::cpu());
      host.set_gradients(s);
      cuda_model.a.grad() = host.a.grad().to(Device::cuda());
      cuda_model.b.grad() = host.b.grad().to(Device::cuda());
      cuda_opt->step();
    }
    EXPECT_LE(test::relative_error(cuda_model.a.value(), cpu_model.a.value()), 1e-6) << name;
    EXPECT_LE(test::relative_error(cuda_model.b.value(), cpu_model.b.value()), 1e-6) << name;
  }
}

// ---- schedules ----
TEST(Schedule, StepDecayMultipliesEveryKEpochs) {
  EXPECT_FLOAT_EQ(step_decay_lr(0.1f, 0.5f, 2, 0), 0.1f);
  EXPECT_FLOAT_EQ(step_decay_lr(0.1f, 0.5f, 2, 1), 0.1f);
  EXPECT_FLOAT_EQ(step_decay_lr(0.1f, 0.5f, 2, 2), 0.05f);
  EXPECT_FLOAT_EQ(step_decay_lr(0.1f, 0.5f, 2, 5), 0.025f);
  // CS231n's Solver: lr *= lr_decay after each epoch.
  EXPECT_FLOAT_EQ(LrSchedule::step_decay(1e-3f, 0.95f).lr(12345, 3), 1e-3f * 0.95f * 0.95f * 0.95f);
  EXPECT_FLOAT_EQ(LrSchedule::constant(0.3f).lr(100, 7), 0.3f);
}

TEST(Schedule, WarmupCosine) {
  const LrSchedule s = LrSchedule::warmup_cosine(1.0f, 10, 110, 0.1f);
  EXPECT_FLOAT_EQ(s.lr(0, 0), 0.1f);  // 1/10 of the way up
  EXPECT_FLOAT_EQ(s.lr(4, 0), 0.5f);
  EXPECT_FLOAT_EQ(s.lr(9, 0), 1.0f);
  EXPECT_FLOAT_EQ(s.lr(10, 0), 1.0f);   // cosine starts at the top
  EXPECT_FLOAT_EQ(s.lr(60, 0), 0.55f);  // halfway: (max + min) / 2
  EXPECT_FLOAT_EQ(s.lr(110, 0), 0.1f);
  EXPECT_FLOAT_EQ(s.lr(500, 0), 0.1f);
  for (int step = 11; step < 110; ++step) EXPECT_LT(s.lr(step, 0), s.lr(step - 1, 0)) << step;
  EXPECT_THROW(warmup_cosine_lr(1.0f, 0, 20, 10), Error);
}
