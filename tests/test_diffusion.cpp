// Diffusion: the schedules against numpy, the q_sample op and its gradients,
// the timestep embedding, the training loss, both samplers (with oracle
// denoisers that know x0, so the chain's exact path is known), guidance and the
// parameter EMA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/formats/safetensors.h"
#include "core/random.h"
#include "diffusion/ema.h"
#include "diffusion/gaussian_diffusion.h"
#include "kernels/ddpm_q_sample.h"
#include "kernels/timestep_embedding.h"
#include "reference/ddpm_schedules.h"
#include "test_util.h"

namespace cudl {
namespace {

using test::error_of;
using test::relative_error;

const std::vector<double>& table_named(const DiffusionTables& d, const std::string& name) {
  if (name == "betas") return d.betas;
  if (name == "alphas_cumprod") return d.alphas_cumprod;
  if (name == "alphas_cumprod_prev") return d.alphas_cumprod_prev;
  if (name == "sqrt_recip_alphas_cumprod") return d.sqrt_recip_alphas_cumprod;
  if (name == "sqrt_recipm1_alphas_cumprod") return d.sqrt_recipm1_alphas_cumprod;
  if (name == "posterior_mean_coef1") return d.posterior_mean_coef1;
  if (name == "posterior_mean_coef2") return d.posterior_mean_coef2;
  if (name == "posterior_std") return d.posterior_std;
  if (name == "snr") return d.snr;
  throw std::runtime_error("no table " + name);
}

TEST(DiffusionSchedule, MatchesNumpyInFloat64) {
  for (const test::ScheduleReference& ref : test::kScheduleReference) {
    const DiffusionTables d = diffusion_tables(parse_noise_schedule(ref.schedule), ref.timesteps);
    ASSERT_EQ(d.timesteps(), ref.timesteps);
    const std::vector<double>& table = table_named(d, ref.table);
    for (int k = 0; k < 5; ++k) {
      const double want = ref.values[k], got = table[static_cast<std::size_t>(ref.at[k])];
      EXPECT_NEAR(got, want, 1e-10 * std::max(1.0, std::abs(want)))  // float64 rounding; float32 would be ~1e-7
          << ref.schedule << " T=" << ref.timesteps << " " << ref.table << "[" << ref.at[k] << "]";
    }
  }
}

TEST(DiffusionSchedule, DerivedTablesAgree) {
  const DiffusionTables d = diffusion_tables(NoiseSchedule::Cosine, 200);
  for (std::size_t t = 0; t < 200; ++t) {
    const double abar = d.alphas_cumprod[t];
    EXPECT_NEAR(d.sqrt_alphas_cumprod[t] * d.sqrt_alphas_cumprod[t], abar, 1e-15);
    EXPECT_NEAR(d.sqrt_one_minus_alphas_cumprod[t] * d.sqrt_one_minus_alphas_cumprod[t], 1 - abar, 1e-15);
    EXPECT_NEAR(d.sqrt_snr[t] * d.sqrt_snr[t], d.snr[t], 1e-9 * d.snr[t]);
    EXPECT_LE(d.betas[t], 0.999);
  }
  EXPECT_DOUBLE_EQ(d.posterior_std[0], 1e-10);  // the 1e-20 floor on a zero variance
}

TEST(DiffusionSchedule, RejectsUnknownNamesAndEmptySchedules) {
  EXPECT_NE(error_of([] { parse_noise_schedule("quadratic"); }).find("expected linear, cosine or sigmoid, got 'quadratic'"),
            std::string::npos);
  EXPECT_NE(error_of([] { noise_schedule_betas(NoiseSchedule::Linear, 0); }).find("timesteps >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_diffusion_objective("pred_v"); }).find("pred_noise or pred_x0, got 'pred_v'"),
            std::string::npos);
}

// ---- the ops ----

TEST(DdpmQSample, GoldenCaseThroughTheGraph) {
  SafetensorsFile file = read_safetensors(std::string(CUDL_TEST_DATA_DIR) + "/golden/ddpm_q_sample_sigmoid.safetensors");
  TensorMap& g = file.tensors;
  const GaussianDiffusion diffusion({.timesteps = std::stoll(file.metadata.at("timesteps")),
                                     .schedule = parse_noise_schedule(file.metadata.at("schedule"))});
  Var x0(g.at("x0").clone(), true), noise(g.at("noise").clone(), true);
  Var out = diffusion.q_sample(x0, noise, g.at("t"));
  EXPECT_LT(relative_error(out.value(), g.at("out")), 1e-6);
  out.backward(g.at("dout"));
  EXPECT_LT(relative_error(x0.grad(), g.at("dx0")), 1e-6);
  EXPECT_LT(relative_error(noise.grad(), g.at("dnoise")), 1e-6);
}

TEST(DdpmQSample, NaiveAndFastAgreeOnUnalignedRows) {
  Generator gen(3);
  Tensor x0 = randn({5, 3, 7}, gen), noise = randn({5, 3, 7}, gen);
  Tensor t = Tensor::from_vector(std::vector<std::int64_t>{0, 9, 3, 3, 5}, {5});
  Tensor a = rand({10}, gen), b = rand({10}, gen);
  Tensor naive = ddpm_q_sample_forward(x0, noise, t, a, b, Impl::Naive);
  Tensor fast = ddpm_q_sample_forward(x0, noise, t, a, b, Impl::Fast);
  EXPECT_LT(relative_error(fast, naive), 1e-7);
  const std::vector<float> xv = x0.to_vector(), nv = noise.to_vector(), av = a.to_vector(), bv = b.to_vector(),
                           out = naive.to_vector();
  const std::int64_t steps[] = {0, 9, 3, 3, 5};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t s = steps[i / 21];
    EXPECT_NEAR(out[i], av[s] * xv[i] + bv[s] * nv[i], 1e-6);
  }
}

TEST(DdpmQSample, RejectsBadTimestepsAndShapes) {
  Tensor x = Tensor::zeros({2, 3}), table = Tensor::zeros({4});
  Tensor bad_t = Tensor::from_vector(std::vector<std::int64_t>{1, 4}, {2});
  for (Impl impl : {Impl::Naive, Impl::Fast})
    EXPECT_NE(error_of([&] { ddpm_q_sample_forward(x, x, bad_t, table, table, impl); })
                  .find("ddpm_q_sample: timestep 4 of sample 1 is outside [0, 4)"),
              std::string::npos);
  Tensor t = Tensor::from_vector(std::vector<std::int64_t>{1, 2}, {2});
  EXPECT_NE(error_of([&] { ddpm_q_sample_forward(x, Tensor::zeros({2, 4}), t, table, table); })
                .find("expected noise of shape [2,3]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ddpm_q_sample_forward(x, x, t, table, Tensor::zeros({5})); })
                .find("x0_scale and noise_scale of one length T"),
            std::string::npos);
  EXPECT_NE(error_of([&] { scale_per_timestep(x, Tensor::zeros({2}), table); }).find("scale_per_timestep: expected t"),
            std::string::npos);
}

TEST(TimestepEmbedding, KnownValuesAndImplementationsAgree) {
  Tensor t = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 999}, {3});
  Tensor naive = timestep_embedding(t, 8, Impl::Naive), fast = timestep_embedding(t, 8, Impl::Fast);
  EXPECT_EQ(naive.shape(), (Shape{3, 8}));
  EXPECT_EQ(fast.to_vector(), naive.to_vector());  // one angle formula, in double
  const std::vector<float> v = naive.to_vector();
  for (int j = 0; j < 4; ++j) {  // t = 0: sines 0, cosines 1
    EXPECT_EQ(v[j], 0.0f);
    EXPECT_EQ(v[4 + j], 1.0f);
  }
  // half = 4: frequencies 1, 10000^(-1/3), 10000^(-2/3), 1e-4.
  EXPECT_NEAR(v[8 + 0], std::sin(1.0), 1e-7);
  EXPECT_NEAR(v[8 + 3], std::sin(1e-4), 1e-10);
  EXPECT_NEAR(v[16 + 1], std::sin(999.0 * std::pow(10000.0, -1.0 / 3)), 1e-6);
  EXPECT_NEAR(v[16 + 4], std::cos(999.0), 1e-6);
}

TEST(TimestepEmbedding, RejectsOddOrTinyWidths) {
  Tensor t = Tensor::zeros({2}, DType::I64);
  EXPECT_NE(error_of([&] { timestep_embedding(t, 7); }).find("timestep_embedding: expected an even dim >= 4"),
            std::string::npos);
  EXPECT_NE(error_of([&] { timestep_embedding(t, 2); }).find("got 2"), std::string::npos);
  EXPECT_NE(error_of([&] { timestep_embedding(Tensor::zeros({2}), 8); }).find("expected t to be int64"),
            std::string::npos);
}

TEST(TimestepWeightedMse, IsTheWeightedMeanAndItsGradient) {
  Generator gen(5);
  Tensor x = randn({3, 4}, gen), target = randn({3, 4}, gen), sqrt_w = rand({6}, gen);
  Tensor t = Tensor::from_vector(std::vector<std::int64_t>{5, 0, 2}, {3});
  Var xv(x.clone(), true);
  Var loss = timestep_weighted_mse_loss(xv, target, t, sqrt_w);
  loss.backward();
  const std::vector<float> xs = x.to_vector(), ts = target.to_vector(), w = sqrt_w.to_vector(),
                           dx = xv.grad().to_vector();
  const std::int64_t steps[] = {5, 0, 2};
  double want = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double weight = double(w[steps[i / 4]]) * w[steps[i / 4]], diff = double(xs[i]) - ts[i];
    want += weight * diff * diff / 12;
    EXPECT_NEAR(dx[i], 2 * weight * diff / 12, 1e-6);
  }
  EXPECT_NEAR(loss.item(), want, 1e-6);
}

