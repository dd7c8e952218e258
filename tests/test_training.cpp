// Models, optimizers, the solver, checkpoints and resuming, end to end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/formats/safetensors.h"
#include "core/random.h"
#include "autograd/functions.h"
#include "models/models.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/optimizer.h"
#include "train/solver.h"

namespace cudl {
namespace {

namespace fs = std::filesystem;

// Fashion-MNIST, normalised, loaded once; nullptr when it is not installed.
const DatasetSplits* fashion() {
  static const std::unique_ptr<DatasetSplits> splits = []() -> std::unique_ptr<DatasetSplits> {
    if (!fs::exists(kFashionMnistDir)) return nullptr;
    auto s = std::make_unique<DatasetSplits>(load_fashion_mnist());
    normalize_splits(*s);
    return s;
  }();
  return splits.get();
}

#define REQUIRE_FASHION()                                                                   \
  if (fashion() == nullptr) GTEST_SKIP() << "needs Fashion-MNIST in " << kFashionMnistDir \
                                         << " (scripts/setup.sh installs it)"

fs::path temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("cudl_test_training_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

TEST(Models, ThreeLayerConvNetStateDictMatchesCs231nAndTorch) {
  auto model = build_model(ModelConfig::defaults("three_layer"), 0);
  const TensorMap state = model_state_dict(*model);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : state) shapes[name] = t.shape();
  const std::map<std::string, Shape> expected = {{"conv.weight", {32, 1, 7, 7}}, {"conv.bias", {32}},
                                                 {"fc1.weight", {100, 6272}},   {"fc1.bias", {100}},
                                                 {"fc2.weight", {10, 100}},     {"fc2.bias", {10}}};
  EXPECT_EQ(shapes, expected);
  Generator gen(1);
  EXPECT_EQ(model->forward(Var(randn({2, 1, 28, 28}, gen))).shape(), (Shape{2, 10}));

  const fs::path path = temp_path("three_layer.safetensors");
  save_checkpoint(path.string(), *model, {{0.25f}, {0.5f}}, fashion_mnist_classes());
  const SafetensorsFile file = read_safetensors(path.string());
  std::map<std::string, Shape> file_shapes;
  for (const auto& [name, t] : file.tensors) file_shapes[name] = t.shape();
  EXPECT_EQ(file_shapes, expected);
  EXPECT_EQ(file.metadata.at("model"), "three_layer");
  EXPECT_EQ(file.metadata.at("input_mean"), "[0.25]");
  EXPECT_EQ(file.metadata.at("input_std"), "[0.5]");
  EXPECT_EQ(ModelConfig::from_json(file.metadata.at("config")).to_json(), model->config().to_json());
}

TEST(Models, DeepAndFcnetNames) {
  auto deep = build_model(ModelConfig::defaults("deep"), 0);
  const TensorMap state = model_state_dict(*deep);
  EXPECT_EQ(state.at("0.weight").shape(), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(state.at("1.running_var").shape(), (Shape{32}));
  EXPECT_EQ(state.count("num_batches_tracked"), 0u);
  ModelConfig fc = ModelConfig::defaults("fcnet");
  fc.hidden = {20, 10};
  fc.norm = "layer";
  auto fcnet = build_model(fc, 0);
  EXPECT_EQ(model_state_dict(*fcnet).at("1.weight").shape(), (Shape{20, 784}));
  EXPECT_EQ(model_state_dict(*fcnet).at("2.weight").shape(), (Shape{20}));  // the LayerNorm
}

ModelConfig small(const std::string& kind) {
  ModelConfig c = ModelConfig::defaults(kind);
  c.height = c.width = 8;
  c.num_classes = 5;
  c.num_filters = 3;
  c.channels = {2, 3};
  c.convs_per_stage = 1;
  c.hidden = kind == "fcnet" ? std::vector<std::int64_t>{7, 6} : std::vector<std::int64_t>{7};
  c.dropout = 0.0f;
  return c;
}

TEST(ModelGradcheck, FullBackwardAtSmallSizes) {
  for (const char* kind : {"three_layer", "deep", "fcnet"}) {
    for (const char* norm : {"none", "batch", "layer"}) {
      if (std::string(kind) != "fcnet" && std::string(norm) != "none") continue;
      ModelConfig c = small(kind);
      c.norm = norm;
      auto model = build_model(c, 3);
      Generator gen(4);
      Tensor x = randn({6, 1, 8, 8}, gen);
      test::GradCheckOptions o;
      // Deep stacks of relu, max pool and batch norm are far from linear over 1e-2. The
      // float32 noise of a difference quotient grows as 1/h (about 5e-5 per coordinate
      // here), so the floor that stands for "zero gradient" grows with it: biases that
      // feed batch norm, or sit behind dead relus, have gradients of 1e-4 and less.
      o.h = 1e-3;
      o.absolute_floor = 1e-2;
      const test::GradCheckReport r = test::gradcheck(*model, x, o);
      EXPECT_LT(r.max_error, 2e-2) << kind << " norm " << norm << ": worst tensor " << r.worst
                                     << " (gradient norm " << r.worst_norm << ")";
      EXPECT_GT(r.checked, 3 * r.skipped) << kind;
    }
  }
}

TEST(ModelLoss, InitialLossIsLnClassesForSmallWeights) {
  for (const char* kind : {"three_layer", "deep", "fcnet"}) {
    ModelConfig c = ModelConfig::defaults(kind);
    c.weight_scale = 1e-3f;
    c.norm = "none";  // batch norm would rescale the small activations back to 1
    auto model = build_model(c, 1);
    Generator gen(2);
    const Tensor x = randn({20, 1, 28, 28}, gen);
    std::vector<std::int64_t> labels(20);
    for (int i = 0; i < 20; ++i) labels[i] = i % 10;
    const Var loss = cross_entropy(model->forward(Var(x.view())), Tensor::from_vector(labels, {20}));
    EXPECT_NEAR(loss.item(), std::log(10.0), 2e-3) << kind;
  }
}

TEST(Optimizers, OneStepOfEachRuleMatchesTheHandComputedUpdate) {
  const std::vector<double> w0 = {1.0, -2.0, 0.5}, g = {0.1, 0.2, -0.3};
  struct Case {
    const char* name;
    double weight_decay;
    std::function<std::unique_ptr<Optimizer>(std::vector<Parameter*>)> make;
    std::function<double(double w, double g, int step)> expected;  // after `step` steps with the same gradient
  };
  const double lr = 0.1, momentum = 0.9, decay = 0.99, eps = 1e-8, b1 = 0.9, b2 = 0.999, wd = 0.05;
  const std::vector<Case> cases = {
      {"sgd", 0, [&](auto p) { return std::make_unique<SGD>(p, lr); },
       [&](double w, double gr, int) { return w - lr * gr; }},
      {"sgd+l2", wd, [&](auto p) { return std::make_unique<SGD>(p, lr, wd); },
       [&](double w, double gr, int) { return w - lr * (gr + wd * w); }},
      {"sgd_momentum", 0, [&](auto p) { return std::make_unique<SGDMomentum>(p, lr, momentum); },
       [&](double w, double gr, int step) {
         // v1 = -lr g, v2 = momentum v1 - lr g
         return step == 1 ? w - lr * gr : w - lr * gr - (momentum * lr * gr + lr * gr);
       }},
      {"rmsprop", 0, [&](auto p) { return std::make_unique<RMSprop>(p, lr, decay, eps); },
       [&](double w, double gr, int step) {
         double cache = 0;
         for (int t = 0; t < step; ++t) {
           cache = decay * cache + (1 - decay) * gr * gr;
           w -= lr * gr / (std::sqrt(cache) + eps);
         }
         return w;
       }},
      {"adam", 0, [&](auto p) { return std::make_unique<Adam>(p, lr, b1, b2, eps); },
       [&](double w, double gr, int step) {
         double m = 0, v = 0;
         for (int t = 1; t <= step; ++t) {
           m = b1 * m + (1 - b1) * gr;
           v = b2 * v + (1 - b2) * gr * gr;
           w -= lr * (m / (1 - std::pow(b1, t))) / (std::sqrt(v / (1 - std::pow(b2, t))) + eps);
         }
         return w;
       }},
      {"adamw", wd, [&](auto p) { return std::make_unique<AdamW>(p, lr, b1, b2, eps, wd); },
       [&](double w, double gr, int step) {
         double m = 0, v = 0;
         for (int t = 1; t <= step; ++t) {
           w *= 1 - lr * wd;
           m = b1 * m + (1 - b1) * gr;
           v = b2 * v + (1 - b2) * gr * gr;
           w -= lr * (m / (1 - std::pow(b1, t))) / (std::sqrt(v / (1 - std::pow(b2, t))) + eps);
         }
         return w;
       }},
  };
  for (const Case& c : cases) {
    Parameter p("w", Tensor::from_vector(std::vector<float>(w0.begin(), w0.end()), {3}), Tensor::zeros({3}));
    auto opt = c.make({&p});
    for (int step = 1; step <= 2; ++step) {
      p.grad().copy_from(Tensor::from_vector(std::vector<float>(g.begin(), g.end()), {3}));
      const std::vector<float> before = p.value().to_vector();
      opt->step();
      const std::vector<float> after = p.value().to_vector();
      for (int i = 0; i < 3; ++i) {
        // sgd+l2 is stateless, so its expectation runs from the weight before this step.
        const double want = std::string(c.name) == "sgd" || std::string(c.name) == "sgd+l2"
                                ? c.expected(before[i], g[i], step)
                                : c.expected(w0[i], g[i], step);
        EXPECT_NEAR(after[i], want, 2e-6 * std::max(1.0, std::abs(want))) << c.name << " step " << step << " [" << i << "]";
      }
    }
  }
}

TEST(Solver, OverfitsOneHundredFashionMnistImages) {
  REQUIRE_FASHION();
  const Dataset train = fashion()->train.slice(0, 100);
  const Dataset val = fashion()->train.slice(100, 150);
  auto model = build_model(ModelConfig::defaults("three_layer"), 0);
  // CS231n's sanity check; with Adam the training accuracy passes 95% around epoch 6.
  Solver solver(*model, train, val,
                {.epochs = 10, .batch_size = 25, .update_rule = "adam", .lr = 1e-3f, .train_eval_samples = 100});
  ASSERT_TRUE(solver.train());
  EXPECT_GE(solver.history().back().train_accuracy, 0.95);
  EXPECT_LT(solver.loss_history().back(), solver.loss_history().front());

  // A saved checkpoint, reloaded, predicts exactly what the model predicts.
  const fs::path path = temp_path("overfit.safetensors");
  save_checkpoint(path.string(), *model, {{0.0f}, {1.0f}}, fashion_mnist_classes());
  LoadedCheckpoint loaded = load_checkpoint(path.string());
  const std::vector<std::int64_t> expected = predict(*model, train);
  EXPECT_EQ(predict(*loaded.model, train), expected);
  EXPECT_DOUBLE_EQ(accuracy(predict(*loaded.model, train), train.labels), solver.check_accuracy(train));
}

struct RunResult {
  std::vector<float> losses;
  std::vector<double> val_accuracy;
  TensorMap params;
};

ModelConfig resumable_model() {
  ModelConfig c = ModelConfig::defaults("deep");
  c.channels = {4};
  c.convs_per_stage = 1;
  c.hidden = {16};
  c.dropout = 0.3f;  // the model Generator's position must survive the resume
  return c;
}

SolverOptions resumable_options() {
  return {.epochs = 2, .batch_size = 50, .update_rule = "adam", .lr = 2e-3f, .seed = 5, .train_eval_samples = 100};
}

RunResult finish(Model& model, Solver& solver) {
  return {solver.loss_history(), [&] {
            std::vector<double> v;
            for (const EpochRecord& r : solver.history()) v.push_back(r.val_accuracy);
            return v;
          }(),
          model_state_dict(model)};
}

void expect_same_run(const RunResult& a, const RunResult& b) {
  ASSERT_EQ(a.losses.size(), b.losses.size());
  for (std::size_t i = 0; i < a.losses.size(); ++i) EXPECT_EQ(a.losses[i], b.losses[i]) << "step " << i;  // bitwise
  EXPECT_EQ(a.val_accuracy, b.val_accuracy);
  for (const auto& [name, t] : a.params) EXPECT_EQ(t.to_vector(), b.params.at(name).to_vector()) << name;
}

TEST(Solver, ResumedRunEqualsUninterruptedRun) {
  REQUIRE_FASHION();
  const Dataset train = fashion()->train.slice(0, 300);
  const Dataset val = fashion()->train.slice(300, 400);
  auto reference_model = build_model(resumable_model(), 21);
  Solver reference(*reference_model, train, val, resumable_options());
  ASSERT_TRUE(reference.train());
  const RunResult expected = finish(*reference_model, reference);
  ASSERT_EQ(expected.losses.size(), 12u);

  for (std::int64_t stop_at : {4, 6}) {  // mid-epoch, and at the end of epoch 1 before its evaluation
    const fs::path state = temp_path("state_" + std::to_string(stop_at) + ".safetensors");
    {
      auto model = build_model(resumable_model(), 21);
      SolverOptions options = resumable_options();
      options.max_steps = stop_at;
      Solver solver(*model, train, val, options);
      ASSERT_FALSE(solver.train());
      EXPECT_EQ(solver.steps_taken(), stop_at);
      solver.save_state(state.string());
    }
    auto model = build_model(resumable_model(), 999);  // every value must come from the state file
    Solver solver(*model, train, val, resumable_options());
    solver.load_state(state.string());
    ASSERT_TRUE(solver.train());
    expect_same_run(expected, finish(*model, solver));
  }
}

TEST(Solver, CpuAndCudaLossesAgreeStepByStep) {
  CUDL_REQUIRE_CUDA();
  REQUIRE_FASHION();
  const Dataset train = fashion()->train.slice(0, 300);
  const Dataset val = fashion()->train.slice(300, 400);
  std::vector<std::vector<float>> losses;
  for (Device device : {Device::cpu(), Device::cuda()}) {
    auto model = build_model(resumable_model(), 21, device);
    Solver solver(*model, train, val, resumable_options());
    ASSERT_TRUE(solver.train());
    losses.push_back(solver.loss_history());
  }
  ASSERT_EQ(losses[0].size(), losses[1].size());
  for (std::size_t i = 0; i < losses[0].size(); ++i)
    EXPECT_NEAR(losses[0][i], losses[1][i], 1e-3 * std::max(1.0f, losses[0][i])) << "step " << i;
}

}  // namespace
}  // namespace cudl
