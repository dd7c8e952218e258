// Finite differences over the op list: every differentiable case of every op in
// the registry (the `large` ones are for GPUs) has each input gradient its
// backward returns checked against central differences of L = sum(out * dout)
// (of the loss itself, for losses), on the naive CPU implementation, at 12
// random coordinates of each input. A new op is checked here as soon as it is
// registered.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/registry.h"
#include "tests/gradcheck.h"

using namespace cudl;

namespace {

struct GradParam {
  std::string op, label;
};
void PrintTo(const GradParam& p, std::ostream* os) { *os << p.op << "/" << p.label; }

// Beyond this many input elements the naive kernels under the sanitizers take
// minutes a case, and a few ops' float32 results round away one coordinate's change.
constexpr std::int64_t kSmallCaseElements = 20000;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::int64_t input_elements(const OpCase& c) {
  std::int64_t elements = 0;
  for (const InputSpec& s : c.inputs) elements += shape_numel(s.shape);
  return elements;
}

std::vector<GradParam> differentiable_cases() {
  std::vector<GradParam> out;
  for (const OpDef& op : op_registry()) {
    if (!op.has_backward) continue;
    for (const OpCase& c : op.cases) {
      // torch's padding_idx: that row's gradient is zero by convention, not calculus.
      const bool conventional = op.name == "embedding" && c.attrs.has("padding_idx");
      // Checked on their small cases only: svm_loss's value is about C per row, so
      // with many scores the float32 loss rounds away one score's 1/N share; the
      // composites' outputs carry the rounding of a dozen ops, which on the large
      // cases is the size of one parameter's difference (the central and one-sided
      // differences disagree at half the coordinates of a smooth function).
      const bool below_rounding =
          (op.name == "svm_loss" || op.name == "transformer_decoder_layer" || op.name == "spatial_attention") &&
          input_elements(c) > kSmallCaseElements;
      if (!c.large && !conventional && !below_rounding) out.push_back({op.name, c.label});
    }
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<GradParam>& info) {
  std::string name = info.param.op + "_" + info.param.label;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

class OpGradcheck : public ::testing::TestWithParam<GradParam> {};

TEST_P(OpGradcheck, BackwardMatchesFiniteDifferences) {
  const OpDef& op = *find_op(GetParam().op);
  const OpCase* c = nullptr;
  for (const OpCase& candidate : op.cases)
    if (candidate.label == GetParam().label) c = &candidate;
  ASSERT_NE(c, nullptr);
  if (kSanitized && input_elements(*c) > kSmallCaseElements)
    GTEST_SKIP() << "more than " << kSmallCaseElements << " input elements: checked by the unsanitized suite; "
                 << "under the sanitizers its naive kernels take minutes";
  TensorMap inputs = make_inputs(*c, 7);
  const Device cpu = Device::cpu();
  // A fixed upstream gradient, so that the scalar is well defined.
  if (!op.is_loss) {
    const TensorMap once = op.run(inputs, c->attrs, cpu, Impl::Naive, false);
    Generator gen(99);
    inputs.insert_or_assign("dout", randn(once.at("out").shape(), gen));
  }
  const TensorMap analytic = op.run(inputs, c->attrs, cpu, Impl::Naive, true);
  auto scalar = [&] {
    const TensorMap r = op.run(inputs, c->attrs, cpu, Impl::Naive, false);
    return op.is_loss ? static_cast<double>(r.at("out").item()) : test::dot(r.at("out"), inputs.at("dout"));
  };
  const double f0 = scalar();
  std::mt19937_64 rng(3);
  int checked_inputs = 0;
  for (auto& [name, value] : inputs) {
    const auto grad = analytic.find("d" + name);
    if (name == "dout" || grad == analytic.end() || value.dtype() != DType::F32) continue;
    const std::vector<float> exact = grad->second.to_vector();
    std::vector<std::int64_t> coords(static_cast<std::size_t>(value.numel()));
    for (std::size_t i = 0; i < coords.size(); ++i) coords[i] = static_cast<std::int64_t>(i);
    std::shuffle(coords.begin(), coords.end(), rng);
    coords.resize(std::min<std::size_t>(coords.size(), 12));
    double diff = 0, numeric_norm = 0, exact_norm = 0;
    int kinks = 0;
    for (std::int64_t i : coords) {
      const test::CentralDifference d = test::central_difference(scalar, value.data<float>() + i, 1e-2);
      const double right = (d.plus - f0) / (d.step / 2), left = (f0 - d.minus) / (d.step / 2);
      if (std::abs(right - left) > 0.05 * (std::abs(right) + std::abs(left) + 1e-3)) {
        ++kinks;  // relu at 0, a changing argmax: the difference means nothing there
        continue;
      }
      const double numeric = d.slope(), e = exact[static_cast<std::size_t>(i)];
      diff += (numeric - e) * (numeric - e);
      numeric_norm += numeric * numeric;
      exact_norm += e * e;
    }
    const double floor = 1e-3 * std::sqrt(static_cast<double>(coords.size()));
    const double error = std::sqrt(diff) / std::max({std::sqrt(numeric_norm), std::sqrt(exact_norm), floor});
    EXPECT_LT(error, 2e-2) << "d" << name << " of " << op.name << "/" << c->label;
    EXPECT_LE(kinks, static_cast<int>(coords.size()) / 2) << "d" << name << ": too many coordinates at kinks";
    ++checked_inputs;
  }
  EXPECT_GT(checked_inputs, 0) << op.name << "/" << c->label << " returned no gradient to check";
}

INSTANTIATE_TEST_SUITE_P(Registry, OpGradcheck, ::testing::ValuesIn(differentiable_cases()), param_name);

}  // namespace