// ---- the diffusion process ----

// Host elementwise a (op) b, for oracle denoisers and expectations.
Tensor host_map(const Tensor& a, const Tensor& b, const std::function<double(double, double, std::int64_t)>& f) {
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  std::vector<float> out(va.size());
  const std::int64_t inner = a.numel() / a.size(0);
  for (std::size_t i = 0; i < va.size(); ++i) out[i] = static_cast<float>(f(va[i], vb[i], i / inner));
  return Tensor::from_vector(out, a.shape());
}

// The model that knows x0: its eps (or x0) is exactly what q_sample put in.
Denoiser oracle(const GaussianDiffusion& diffusion, const Tensor& x0) {
  return [&diffusion, &x0](const Var& x_t, const Tensor& t, const Tensor*) {
    if (diffusion.config().objective == DiffusionObjective::PredictX0) return Var(x0.clone());
    const std::vector<std::int64_t> steps = t.to_vector_i64();
    const DiffusionTables& d = diffusion.tables();
    return Var(host_map(x_t.value(), x0, [&](double x, double x0v, std::int64_t n) {
      const auto s = static_cast<std::size_t>(steps[n]);
      return (x - d.sqrt_alphas_cumprod[s] * x0v) / d.sqrt_one_minus_alphas_cumprod[s];
    }));
  };
}

