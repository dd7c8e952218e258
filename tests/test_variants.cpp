// The variant table: what each request selects, the rows it reports, and that
// every registry op's rows are what its dispatch runs.
#include <gtest/gtest.h>

#include <set>

#include "kernels/registry.h"
#include "kernels/softmax.h"
#include "kernels/variants.h"
#include "test_util.h"

namespace cudl {
namespace {

// Kernels that say which row ran.
using Which = const char* (*)();
const VariantTable<Which>& example_table() {
  static const VariantTable<Which> table{{
      {"cpu_tiled", DeviceType::CPU, VariantKind::Fast, [] { return "cpu_tiled"; }},
      {"cpu_blocked", DeviceType::CPU, VariantKind::Fast, [] { return "cpu_blocked"; }},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, [] { return "cpu_naive"; }},
      {"cudnn", DeviceType::CUDA, VariantKind::Vendor, [] { return "cudnn"; }},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, [] { return "cuda_naive"; }},
  }};
  return table;
}

std::string run(Device device, Impl impl) { return example_table().select("example", device, impl)(); }

TEST(VariantTable, AutoIsTheDevicesFirstRowAndKindsPickTheirFirstRow) {
  EXPECT_EQ(run(Device::cpu(), Impl::Auto), "cpu_tiled");
  EXPECT_EQ(run(Device::cuda(), Impl::Auto), "cudnn");
  EXPECT_EQ(run(Device::cpu(), Impl::Fast), "cpu_tiled");
  EXPECT_EQ(run(Device::cpu(), Impl::Naive), "cpu_naive");
  EXPECT_EQ(run(Device::cuda(), Impl::Vendor), "cudnn");
  EXPECT_EQ(run(Device::cuda(), Impl::Naive), "cuda_naive");
  EXPECT_EQ(run(Device::cpu(), Impl("cpu_blocked")), "cpu_blocked");
}

TEST(VariantTable, MissingVariantsNameTheOpTheRequestAndTheDevice) {
  EXPECT_NE(test::error_of([] { run(Device::cpu(), Impl::Vendor); }).find("example: no vendor implementation on cpu"), std::string::npos);
  EXPECT_NE(test::error_of([] { run(Device::cuda(), Impl::Fast); }).find("example: no fast implementation on cuda"), std::string::npos);
  EXPECT_NE(test::error_of([] { run(Device::cuda(), Impl("cpu_tiled")); }).find("example: no cpu_tiled implementation on cuda"), std::string::npos);
  EXPECT_NE(test::error_of([] { (void)Impl(""); }).find("must have 1 to 23 characters"), std::string::npos);
  EXPECT_NE(test::error_of([] { (void)Impl("a_name_much_longer_than_allowed"); }).find("must have 1 to 23 characters"), std::string::npos);
}

TEST(VariantTable, EachRowReportsARequestThatSelectsExactlyIt) {
  const std::vector<Implementation> rows = example_table().implementations();
  ASSERT_EQ(rows.size(), 5u);
  for (const Implementation& row : rows) {
    const Device device = row.device == DeviceType::CPU ? Device::cpu() : Device::cuda();
    EXPECT_EQ(run(device, row.impl), row.name);
  }
  // Alone of its kind on its device: the generic request, which an op can pass
  // on to the ops inside it; two fast CPU rows: each by name.
  EXPECT_EQ(rows[0].impl, Impl("cpu_tiled"));
  EXPECT_EQ(rows[2].impl, Impl::Naive);
  EXPECT_EQ(rows[3].impl, Impl::Vendor);
}

TEST(VariantTable, EveryRegistryOpHasOneNaiveAndAFastRowPerDeviceWithUniqueNames) {
  for (const OpDef& op : op_registry()) {
    std::set<std::string> names;
    for (const Implementation& row : op.implementations)
      EXPECT_TRUE(names.insert(row.name).second) << op.name << " lists " << row.name << " twice";
    for (DeviceType device : {DeviceType::CPU, DeviceType::CUDA}) {
      if (device == DeviceType::CUDA && !CUDL_WITH_CUDA) continue;
      int naive = 0, fast = 0;
      for (const Implementation& row : op.implementations) {
        naive += row.device == device && row.kind == VariantKind::Naive;
        fast += row.device == device && row.kind == VariantKind::Fast;
      }
      EXPECT_EQ(naive, 1) << op.name;
      EXPECT_GE(fast, 1) << op.name;
    }
  }
}

TEST(VariantTable, OpsRunTheRowTheyReport) {
  // softmax lists cudnn only in CUDA builds with cuDNN; on the CPU its rows run by name.
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const std::vector<float> want = softmax_forward(x, Impl("cpu_naive")).to_vector();
  EXPECT_LE(test::relative_error(softmax_forward(x, Impl("cpu_fast")).to_vector(), want), 1e-6);
  EXPECT_NE(test::error_of([&] { softmax_forward(x, Impl("cudnn")); }).find("softmax: no cudnn implementation on cpu"), std::string::npos);
  bool lists_cudnn = false;
  for (const Implementation& row : find_op("softmax")->implementations) lists_cudnn |= row.name == "cudnn";
  EXPECT_EQ(lists_cudnn, CUDL_WITH_CUDA && CUDL_WITH_CUDNN);
}

}  // namespace
}  // namespace cudl
