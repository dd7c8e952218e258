// tests/data/gan_loss_checks.json (torch, float64) against the loss formulas
// written out in double here, so the reference the GAN losses will be tested
// against is itself checked, including the saturated logits (+-120).
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace {

// BCE on a logit against target 1 or 0, in the log-sum-exp form that stays
// finite for any logit: softplus(-x) for target 1, softplus(x) for target 0.
double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

double mean(const std::vector<double>& v, double (*f)(double)) {
  double s = 0;
  for (double x : v) s += f(x);
  return s / static_cast<double>(v.size());
}

}  // namespace

TEST(GanLossChecks, TorchValuesMatchTheFormulas) {
  std::ifstream in(std::string(CUDL_TEST_DATA_DIR) + "/data/gan_loss_checks.json");
  ASSERT_TRUE(in) << "missing tests/data/gan_loss_checks.json";
  const nlohmann::json j = nlohmann::json::parse(in);
  const std::vector<double> real = j["logits_real"], fake = j["logits_fake"];
  const auto& losses = j["losses"];
  const double n = static_cast<double>(fake.size());

  const double vanilla_d = mean(real, [](double x) { return softplus(-x); }) + mean(fake, softplus);
  const double vanilla_g = mean(fake, [](double x) { return softplus(-x); });
  const double ls_d = 0.5 * mean(real, [](double x) { return (x - 1) * (x - 1); }) +
                      0.5 * mean(fake, [](double x) { return x * x; });
  const double ls_g = 0.5 * mean(fake, [](double x) { return (x - 1) * (x - 1); });
  EXPECT_NEAR(double(losses["vanilla_discriminator"]["loss"]), vanilla_d, 1e-12);
  EXPECT_NEAR(double(losses["vanilla_generator"]["loss"]), vanilla_g, 1e-12);
  EXPECT_NEAR(double(losses["ls_discriminator"]["loss"]), ls_d, 1e-10);
  EXPECT_NEAR(double(losses["ls_generator"]["loss"]), ls_g, 1e-10);
  EXPECT_GT(vanilla_d, 120.0 / n);  // the saturated pair counts, it is not lost to log(0)

  for (std::size_t i = 0; i < fake.size(); ++i) {
    SCOPED_TRACE(i);
    // d/dx of mean BCE: (sigmoid(x) - target) / N; of the LS terms: (x - target) / N.
    EXPECT_NEAR(double(losses["vanilla_discriminator"]["grad_real"][i]), (sigmoid(real[i]) - 1) / n, 1e-15);
    EXPECT_NEAR(double(losses["vanilla_discriminator"]["grad_fake"][i]), sigmoid(fake[i]) / n, 1e-15);
    EXPECT_NEAR(double(losses["vanilla_generator"]["grad_fake"][i]), (sigmoid(fake[i]) - 1) / n, 1e-15);
    EXPECT_NEAR(double(losses["ls_discriminator"]["grad_real"][i]), (real[i] - 1) / n, 1e-15);
    EXPECT_NEAR(double(losses["ls_discriminator"]["grad_fake"][i]), fake[i] / n, 1e-15);
    EXPECT_NEAR(double(losses["ls_generator"]["grad_fake"][i]), (fake[i] - 1) / n, 1e-15);
  }
}