// A fixed model that is not the oracle: eps = c[t] x_t, on any device.
Denoiser scaling_denoiser(const Tensor& c) {
  return [&c](const Var& x_t, const Tensor& t, const Tensor*) { return Var(scale_per_timestep(x_t.value(), t, c)); };
}

Tensor images(const Shape& shape, std::uint64_t seed) {  // in [-0.9, 0.9]: the clamp never binds
  Generator gen(seed);
  Tensor u = rand(shape, gen);
  return host_map(u, u, [](double a, double, std::int64_t) { return 1.8 * a - 0.9; });
}

TEST(GaussianDiffusion, TrainingLossOfTheOracleIsZero) {
  const Tensor x0 = images({4, 2, 3, 3}, 1);
  for (DiffusionObjective objective : {DiffusionObjective::PredictNoise, DiffusionObjective::PredictX0}) {
    const GaussianDiffusion diffusion({.timesteps = 100, .schedule = NoiseSchedule::Linear, .objective = objective});
    Generator gen(7);
    const float loss = diffusion.training_loss(oracle(diffusion, x0), x0, nullptr, gen).item();
    EXPECT_LT(loss, 1e-9f) << diffusion_objective_name(objective);
  }
}

// A denoiser that ignores x_t and returns a parameter P: the loss's gradient is
// 2 w (P - target) / M with the t and noise drawn in the documented order.
TEST(GaussianDiffusion, TrainingLossIsTheWeightedMseOfItsDraws) {
  const Tensor x0 = images({3, 1, 2, 2}, 2);
  for (DiffusionObjective objective : {DiffusionObjective::PredictNoise, DiffusionObjective::PredictX0}) {
    const GaussianDiffusion diffusion({.timesteps = 50, .schedule = NoiseSchedule::Cosine, .objective = objective});
    Generator gen(11), replay(11);
    Var p(Tensor::full({3, 1, 2, 2}, 0.25f), true);
    Var loss = diffusion.training_loss([&](const Var&, const Tensor&, const Tensor*) { return p; }, x0, nullptr, gen);
    loss.backward();
    const std::vector<std::int64_t> t = diffusion.sample_timesteps(3, replay).to_vector_i64();
    const Tensor noise = randn({3, 1, 2, 2}, replay);
    EXPECT_EQ(gen.offset(), replay.offset());
    const Tensor& target = objective == DiffusionObjective::PredictNoise ? noise : x0;
    const std::vector<float> tv = target.to_vector(), grad = p.grad().to_vector();
    double want = 0;
    for (std::size_t i = 0; i < tv.size(); ++i) {
      const double w = objective == DiffusionObjective::PredictNoise ? 1.0 : diffusion.tables().snr[t[i / 4]];
      want += w * (0.25 - tv[i]) * (0.25 - tv[i]) / 12;
      EXPECT_NEAR(grad[i], 2 * w * (0.25 - tv[i]) / 12, 1e-5 * std::max(1.0, w)) << i;
    }
    EXPECT_NEAR(loss.item(), want, 1e-5 * std::max(1.0, want));
  }
}

