// Sample scoring (eval/): the Fréchet distance against SciPy's values on stored
// feature sets, the Inception Score and label histogram on hand-computed
// cases, batching through a classifier, and the sample readers.
#include <png.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/formats/npy.h"
#include "core/random.h"
#include "eval/classifier.h"
#include "eval/samples.h"
#include "eval/score.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {

const std::string kFrechetDir = std::string(CUDL_TEST_DATA_DIR) + "/data/frechet/";

GaussianStats stats_of(const std::string& name) { return gaussian_stats(read_npy(kFrechetDir + name + ".npy")); }

Tensor probs(const std::vector<float>& values, std::int64_t classes) {
  return Tensor::from_vector(values, {static_cast<std::int64_t>(values.size()) / classes, classes});
}

}  // namespace

// ---- Fréchet distance ----

TEST(Frechet, StatsAreTwoPassMeanAndUnbiasedCovariance) {
  // Rows (1, 2), (3, 6), (5, 10) on an offset of 1e7, which a one-pass sum of
  // squares in double would lose (1e14 squared terms against a variance of 4).
  const float o = 1e7f;
  const GaussianStats s = gaussian_stats(Tensor::from_vector(std::vector<float>{o + 1, 2, o + 3, 6, o + 5, 10}, {3, 2}));
  EXPECT_EQ(s.count, 3);
  EXPECT_DOUBLE_EQ(s.mean[0], double(o) + 3);
  EXPECT_DOUBLE_EQ(s.mean[1], 6.0);
  EXPECT_DOUBLE_EQ(s.covariance[0], 4.0);   // ((-2)^2 + 0 + 2^2) / 2
  EXPECT_DOUBLE_EQ(s.covariance[1], 8.0);   // ((-2)(-4) + 0 + 2*4) / 2
  EXPECT_DOUBLE_EQ(s.covariance[2], 8.0);
  EXPECT_DOUBLE_EQ(s.covariance[3], 16.0);
}

TEST(Frechet, DiagonalGaussiansHaveTheClosedForm) {
  // For diagonal S1, S2: d^2 = ||mu1 - mu2||^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
  GaussianStats a{10, 2, {0, 1}, {4, 0, 0, 9}}, b{10, 2, {3, 5}, {1, 0, 0, 16}};
  const FrechetDistance d = frechet_distance(a, b);
  EXPECT_NEAR(d.mean_term, 9 + 16, 1e-12);
  EXPECT_NEAR(d.trace_term, 1 + 1, 1e-12);  // (2 - 1)^2 + (3 - 4)^2
  EXPECT_NEAR(d.distance, 27, 1e-12);
  EXPECT_EQ(d.clamped_eigenvalues, 0);
}

TEST(Frechet, MatchesHighPrecisionAndScipyOnStoredFeatureSets) {
  std::ifstream in(kFrechetDir + "cases.json");
  ASSERT_TRUE(in) << "missing " << kFrechetDir << "cases.json";
  const nlohmann::json cases = nlohmann::json::parse(in)["cases"];
  ASSERT_GE(cases.size(), 9u);
  for (const auto& c : cases) {
    const std::string a = c["a"], b = c["b"];
    const FrechetDistance d = frechet_distance(stats_of(a), stats_of(b));
    const double exact = c["fid_mpmath"], scipy = c["fid_scipy_sqrtm"], trace = c["trace_term_mpmath"];
    SCOPED_TRACE(a + " vs " + b);
    std::printf("  %-15s vs %-15s cudl %.12g, error vs mpmath %.1e, vs scipy sqrtm %.1e\n", a.c_str(), b.c_str(),
                d.distance, std::abs(d.distance - exact), std::abs(d.distance - scipy));
    EXPECT_NEAR(d.mean_term, double(c["mean_term"]), 1e-12 * std::max(1.0, d.mean_term));
    if (a == b) {
      // Exactly 0; SciPy's sqrtm leaves 5e-6 on the near-singular set.
      EXPECT_LT(d.distance, 1e-9);
      continue;
    }
    EXPECT_NEAR(d.distance, exact, 1e-9 * exact);
    EXPECT_NEAR(d.trace_term, trace, 1e-9 * std::max(1.0, std::abs(trace)));
    // pytorch-fid's formula is itself off by up to 4e-8 relative here (the
    // near-singular and rank-deficient covariances).
    EXPECT_NEAR(d.distance, scipy, 1e-7 * scipy);
  }
}

