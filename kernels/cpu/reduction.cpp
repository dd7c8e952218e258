#include "kernels/cpu/reduction.h"

#include <algorithm>

#include "kernels/cpu/parallel.h"
#include "kernels/reduction_plan.h"

namespace cudl::cpu {

void reduce_sum_naive(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out) {
  const ReducePlan p = make_reduce_plan(x.shape(), reduce, false);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t o = 0; o < p.outputs; ++o) {
    const std::int64_t base = dims_offset(p.kept_size, p.kept_stride, p.kept_ndim, o);
    double sum = 0.0;
    for (std::int64_t r = 0; r < p.reduced; ++r)
      sum += px[base + dims_offset(p.reduced_size, p.reduced_stride, p.reduced_ndim, r)];
    po[o] = static_cast<float>(sum * scale);
  }
}

namespace {

// Fewer outputs than this split their reduced range into parts of about
// kPartSize elements, so a full sum still uses every thread. The split depends
// on the shape alone, never on the thread count: the order of additions is fixed.
constexpr std::int64_t kFewOutputs = 64, kPartSize = 1 << 16, kMaxParts = 256;
// Adjacent outputs reduced together when the innermost dim is kept.
constexpr std::int64_t kColumns = 256;

void reduce_runs(const ReducePlan& p, const float* px, float scale, float* po) {
  const std::int64_t run = p.reduced_size[p.reduced_ndim - 1];
  const std::int64_t parts =
      p.outputs >= kFewOutputs ? 1 : std::clamp<std::int64_t>(p.reduced / kPartSize, 1, kMaxParts);
  std::vector<double> partial(static_cast<std::size_t>(p.outputs * parts));
#pragma omp parallel for schedule(static) if (p.outputs * p.reduced >= kParallelMin)
  for (std::int64_t task = 0; task < p.outputs * parts; ++task) {
    const std::int64_t o = task / parts, part = task % parts;
    const std::int64_t first = p.reduced * part / parts, last = p.reduced * (part + 1) / parts;
    const float* base = px + dims_offset(p.kept_size, p.kept_stride, p.kept_ndim, o);
    double sum = 0.0;
    for (std::int64_t r = first; r < last;) {
      const std::int64_t j = r % run, n = std::min(run - j, last - r);
      const float* v = base + dims_offset(p.reduced_size, p.reduced_stride, p.reduced_ndim - 1, r / run) + j;
      double run_sum = 0.0;
#pragma omp simd reduction(+ : run_sum)
      for (std::int64_t i = 0; i < n; ++i) run_sum += v[i];
      sum += run_sum;
      r += n;
    }
    partial[task] = sum;
  }
  for (std::int64_t o = 0; o < p.outputs; ++o) {
    double sum = 0.0;
    for (std::int64_t part = 0; part < parts; ++part) sum += partial[o * parts + part];
    po[o] = static_cast<float>(sum * scale);
  }
}

void reduce_columns(const ReducePlan& p, const float* px, float scale, float* po) {
  const std::int64_t width = p.kept_size[p.kept_ndim - 1], rows = p.outputs / width;
  const std::int64_t blocks = (width + kColumns - 1) / kColumns;
#pragma omp parallel for schedule(static) if (p.outputs * p.reduced >= kParallelMin)
  for (std::int64_t task = 0; task < rows * blocks; ++task) {
    const std::int64_t row = task / blocks, begin = (task % blocks) * kColumns, n = std::min(kColumns, width - begin);
    const float* base = px + dims_offset(p.kept_size, p.kept_stride, p.kept_ndim - 1, row) + begin;
    double sum[kColumns] = {};
    for (std::int64_t r = 0; r < p.reduced; ++r) {
      const float* v = base + dims_offset(p.reduced_size, p.reduced_stride, p.reduced_ndim, r);
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) sum[i] += v[i];
    }
    float* o = po + row * width + begin;
    for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(sum[i] * scale);
  }
}

}  // namespace

void reduce_sum_omp(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out) {
  const ReducePlan p = make_reduce_plan(x.shape(), reduce, true);
  if (p.outputs == 0) return;
  if (p.innermost_kept())
    reduce_columns(p, x.data<float>(), scale, out.data<float>());
  else
    reduce_runs(p, x.data<float>(), scale, out.data<float>());
}

}  // namespace cudl::cpu