TEST(GaussianDiffusion, TimestepsAreUniformOverTheSchedule) {
  const GaussianDiffusion diffusion({.timesteps = 10});
  Generator gen(1);
  std::vector<int> counts(10);
  for (std::int64_t t : diffusion.sample_timesteps(20000, gen).to_vector_i64()) {
    ASSERT_TRUE(t >= 0 && t < 10);
    ++counts[t];
  }
  for (int c : counts) EXPECT_NEAR(c, 2000, 200);  // > 4 standard deviations
}

TEST(GaussianDiffusion, SamplingTimestepsAreEvenlySpaced) {
  const GaussianDiffusion diffusion({.timesteps = 10});
  EXPECT_EQ(diffusion.sampling_timesteps({}), (std::vector<std::int64_t>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1}));
  EXPECT_EQ(diffusion.sampling_timesteps({.sampler = Sampler::Ddim, .steps = 4}),
            (std::vector<std::int64_t>{9, 6, 4, 1, -1}));
  EXPECT_EQ(diffusion.sampling_timesteps({.sampler = Sampler::Ddim, .steps = 1}), (std::vector<std::int64_t>{9, -1}));
  EXPECT_NE(error_of([&] { diffusion.sampling_timesteps({.sampler = Sampler::Ddim, .steps = 11}); })
                .find("1 <= sampling steps <= T = 10, got 11"),
            std::string::npos);
}

// With the oracle and eta = 0, DDIM stays on the path q_sample(x0, eps0, tau)
// of the eps0 that x_T implies, and ends at x0.
TEST(GaussianDiffusion, DdimWithTheOracleFollowsTheForwardPathToX0) {
  const Tensor x0 = images({2, 1, 3, 3}, 3);
  for (NoiseSchedule schedule : {NoiseSchedule::Linear, NoiseSchedule::Cosine, NoiseSchedule::Sigmoid}) {
    const GaussianDiffusion diffusion({.timesteps = 100, .schedule = schedule});
    const SampleOptions options{.sampler = Sampler::Ddim, .steps = 10};
    const std::vector<std::int64_t> taus = diffusion.sampling_timesteps(options);
    Generator gen(4);
    const std::vector<Tensor> chain = diffusion.sample_chain(oracle(diffusion, x0), x0.shape(), nullptr, gen, options,
                                                             static_cast<std::int64_t>(taus.size()));
    ASSERT_EQ(chain.size(), taus.size());
    const DiffusionTables& d = diffusion.tables();
    const Tensor eps0 = host_map(chain[0], x0, [&](double x, double x0v, std::int64_t) {
      return (x - d.sqrt_alphas_cumprod[99] * x0v) / d.sqrt_one_minus_alphas_cumprod[99];
    });
    for (std::size_t k = 1; k < taus.size(); ++k) {
      const Tensor want = taus[k] < 0 ? x0.clone() : host_map(x0, eps0, [&](double a, double e, std::int64_t) {
        const auto s = static_cast<std::size_t>(taus[k]);
        return d.sqrt_alphas_cumprod[s] * a + d.sqrt_one_minus_alphas_cumprod[s] * e;
      });
      EXPECT_LT(relative_error(chain[k], want), 1e-5) << noise_schedule_name(schedule) << " state " << k;
    }
  }
}

