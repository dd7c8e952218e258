// Every op in the registry, every case, every implementation: the naive CPU
// implementation is the reference that the fast CPU one and every CUDA one must
// match (ggml's test-backend-ops idea: one list drives all checks). Cases marked
// `large` fill a GPU; they run only in the CUDA suite, against the fast CPU one.
// Results must agree to 1e-4 (relative L2), or to an op's tighter bound.
#include <map>
#include <string>
#include <vector>

#include "kernels/registry.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {

struct AgreementParam {
  std::string op;
  std::string label;
};
// Keeps test names readable in ctest (gtest would dump the struct's bytes).
void PrintTo(const AgreementParam& p, std::ostream* os) { *os << p.op << "/" << p.label; }

std::vector<AgreementParam> all_cases(bool include_large) {
  std::vector<AgreementParam> out;
  for (const OpDef& op : op_registry())
    for (const OpCase& c : op.cases)
      if (include_large || !c.large) out.push_back({op.name, c.label});
  return out;
}

std::string param_name(const ::testing::TestParamInfo<AgreementParam>& info) {
  std::string name = info.param.op + "_" + info.param.label;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

const OpCase& find_case(const OpDef& op, const std::string& label) {
  for (const OpCase& c : op.cases)
    if (c.label == label) return c;
  throw Error("no case " + label);
}

constexpr double kDefaultTolerance = 1e-4;

// The ops whose implementations agree more closely than the default: elementwise
// maps to float rounding, copies (permute, concat, slice) and dropout bit for bit
// (every implementation and device draws the same mask), sums (double
// accumulators) to float rounding on the CPU, CUDA reductions to 1e-5 of the CPU's.
struct Tolerance {
  double cpu = kDefaultTolerance, cuda = kDefaultTolerance;
};
Tolerance tolerance_of(const std::string& op) {
  static const std::map<std::string, Tolerance> tighter = {
      {"dropout", {0.0, 0.0}},        {"upsample_nearest2d", {1e-6, 1e-6}}, {"softmax", {1e-5, 1e-5}},
      {"relu", {1e-6, 1e-5}},         {"leaky_relu", {1e-6, 1e-5}},         {"gelu", {1e-6, 1e-5}},
      {"silu", {1e-6, 1e-5}},         {"tanh", {1e-6, 1e-5}},               {"sigmoid", {1e-6, 1e-5}},
      {"cross_entropy", {1e-6, 1e-5}}, {"svm_loss", {1e-6, 1e-5}},          {"bce_with_logits", {1e-6, 1e-5}},
      {"mse_loss", {1e-6, 1e-5}},     {"permute", {0.0, 0.0}},              {"concat", {0.0, 0.0}},
      {"slice", {0.0, 0.0}},          {"embedding", {1e-6, 1e-5}},          {"upsample_bilinear2d", {1e-6, 1e-5}},
      {"add", {1e-6, 1e-5}},          {"sub", {1e-6, 1e-5}},                {"mul", {1e-6, 1e-5}},
      {"div", {1e-6, 1e-5}},          {"exp", {1e-6, 1e-5}},                {"log", {1e-6, 1e-5}},
      {"sqrt", {1e-6, 1e-5}},         {"square", {1e-6, 1e-5}},             {"neg", {1e-6, 1e-5}},
      {"scale_shift", {1e-6, 1e-5}},  {"where", {1e-6, 1e-5}},              {"masked_fill", {1e-6, 1e-5}},
      {"sum", {1e-6, 1e-5}},          {"mean", {1e-6, 1e-5}},
  };
  // Whole modules chain a dozen reductions in float32: looser than one op.
  static const std::map<std::string, Tolerance> looser = {
      {"multi_head_attention", {5e-4, 5e-4}}, {"transformer_decoder_layer", {5e-4, 5e-4}},
      {"unet_resnet_block", {5e-4, 5e-4}},    {"spatial_attention", {5e-4, 5e-4}},
  };
  if (const auto it = tighter.find(op); it != tighter.end()) return it->second;
  if (const auto it = looser.find(op); it != looser.end()) return it->second;
  return Tolerance{};
}

// Compares every result of `got` with `want`; returns how many results matched.
int expect_results_match(const TensorMap& want, const TensorMap& got, const std::string& what, double tolerance) {
  int compared = 0;
  for (const auto& [name, ref] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << what << ": result '" << name << "' missing";
      continue;
    }
    if (ref.dtype() != DType::F32) continue;
    const double err = test::relative_error(it->second, ref);
    EXPECT_LE(err, tolerance) << what << ": result '" << name << "' differs (relative L2 error " << err << ")";
    ++compared;
  }
  return compared;
}