TEST(Frechet, RankDeficientCovarianceReportsClampedEigenvalues) {
  // 40 samples in 64 dimensions: S1 has rank 39, so 25 eigenvalues are zero up
  // to rounding, and some of them come out negative; S2 (500 samples) has none.
  const FrechetDistance d = frechet_distance(stats_of("few_samples"), stats_of("normal"));
  EXPECT_EQ(d.clamped_eigenvalues, 25);
  EXPECT_LT(d.most_negative_relative, 0.0);
  EXPECT_GT(d.most_negative_relative, -1e-12);
}

TEST(Frechet, RejectsMismatchedDimensionsAndTooFewRows) {
  EXPECT_NE(test::error_of([] { frechet_distance(GaussianStats{2, 2, {0, 0}, {1, 0, 0, 1}},
                                                 GaussianStats{2, 1, {0}, {1}}); })
                .find("frechet_distance"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { gaussian_stats(Tensor::zeros({1, 4})); }).find("at least 2 feature rows"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { gaussian_stats(Tensor::full({3, 2}, NAN)); }).find("not finite"), std::string::npos);
}

// ---- Inception Score and labels ----

TEST(InceptionScore, HandComputedValues) {
  // Confident and balanced over 4 classes: KL(onehot || uniform) = log 4, IS = 4.
  EXPECT_NEAR(inception_score(probs({1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 4), 1).mean, 4.0, 1e-12);
  // The same distribution for every sample: KL = 0, IS = 1 (full mode collapse).
  EXPECT_NEAR(inception_score(probs({0.7f, 0.3f, 0.7f, 0.3f, 0.7f, 0.3f}, 2), 1).mean, 1.0, 1e-12);
  // Rows (1, 0) and (0.5, 0.5): p(y) = (0.75, 0.25);
  // KL1 = log(1/0.75), KL2 = 0.5 log(0.5/0.75) + 0.5 log(0.5/0.25); IS = exp((KL1 + KL2) / 2).
  const double kl = std::log(1 / 0.75) + 0.5 * std::log(0.5 / 0.75) + 0.5 * std::log(2.0);
  EXPECT_NEAR(inception_score(probs({1, 0, 0.5f, 0.5f}, 2), 1).mean, std::exp(kl / 2), 1e-7);
}

TEST(InceptionScore, SplitsGiveMeanAndPopulationStd) {
  // Split 1: two confident samples of different classes, IS 2; split 2: two
  // identical samples, IS 1. Mean 1.5, std 0.5.
  const InceptionScore s = inception_score(probs({1, 0, 0, 1, 1, 0, 1, 0}, 2), 2);
  EXPECT_NEAR(s.mean, 1.5, 1e-12);
  EXPECT_NEAR(s.std, 0.5, 1e-12);
  EXPECT_NE(test::error_of([] { inception_score(probs({1, 0}, 2), 2); }).find("splits"), std::string::npos);
  EXPECT_NE(test::error_of([] { inception_score(probs({0.6f, 0.6f}, 2), 1); }).find("sums to"), std::string::npos);
}

TEST(LabelHistogram, CountsArgmaxAndFractions) {
  const std::vector<std::int64_t> counts =
      label_histogram(probs({0.1f, 0.8f, 0.1f, 0.2f, 0.7f, 0.1f, 0.6f, 0.2f, 0.2f, 0.1f, 0.2f, 0.7f}, 3));
  EXPECT_EQ(counts, (std::vector<std::int64_t>{1, 2, 1}));
  EXPECT_DOUBLE_EQ(label_fraction(counts, 1), 0.5);
  EXPECT_DOUBLE_EQ(label_fraction(counts, 2), 0.25);
  EXPECT_NE(test::error_of([&] { label_fraction(counts, 3); }).find("outside"), std::string::npos);
  const std::vector<std::int64_t> labels =
      predicted_labels(probs({0.1f, 0.8f, 0.1f, 0.2f, 0.7f, 0.1f, 0.6f, 0.2f, 0.2f, 0.1f, 0.2f, 0.7f}, 3));
  EXPECT_EQ(labels, (std::vector<std::int64_t>{1, 1, 0, 2}));
  EXPECT_DOUBLE_EQ(asked_label_accuracy(labels, {1, 0, 0, 2}), 0.75);
  EXPECT_NE(test::error_of([&] { asked_label_accuracy(labels, {1}); }).find("one asked label per sample"),
            std::string::npos);
}

// ---- scoring through a classifier ----

TEST(Score, BatchesThroughTheClassifierInOrder) {
  // A fake classifier: features = (mean pixel, row index), probabilities one-hot
  // on (row index mod 3); the batch size does not divide N.
  Generator gen(7);
  const Tensor images = rand({23, 1, 4, 4}, gen);
  std::vector<std::int64_t> batch_sizes;
  std::int64_t seen = 0;
  const ClassifierFn fake = [&](const Tensor& x, Tensor& features, Tensor& probabilities) {
    const std::int64_t b = x.size(0);
    batch_sizes.push_back(b);
    features = Tensor::zeros({b, 2});
    probabilities = Tensor::zeros({b, 3});
    for (std::int64_t i = 0; i < b; ++i) {
      double sum = 0;
      for (std::int64_t k = 0; k < 16; ++k) sum += x.data<float>()[i * 16 + k];
      features.data<float>()[i * 2] = static_cast<float>(sum / 16);
      features.data<float>()[i * 2 + 1] = static_cast<float>(seen + i);
      probabilities.data<float>()[i * 3 + (seen + i) % 3] = 1;
    }
    seen += b;
  };
  const ClassifierOutputs out = classify_in_batches(images, fake, 10);
  EXPECT_EQ(batch_sizes, (std::vector<std::int64_t>{10, 10, 3}));
  ASSERT_EQ(out.features.shape(), (Shape{23, 2}));
  for (std::int64_t i = 0; i < 23; ++i) EXPECT_EQ(out.features.data<float>()[i * 2 + 1], float(i));

  const SampleScore score = score_outputs(out, gaussian_stats(out.features), 1);
  EXPECT_LT(score.fid.distance, 1e-9);  // the same features as the reference
  EXPECT_EQ(score.label_histogram, (std::vector<std::int64_t>{8, 8, 7}));
  EXPECT_NEAR(score.inception.mean, 3.0, 0.01);  // confident, nearly balanced
  const std::string report = format_score_report(score, {"zero", "one", "two"});
  EXPECT_NE(report.find("samples: 23"), std::string::npos) << report;
  EXPECT_NE(report.find("two"), std::string::npos) << report;
  EXPECT_NE(report.find("30.4%"), std::string::npos) << report;  // 7 / 23
}

TEST(Score, RejectsAClassifierThatReturnsTheWrongRows) {
  const ClassifierFn bad = [](const Tensor& x, Tensor& features, Tensor& probabilities) {
    features = Tensor::zeros({x.size(0) + 1, 2});
    probabilities = Tensor::full({x.size(0), 2}, 0.5f);
  };
  EXPECT_NE(test::error_of([&] { classify_in_batches(Tensor::zeros({4, 1, 2, 2}), bad, 3); }).find("features"),
            std::string::npos);
}

TEST(Score, ModelClassifierSplitsAtTheLastChild) {
  ModelConfig config = ModelConfig::defaults("deep");
  config.channels = {4};
  config.convs_per_stage = 1;
  config.hidden = {16};
  Model model(config, 3);
  const Normalization norm{{0.3f}, {0.4f}};
  Generator gen(11);
  const Tensor images = rand({5, 1, 28, 28}, gen);
  Tensor features, probabilities;
  model_classifier(model, norm)(images, features, probabilities);
  EXPECT_EQ(features.shape(), (Shape{5, 16}));
  ASSERT_EQ(probabilities.shape(), (Shape{5, 10}));
  EXPECT_TRUE(model.training());  // restored

  // The same as normalising by hand and running the whole model in eval mode.
  Tensor x = images.clone();
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = (x.data<float>()[i] - 0.3f) / 0.4f;
  model.set_training(false);
  const std::vector<float> logits = model.forward(Var(std::move(x))).value().to_vector();
  for (std::int64_t i = 0; i < 5; ++i) {
    double z = 0;
    for (int c = 0; c < 10; ++c) z += std::exp(double(logits[i * 10 + c]));
    for (int c = 0; c < 10; ++c)
      EXPECT_NEAR(probabilities.data<float>()[i * 10 + c], std::exp(double(logits[i * 10 + c])) / z, 1e-6);
  }
  for (float f : features.to_vector()) EXPECT_GE(f, 0.0f);  // after the ReLU
}

// ---- reading samples ----

namespace {

class Samples : public test::ScratchDirTest {
 protected:
  void write_png(const std::string& name, int width, int height, png_uint_32 format, std::uint8_t value) {
    png_image image;
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = format;
    std::vector<std::uint8_t> pixels(PNG_IMAGE_SIZE(image), value);
    ASSERT_TRUE(png_image_write_to_file(&image, path(name).c_str(), 0, pixels.data(), 0, nullptr)) << image.message;
  }
};

}  // namespace

TEST_F(Samples, PngFolderInNameOrder) {
  write_png("b.png", 28, 28, PNG_FORMAT_GRAY, 255);
  write_png("a.png", 28, 28, PNG_FORMAT_GRAY, 51);
  std::ofstream(path("notes.txt")) << "ignored";
  const Tensor x = read_samples(dir_.string());
  ASSERT_EQ(x.shape(), (Shape{2, 1, 28, 28}));
  EXPECT_FLOAT_EQ(x.data<float>()[0], 0.2f);          // a.png first
  EXPECT_FLOAT_EQ(x.data<float>()[28 * 28], 1.0f);    // then b.png
}

TEST_F(Samples, PngErrorsNameTheFile) {
  write_png("small.png", 28, 27, PNG_FORMAT_GRAY, 0);
  std::string e = test::error_of([&] { read_png_samples(dir_.string()); });
  EXPECT_NE(e.find("small.png is 28x27"), std::string::npos) << e;
  std::filesystem::remove(path("small.png"));
  write_png("rgb.png", 28, 28, PNG_FORMAT_RGB, 0);
  e = test::error_of([&] { read_png_samples(dir_.string()); });
  EXPECT_NE(e.find("rgb.png is colour"), std::string::npos) << e;
  std::filesystem::remove(path("rgb.png"));
  std::ofstream(path("fake.png")) << "not a png";
  e = test::error_of([&] { read_png_samples(dir_.string()); });
  EXPECT_NE(e.find("fake.png is not a readable PNG"), std::string::npos) << e;
  std::filesystem::remove(path("fake.png"));
  e = test::error_of([&] { read_png_samples(dir_.string()); });
  EXPECT_NE(e.find("no .png files"), std::string::npos) << e;
}

TEST_F(Samples, NpyFloatAndUint8) {
  Tensor f = Tensor::full({3, 28, 28}, 0.25f);
  write_npy(path("f.npy"), f);
  const Tensor x = read_samples(path("f.npy"));
  EXPECT_EQ(x.shape(), (Shape{3, 1, 28, 28}));
  EXPECT_FLOAT_EQ(x.data<float>()[100], 0.25f);

  Tensor u = Tensor::empty({2, 1, 28, 28}, DType::U8);
  for (std::int64_t i = 0; i < u.numel(); ++i) u.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(i % 256);
  write_npy(path("u.npy"), u);
  const Tensor y = read_samples(path("u.npy"));
  EXPECT_FLOAT_EQ(y.data<float>()[255], 1.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[51], 0.2f);
}

TEST_F(Samples, NpyErrorsSayWhatWasExpected) {
  write_npy(path("tanh.npy"), Tensor::full({2, 1, 28, 28}, -0.5f));
  std::string e = test::error_of([&] { read_samples(path("tanh.npy")); });
  EXPECT_NE(e.find("(x + 1) / 2"), std::string::npos) << e;
  write_npy(path("shape.npy"), Tensor::zeros({2, 3, 28, 28}));
  e = test::error_of([&] { read_samples(path("shape.npy")); });
  EXPECT_NE(e.find("shape.npy holds float32 [2,3,28,28]"), std::string::npos) << e;
  write_npy(path("labels.npy"), Tensor::from_vector(std::vector<std::int64_t>(2 * 28 * 28, 0), {2, 28, 28}));
  e = test::error_of([&] { read_samples(path("labels.npy")); });
  EXPECT_NE(e.find("expected float32 in [0, 1] or uint8"), std::string::npos) << e;
}