TEST(GaussianDiffusion, DdpmWithTheOracleReturnsX0) {
  const Tensor x0 = images({3, 2, 2, 2}, 5);
  for (DiffusionObjective objective : {DiffusionObjective::PredictNoise, DiffusionObjective::PredictX0}) {
    const GaussianDiffusion diffusion({.timesteps = 50, .schedule = NoiseSchedule::Sigmoid, .objective = objective});
    Generator gen(6);
    const Tensor sample = diffusion.sample(oracle(diffusion, x0), x0.shape(), nullptr, gen);
    EXPECT_LT(relative_error(sample, x0), 1e-5) << diffusion_objective_name(objective);
  }
}

// c[t] = 0.5 + 0.3 sin(t): the scaling denoiser's per-step factor.
Tensor factors(std::int64_t timesteps, double shift = 0.0) {
  std::vector<double> c(static_cast<std::size_t>(timesteps));
  for (std::size_t t = 0; t < c.size(); ++t) c[t] = 0.5 + 0.3 * std::sin(static_cast<double>(t) + shift);
  return table_tensor(c);
}

TEST(GaussianDiffusion, DdimIsDeterministicAndDdpmFollowsTheSeed) {
  const GaussianDiffusion diffusion({.timesteps = 20, .schedule = NoiseSchedule::Cosine});
  const Tensor c = factors(20);
  const Shape shape{2, 3, 4};
  const SampleOptions ddim{.sampler = Sampler::Ddim, .steps = 7};
  Generator a(1), b(1), noise_only(1);
  const Tensor first = diffusion.sample(scaling_denoiser(c), shape, nullptr, a, ddim);
  EXPECT_EQ(diffusion.sample(scaling_denoiser(c), shape, nullptr, b, ddim).to_vector(), first.to_vector());
  randn(shape, noise_only);
  EXPECT_EQ(a.offset(), noise_only.offset());  // eta = 0 draws nothing after x_T

  Generator d1(2), d2(2), d3(3);
  const Tensor ddpm = diffusion.sample(scaling_denoiser(c), shape, nullptr, d1);
  EXPECT_EQ(diffusion.sample(scaling_denoiser(c), shape, nullptr, d2).to_vector(), ddpm.to_vector());
  EXPECT_GT(relative_error(diffusion.sample(scaling_denoiser(c), shape, nullptr, d3), ddpm), 1e-2);
}

// DDIM's sigma with eta = 1 is the posterior std, and its mean then equals
// the posterior mean: over all T steps it is DDPM, draw for draw.
TEST(GaussianDiffusion, DdimWithEtaOneOverAllStepsIsDdpm) {
  for (DiffusionObjective objective : {DiffusionObjective::PredictNoise, DiffusionObjective::PredictX0}) {
    const GaussianDiffusion diffusion({.timesteps = 30, .schedule = NoiseSchedule::Linear, .objective = objective});
    const Tensor c = factors(30);
    Generator a(8), b(8);
    const Tensor ddpm = diffusion.sample(scaling_denoiser(c), {2, 5}, nullptr, a);
    const Tensor ddim = diffusion.sample(scaling_denoiser(c), {2, 5}, nullptr, b,
                                         {.sampler = Sampler::Ddim, .steps = 30, .eta = 1.0f});
    EXPECT_EQ(a.offset(), b.offset());
    EXPECT_LT(relative_error(ddim, ddpm), 1e-5) << diffusion_objective_name(objective);
  }
}