const Implementation* find_impl(const OpDef& op, DeviceType device, VariantKind kind) {
  for (const Implementation& i : op.implementations)
    if (i.device == device && i.kind == kind) return &i;
  return nullptr;
}

class OpAgreementCpu : public ::testing::TestWithParam<AgreementParam> {};
class OpAgreementCuda : public ::testing::TestWithParam<AgreementParam> {};

}  // namespace

TEST_P(OpAgreementCpu, FastMatchesNaive) {
  const OpDef& op = *find_op(GetParam().op);
  const OpCase& c = find_case(op, GetParam().label);
  const Implementation* naive = find_impl(op, DeviceType::CPU, VariantKind::Naive);
  ASSERT_NE(naive, nullptr) << op.name << " has no naive CPU reference";
  const TensorMap inputs = make_inputs(c, 42);
  const TensorMap want = op.run(inputs, c.attrs, Device::cpu(), naive->impl, true);
  ASSERT_TRUE(want.count("out")) << op.name << " produced no 'out'";
  int checked = 0;
  for (const Implementation& impl : op.implementations) {
    if (impl.device != DeviceType::CPU || impl.kind == VariantKind::Naive) continue;
    checked += expect_results_match(want, op.run(inputs, c.attrs, Device::cpu(), impl.impl, true), impl.name,
                                    tolerance_of(op.name).cpu);
  }
  EXPECT_GT(checked, 0) << op.name << " has no CPU implementation besides the naive one";
}

TEST_P(OpAgreementCuda, EveryCudaImplMatchesCpu) {
  CUDL_REQUIRE_CUDA();
  const OpDef& op = *find_op(GetParam().op);
  const OpCase& c = find_case(op, GetParam().label);
  const Impl reference = c.large ? Impl::Fast : Impl::Naive;
  const TensorMap inputs = make_inputs(c, 42);
  const TensorMap want = op.run(inputs, c.attrs, Device::cpu(), reference, true);
  // Against the fast CPU reference of a large case the default bound holds; an op's
  // tighter one then holds against cuda_naive.
  const double tight = tolerance_of(op.name).cuda;
  const bool tight_against_cuda_naive = c.large && tight < kDefaultTolerance;
  const TensorMap cuda_naive =
      tight_against_cuda_naive ? op.run(inputs, c.attrs, Device::cuda(), Impl::Naive, true) : TensorMap{};
  int checked = 0;
  for (const Implementation& impl : op.implementations) {
    if (impl.device != DeviceType::CUDA) continue;
    const TensorMap got = op.run(inputs, c.attrs, Device::cuda(), impl.impl, true);
    checked += expect_results_match(want, got, impl.name, c.large ? kDefaultTolerance : tight);
    if (tight_against_cuda_naive && impl.kind != VariantKind::Naive)
      expect_results_match(cuda_naive, got, impl.name + " vs cuda_naive", tight);
  }
  EXPECT_GT(checked, 0) << op.name << " has no CUDA implementation";
}

INSTANTIATE_TEST_SUITE_P(Registry, OpAgreementCpu, ::testing::ValuesIn(all_cases(false)), param_name);
INSTANTIATE_TEST_SUITE_P(Registry, OpAgreementCuda, ::testing::ValuesIn(all_cases(true)), param_name);
