// Losses: implementations agree, gradients match finite differences, values
// worked out by hand, label and argument errors.
#include <cmath>
#include <functional>

#include "core/random.h"
#include "kernels/loss.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {
using LossFn = std::function<LossResult(const Tensor&, const Tensor&, Impl)>;
struct NamedLoss {
  const char* name;
  LossFn fn;
};
const NamedLoss kLosses[] = {{"cross_entropy", cross_entropy},
                             {"svm_loss", svm_loss},
                             {"bce_with_logits", bce_with_logits},
                             {"mse_loss", mse_loss}};
}  // namespace

TEST(Loss, CrossEntropyOfZeroLogitsIsLogC) {
  Tensor x = Tensor::zeros({4, 10});
  Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 3, 9, 3}, {4});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    LossResult r = cross_entropy(x, y, impl);
    EXPECT_NEAR(r.loss.item(), std::log(10.0), 1e-6);
    const std::vector<float> dx = r.dx.to_vector();
    EXPECT_NEAR(dx[0], (0.1 - 1.0) / 4, 1e-7);  // row 0, its label
    EXPECT_NEAR(dx[1], 0.1 / 4, 1e-7);
  }
}

TEST(Loss, CrossEntropyIsStableForHugeLogits) {
  Tensor x = Tensor::from_vector(std::vector<float>{1000.0f, 0.0f, -1000.0f}, {1, 3});
  Tensor y = Tensor::from_vector(std::vector<std::int64_t>{1}, {1});
  for (Impl impl : {Impl::Naive, Impl::Fast}) EXPECT_NEAR(cross_entropy(x, y, impl).loss.item(), 1000.0, 1e-3);
}

TEST(Loss, SvmByHand) {
  // Row 0 (label 0): margins 2-1+1 = 2 and 3-1+1 = 3. Row 1 (label 2): 3-0+1 = 4
  // and 1-0+1 = 2. Loss (5 + 6) / 2; each positive margin sends +1/N to its class
  // and -1/N to the label.
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 3, 1, 0}, {2, 3});
  Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 2}, {2});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    LossResult r = svm_loss(x, y, impl);
    EXPECT_FLOAT_EQ(r.loss.item(), 5.5f);
    EXPECT_EQ(r.dx.to_vector(), (std::vector<float>{-1.0f, 0.5f, 0.5f, 0.5f, 0.5f, -1.0f}));
  }
}

TEST(Loss, BceWithLogitsKnownValuesAndStability) {
  Tensor x = Tensor::from_vector(std::vector<float>{0.0f, 100.0f, -100.0f}, {3});
  Tensor t = Tensor::from_vector(std::vector<float>{1.0f, 1.0f, 1.0f}, {3});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    LossResult r = bce_with_logits(x, t, impl);
    // ln 2 for the zero logit, ~0 for the confident right one, 100 for the confident wrong one.
    EXPECT_NEAR(r.loss.item(), (std::log(2.0) + 100.0) / 3, 1e-5);
    const std::vector<float> dx = r.dx.to_vector();
    EXPECT_NEAR(dx[0], -0.5 / 3, 1e-7);
    EXPECT_NEAR(dx[2], -1.0 / 3, 1e-7);
  }
}

TEST(Loss, MseByHand) {
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor t = Tensor::from_vector(std::vector<float>{1, 0, 3, 1}, {2, 2});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    LossResult r = mse_loss(x, t, impl);
    EXPECT_FLOAT_EQ(r.loss.item(), (4.0f + 9.0f) / 4);
    EXPECT_EQ(r.dx.to_vector(), (std::vector<float>{0.0f, 1.0f, 0.0f, 1.5f}));
  }
}

TEST(Loss, GradientMatchesFiniteDifferences) {
  Generator gen(9);
  for (const auto& loss : kLosses) {
    const bool labels = loss.name == std::string("cross_entropy") || loss.name == std::string("svm_loss");
    for (Impl impl : {Impl::Naive, Impl::Fast}) {
      Tensor x = randn({5, 4}, gen);
      Tensor y = labels ? Tensor::from_vector(std::vector<std::int64_t>{0, 3, 1, 1, 2}, {5}) : rand({5, 4}, gen);
      const LossResult r = loss.fn(x, y, impl);
      auto f = [&] { return static_cast<double>(loss.fn(x, y, impl).loss.item()); };
      // svm's hinge has kinks; a step of 1e-3 crosses one only if a margin lies within 1e-3 of 0.
      EXPECT_LT(test::relative_error(r.dx.to_vector(), test::numeric_gradient(f, x, 1e-3f)), 1e-2)
          << loss.name << " " << impl_name(impl);
    }
  }
}

TEST(Loss, LabelsOutOfRangeNameTheOpTheLabelAndC) {
  Tensor x = Tensor::zeros({3, 5});
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    for (std::int64_t bad : {5, -1}) {
      Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, bad, 4}, {3});
      const std::string msg = test::error_of([&] { cross_entropy(x, y, impl); });
      EXPECT_NE(msg.find("cross_entropy"), std::string::npos) << msg;
      EXPECT_NE(msg.find("label " + std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("C = 5"), std::string::npos) << msg;
      EXPECT_NE(test::error_of([&] { svm_loss(x, y, impl); }).find("svm_loss"), std::string::npos);
    }
  }
}

TEST(Loss, LabelsOutOfRangeOnCuda) {
  CUDL_REQUIRE_CUDA();
  Tensor x = Tensor::zeros({40, 5}, DType::F32, Device::cuda());
  std::vector<std::int64_t> labels(40, 1);
  labels[33] = 7;
  labels[37] = -2;
  Tensor y = Tensor::from_vector(labels, {40}, Device::cuda());
  for (Impl impl : {Impl::Naive, Impl::Fast}) {
    for (auto fn : {cross_entropy, svm_loss}) {
      // The device flags the label; the error comes at the next sync point, here item().
      LossResult r = fn(x, y, impl);
      const std::string msg = test::error_of([&] { r.loss.item(); });
      EXPECT_NE(msg.find("label 7 of row 33"), std::string::npos) << msg;  // the first bad row
      EXPECT_NE(msg.find("C = 5"), std::string::npos) << msg;
      EXPECT_NO_THROW(synchronize(Device::cuda()));  // reported once
    }
  }
}

TEST(Loss, BadArgumentsNameTheOp) {
  Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 1}, {2});
  Tensor int_scores = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 3}, {2, 2});
  EXPECT_NE(test::error_of([&] { cross_entropy(int_scores, y); }).find("cross_entropy"), std::string::npos);
  Tensor x = Tensor::zeros({3, 2});
  EXPECT_NE(test::error_of([&] { svm_loss(x, y); }).find("svm_loss"), std::string::npos);  // 3 rows, 2 labels
  Tensor float_labels = Tensor::zeros({3});
  EXPECT_NE(test::error_of([&] { cross_entropy(x, float_labels); }).find("cross_entropy"), std::string::npos);
  EXPECT_NE(test::error_of([&] { mse_loss(x, Tensor::zeros({2, 3})); }).find("mse_loss"), std::string::npos);
  EXPECT_NE(test::error_of([&] { bce_with_logits(Tensor::zeros({4}), Tensor::zeros({5})); }).find("bce_with_logits"),
            std::string::npos);
}