TEST(GaussianDiffusion, GuidanceCombinesTheConditionalAndNullOutputs) {
  EXPECT_EQ(guided_output(2.0, 1.0, 3.0), 5.0);  // (1 + 3) 2 - 3 1
  EXPECT_EQ(guided_output(2.0, 1.0, 0.0), 2.0);
  const GaussianDiffusion diffusion({.timesteps = 12, .schedule = NoiseSchedule::Sigmoid});
  const Tensor cond_c = factors(12), null_c = factors(12, 1.0);
  const std::vector<float> cv = cond_c.to_vector(), nv = null_c.to_vector();
  std::vector<float> guided(cv.size());
  for (std::size_t t = 0; t < cv.size(); ++t) guided[t] = static_cast<float>(guided_output(cv[t], nv[t], 2.0));
  const Tensor guided_c = Tensor::from_vector(guided, {12});
  const Tensor label = Tensor::zeros({2}, DType::I64);
  int calls = 0, null_calls = 0;
  Denoiser conditional = [&](const Var& x_t, const Tensor& t, const Tensor* cond) {
    ++calls;
    null_calls += cond == nullptr;
    return Var(scale_per_timestep(x_t.value(), t, cond ? cond_c : null_c));
  };
  Generator a(9), b(9);
  const Tensor with_guidance = diffusion.sample(conditional, {2, 3}, &label, a, {.guidance = 2.0f});
  EXPECT_EQ(calls, 24);
  EXPECT_EQ(null_calls, 12);
  const Tensor combined = diffusion.sample(scaling_denoiser(guided_c), {2, 3}, &label, b);
  EXPECT_LT(relative_error(with_guidance, combined), 1e-5);
  EXPECT_NE(error_of([&] { diffusion.sample(conditional, {2, 3}, nullptr, a, {.guidance = 1.0f}); })
                .find("guidance 1 needs a condition"),
            std::string::npos);
}

TEST(GaussianDiffusion, ChainStripRunsFromTheNoiseToTheSample) {
  const GaussianDiffusion diffusion({.timesteps = 20});
  const Tensor c = factors(20);
  Generator a(12), b(12), noise(12);
  const std::vector<Tensor> strip = diffusion.sample_chain(scaling_denoiser(c), {2, 4}, nullptr, a, {}, 5);
  ASSERT_EQ(strip.size(), 5u);
  EXPECT_EQ(strip.front().to_vector(), randn({2, 4}, noise).to_vector());
  EXPECT_EQ(strip.back().to_vector(), diffusion.sample(scaling_denoiser(c), {2, 4}, nullptr, b).to_vector());
  EXPECT_NE(error_of([&] { diffusion.sample_chain(scaling_denoiser(c), {2, 4}, nullptr, a, {}, 22); })
                .find("2 <= frames <= 21"),
            std::string::npos);
}

TEST(GaussianDiffusion, RejectsADenoiserOfTheWrongShape) {
  const GaussianDiffusion diffusion({.timesteps = 5});
  Generator gen(1);
  Denoiser wrong = [](const Var&, const Tensor&, const Tensor*) { return Var(Tensor::zeros({2, 2})); };
  EXPECT_NE(error_of([&] { diffusion.sample(wrong, {2, 3}, nullptr, gen); }).find("denoiser's output to match x_t"),
            std::string::npos);
  EXPECT_NE(error_of([&] { diffusion.training_loss(wrong, Tensor::zeros({2, 3}), nullptr, gen); })
                .find("denoiser's output to match x0"),
            std::string::npos);
}

// ---- EMA ----

