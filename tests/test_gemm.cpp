// Our CUDA SGEMM (kernels/cuda/gemm.h) against the CPU reference GEMM.
#include <algorithm>
#include <array>

#include "core/random.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/gemm_plan.h"  // plain C++: checked here without a GPU
#include "tests/test_util.h"
#if CUDL_WITH_CUDA
#include "core/cuda/context.h"
#include "kernels/cuda/gemm.h"
#endif

using namespace cudl;
using namespace cudl::test;

namespace {

#if CUDL_WITH_CUDA
struct GemmProblem {
  std::int64_t m, n, k;
  std::int64_t pad;  // extra columns in every leading dimension; odd pads force the scalar-load path
};

// Runs one product (of `batch` independent ones) on the GPU with `gemm` and on
// the CPU with the reference, and returns the relative error.
template <typename Gemm>
double gemm_error(const GemmProblem& p, bool ta, bool tb, float alpha, float beta, std::int64_t batch, Gemm gemm) {
  const std::int64_t a_rows = ta ? p.k : p.m, a_cols = ta ? p.m : p.k;
  const std::int64_t b_rows = tb ? p.n : p.k, b_cols = tb ? p.k : p.n;
  const std::int64_t lda = a_cols + p.pad, ldb = b_cols + p.pad, ldc = p.n + p.pad;
  const std::int64_t stride_a = a_rows * lda, stride_b = b_rows * ldb, stride_c = p.m * ldc;
  Generator gen(p.m * 131 + p.n * 17 + p.k + ta * 2 + tb);
  Tensor a = randn({batch * stride_a}, gen), b = randn({batch * stride_b}, gen), c = randn({batch * stride_c}, gen);
  Tensor da = a.to(Device::cuda()), db = b.to(Device::cuda()), dc = c.to(Device::cuda());
  gemm(ta, tb, p.m, p.n, p.k, alpha, da.data<float>(), lda, stride_a, db.data<float>(), ldb, stride_b, beta,
       dc.data<float>(), ldc, stride_c, batch);
  synchronize(Device::cuda());
  for (std::int64_t i = 0; i < batch; ++i)
    cpu::gemm_naive(ta, tb, p.m, p.n, p.k, alpha, a.data<float>() + i * stride_a, lda, b.data<float>() + i * stride_b,
                    ldb, beta, c.data<float>() + i * stride_c, ldc);
  return relative_error(dc, c);
}

const std::vector<std::array<std::int64_t, 4>> kProblems = {
    {1, 1, 1, 0},    {7, 5, 3, 0},       {64, 64, 8, 0},    {65, 129, 17, 0}, {128, 128, 8, 0},
    {130, 67, 200, 1}, {257, 31, 513, 3}, {33, 300, 9, 4},  {500, 260, 64, 0}, {3, 2, 1000, 2},
    // Few tiles, deep K: split-K (kernels/cuda/gemm_plan.h), aligned and not.
    {64, 64, 4096, 0}, {100, 200, 3000, 1}};
#endif

// The tiled kernel's thread layout: a thread's 8 rows (columns) are sub_tile_offset(t, 0..7);
// together the threads must cover the tile once, and each wavefront of a 16-byte shared
// load (8 consecutive threads) must touch every 16-byte bank group once: no conflict.
template <int EXTENT>
void expect_conflict_free_cover() {
  constexpr int threads = EXTENT / 8;
  std::vector<int> hits(EXTENT, 0);
  for (int t = 0; t < threads; ++t)
    for (int q = 0; q < 8; ++q) ++hits[cuda::sub_tile_offset<EXTENT>(t, q)];
  EXPECT_EQ(hits, std::vector<int>(EXTENT, 1)) << "extent " << EXTENT;
  for (int half = 0; half < 2; ++half)
    for (int first = 0; first + 8 <= threads; first += 8) {
      std::vector<int> groups;
      for (int t = first; t < first + 8; ++t) {
        const int offset = cuda::sub_tile_offset<EXTENT>(t, 4 * half);
        EXPECT_EQ(offset % 4, 0) << "16-byte aligned";
        groups.push_back(offset / 4 % 8);
      }
      std::sort(groups.begin(), groups.end());
      EXPECT_EQ(groups, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7})) << "extent " << EXTENT << " threads " << first;
    }
}

TEST(TiledGemmPlan, SubTilesCoverTheTileWithoutBankConflicts) {
  expect_conflict_free_cover<64>();
  expect_conflict_free_cover<128>();
}

TEST(TiledGemmPlan, SplitKOnlyWhenTilesLeaveSmsIdleAndSlicesCoverK) {
  constexpr int sms = 132;
  EXPECT_EQ(cuda::split_k_plan(1024, 4096, sms).splits, 1);  // 4096^3: 1024 tiles
  EXPECT_EQ(cuda::split_k_plan(28, 100, sms).splits, 1);     // too shallow to cut
  for (long long blocks : {1, 4, 28, 131})
    for (long long k : {128, 129, 1000, 4096, 100000}) {
      const cuda::SplitK plan = cuda::split_k_plan(blocks, k, sms);
      EXPECT_GE(plan.splits, 2) << blocks << " blocks, k " << k;
      EXPECT_LE(plan.splits, 16);
      EXPECT_EQ(plan.k_per_split % 8, 0);
      EXPECT_GE(static_cast<long long>(plan.splits) * plan.k_per_split, k) << "slices cover k";
      EXPECT_LT(static_cast<long long>(plan.splits - 1) * plan.k_per_split, k) << "no empty slice";
    }
}

TEST(CudaGemm, TiledAndNaiveMatchCpuForOddSizesAndAllTransposes) {
  CUDL_REQUIRE_CUDA();
#if CUDL_WITH_CUDA
  cudaStream_t s = cuda::stream(0);
  auto tiled = [s](bool ta, bool tb, auto m, auto n, auto k, float alpha, const float* a, auto lda, auto sa,
                   const float* b, auto ldb, auto sb, float beta, float* c, auto ldc, auto sc, auto batch) {
    cuda::gemm_tiled_batched(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch, s);
  };
  auto naive = [s](bool ta, bool tb, auto m, auto n, auto k, float alpha, const float* a, auto lda, auto,
                   const float* b, auto ldb, auto, float beta, float* c, auto ldc, auto, auto) {
    cuda::gemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, s);
  };
  for (const auto& [m, n, k, pad] : kProblems)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const GemmProblem p{m, n, k, pad};
        const std::string what = "m " + std::to_string(m) + " n " + std::to_string(n) + " k " + std::to_string(k) +
                                 " pad " + std::to_string(pad) + (ta ? " A^T" : "") + (tb ? " B^T" : "");
        EXPECT_LE(gemm_error(p, ta, tb, 1.0f, 0.0f, 1, tiled), 1e-5) << "tiled " << what;
        EXPECT_LE(gemm_error(p, ta, tb, 1.5f, -0.5f, 1, tiled), 1e-5) << "tiled alpha/beta " << what;
        EXPECT_LE(gemm_error(p, ta, tb, 0.5f, 2.0f, 3, tiled), 1e-5) << "tiled batched " << what;
        EXPECT_LE(gemm_error(p, ta, tb, 1.5f, -0.5f, 1, naive), 1e-5) << "naive " << what;
      }
#endif
}

}  // namespace
