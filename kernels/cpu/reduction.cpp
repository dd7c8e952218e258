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

// Parts (reduce_parts) are added up when there are fewer tasks than this.
constexpr std::int64_t kMinTasks = 64, kMinPart = 1 << 14;
// Adjacent outputs reduced together when the innermost dim is kept.
constexpr std::int64_t kColumns = 256;

// Each output's parts (part-major: partial[part * outputs + o]) added in order.
void add_parts(const std::vector<double>& partial, std::int64_t outputs, std::int64_t parts, float scale, float* po) {
  for (std::int64_t o = 0; o < outputs; ++o) {
    double sum = 0.0;
    for (std::int64_t part = 0; part < parts; ++part) sum += partial[part * outputs + o];
    po[o] = static_cast<float>(sum * scale);
  }
}

// Innermost dim reduced: a task per (part, output), a SIMD sum per contiguous run.
void reduce_runs(const ReducePlan& p, const float* px, float scale, float* po) {
  const std::int64_t run = p.reduced_size[p.reduced_ndim - 1];
  const std::int64_t parts = reduce_parts(p.outputs, p.reduced, kMinTasks, kMinPart);
  std::vector<double> partial(parts > 1 ? p.outputs * parts : 0);
#pragma omp parallel for schedule(static) if (p.outputs * p.reduced >= kParallelMin)
  for (std::int64_t task = 0; task < p.outputs * parts; ++task) {
    const std::int64_t o = task % p.outputs, part = task / p.outputs;
    const std::int64_t last = part_begin(p.reduced, part + 1, parts);
    const float* base = px + dims_offset(p.kept_size, p.kept_stride, p.kept_ndim, o);
    double sum = 0.0;
    for (std::int64_t r = part_begin(p.reduced, part, parts); r < last;) {
      const std::int64_t j = r % run, n = std::min(run - j, last - r);
      const float* v = base + dims_offset(p.reduced_size, p.reduced_stride, p.reduced_ndim - 1, r / run) + j;
      double run_sum = 0.0;
#pragma omp simd reduction(+ : run_sum)
      for (std::int64_t i = 0; i < n; ++i) run_sum += v[i];
      sum += run_sum;
      r += n;
    }
    if (parts == 1)
      po[o] = static_cast<float>(sum * scale);
    else
      partial[task] = sum;
  }
  if (parts > 1) add_parts(partial, p.outputs, parts, scale, po);
}

// Innermost dim kept: a task per (part, row of outputs, block of kColumns of
// them), each reduced element a SIMD row added to the block's sums.
void reduce_columns(const ReducePlan& p, const float* px, float scale, float* po) {
  const std::int64_t width = p.kept_size[p.kept_ndim - 1], rows = p.outputs / width;
  const std::int64_t blocks = (width + kColumns - 1) / kColumns;
  const std::int64_t parts = reduce_parts(rows * blocks, p.reduced, kMinTasks, kMinPart / kColumns);
  std::vector<double> partial(parts > 1 ? p.outputs * parts : 0);
#pragma omp parallel for schedule(static) if (p.outputs * p.reduced >= kParallelMin)
  for (std::int64_t task = 0; task < rows * blocks * parts; ++task) {
    const std::int64_t part = task / (rows * blocks), row = task / blocks % rows, begin = task % blocks * kColumns;
    const std::int64_t n = std::min(kColumns, width - begin), first_out = row * width + begin;
    const float* base = px + dims_offset(p.kept_size, p.kept_stride, p.kept_ndim - 1, row) + begin;
    double sum[kColumns] = {};
    for (std::int64_t r = part_begin(p.reduced, part, parts), last = part_begin(p.reduced, part + 1, parts); r < last;
         ++r) {
      const float* v = base + dims_offset(p.reduced_size, p.reduced_stride, p.reduced_ndim, r);
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) sum[i] += v[i];
    }
    for (std::int64_t i = 0; i < n; ++i) {
      if (parts == 1)
        po[first_out + i] = static_cast<float>(sum[i] * scale);
      else
        partial[part * p.outputs + first_out + i] = sum[i];
    }
  }
  if (parts > 1) add_parts(partial, p.outputs, parts, scale, po);
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