TEST(ExponentialMovingAverage, AveragesSwapsAndRestores) {
  Parameter w("fc.weight", Tensor::from_vector(std::vector<float>{1, 2}, {2}));
  Parameter b("fc.bias", Tensor::from_vector(std::vector<float>{-4}, {1}));
  ExponentialMovingAverage ema({&w, &b}, 0.9f);
  w.value().copy_from(Tensor::from_vector(std::vector<float>{11, 2}, {2}));
  ema.update();  // 0.9 [1, 2] + 0.1 [11, 2]
  w.value().copy_from(Tensor::from_vector(std::vector<float>{11, 12}, {2}));
  ema.update();  // 0.9 [2, 2] + 0.1 [11, 12]
  EXPECT_EQ(ema.updates(), 2);
  ema.swap();
  const std::vector<float> averaged = w.value().to_vector();
  EXPECT_NEAR(averaged[0], 2.9f, 1e-6);
  EXPECT_NEAR(averaged[1], 3.0f, 1e-6);
  EXPECT_NEAR(b.value().item(), -4.0f, 1e-6);
  EXPECT_NE(error_of([&] { ema.update(); }).find("swap() back first"), std::string::npos);
  ema.swap();
  EXPECT_EQ(w.value().to_vector(), (std::vector<float>{11, 12}));

  TensorMap saved;
  for (auto& [name, t] : ema.state_dict()) saved.emplace("ema." + name, t->clone());
  EXPECT_EQ(saved.count("ema.fc.weight"), 1u);
  ExponentialMovingAverage restored({&w, &b}, 0.9f);
  restored.load_state_dict(saved, "ema.");
  restored.swap();
  EXPECT_EQ(w.value().to_vector(), averaged);
  restored.swap();
  saved.erase("ema.fc.bias");
  EXPECT_NE(error_of([&] { restored.load_state_dict(saved, "ema."); }).find("no tensor 'ema.fc.bias'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ExponentialMovingAverage({&w}, 1.0f); }).find("decay in [0, 1), got 1"), std::string::npos);
}

// ---- the GPU paths agree with the CPU ----

TEST(DiffusionCuda, SamplersAndTheLossMatchTheCpu) {
  CUDL_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  for (const SampleOptions& options :
       {SampleOptions{}, SampleOptions{.sampler = Sampler::Ddim, .steps = 8, .eta = 0.5f, .guidance = 1.5f}}) {
    const GaussianDiffusion cpu_diffusion({.timesteps = 40}), gpu_diffusion({.timesteps = 40}, gpu);
    const Tensor c = factors(40), c_gpu = c.to(gpu);
    const Tensor label = Tensor::zeros({3}, DType::I64), label_gpu = label.to(gpu);
    Generator a(21), b(21);
    const Tensor on_cpu = cpu_diffusion.sample(scaling_denoiser(c), {3, 2, 5, 5}, &label, a, options);
    const Tensor on_gpu = gpu_diffusion.sample(scaling_denoiser(c_gpu), {3, 2, 5, 5}, &label_gpu, b, options);
    EXPECT_EQ(on_gpu.device(), gpu);
    EXPECT_LT(relative_error(on_gpu.to(Device::cpu()), on_cpu), 1e-4);
  }
  const Tensor x0 = images({4, 3, 4, 4}, 13), x0_gpu = x0.to(gpu);
  for (DiffusionObjective objective : {DiffusionObjective::PredictNoise, DiffusionObjective::PredictX0}) {
    const DiffusionConfig config{.timesteps = 60, .objective = objective};
    const GaussianDiffusion cpu_diffusion(config), gpu_diffusion(config, gpu);
    const Tensor c = factors(60), c_gpu = c.to(gpu);
    Generator a(22), b(22);
    const float on_cpu = cpu_diffusion.training_loss(scaling_denoiser(c), x0, nullptr, a).item();
    const float on_gpu = gpu_diffusion.training_loss(scaling_denoiser(c_gpu), x0_gpu, nullptr, b).item();
    EXPECT_NEAR(on_gpu, on_cpu, 1e-4 * std::abs(on_cpu));
  }
}

TEST(DiffusionCuda, EmaUpdatesOnTheDevice) {
  CUDL_REQUIRE_CUDA();
  Generator gen(30);
  Tensor start = randn({1000}, gen), target = randn({1000}, gen);
  Parameter cpu_p("w", start.clone()), gpu_p("w", start.to(Device::cuda(0)));
  ExponentialMovingAverage cpu_ema({&cpu_p}, 0.99f), gpu_ema({&gpu_p}, 0.99f);
  cpu_p.value().copy_from(target);
  gpu_p.value().copy_from(target);
  cpu_ema.update();
  gpu_ema.update();
  EXPECT_LT(relative_error(gpu_ema.state_dict()[0].second->to(Device::cpu()), *cpu_ema.state_dict()[0].second), 1e-7);
}

}  // namespace
}  // namespace cudl
