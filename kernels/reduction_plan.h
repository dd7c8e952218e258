// How a reduction walks its input, shared by the CPU loops and the CUDA kernels:
// the input's dims split into kept ones (the output's, in order) and reduced
// ones, each with its element stride in the input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/host_device.h"
#include "core/tensor.h"
#include "kernels/broadcast.h"

namespace cudl {

struct ReducePlan {
  int kept_ndim = 0, reduced_ndim = 0;
  std::int64_t kept_size[kMaxBroadcastDims], kept_stride[kMaxBroadcastDims];
  std::int64_t reduced_size[kMaxBroadcastDims], reduced_stride[kMaxBroadcastDims];
  std::int64_t outputs = 1, reduced = 1;  // element counts
  // The input's innermost dim is kept: consecutive outputs read consecutive
  // elements. Otherwise it is reduced and each output sums contiguous runs.
  bool innermost_kept() const { return kept_ndim > 0 && kept_stride[kept_ndim - 1] == 1; }
};

// With `collapse`, size-1 dims are dropped and neighbouring dims of one kind merged
// (reducing dims 0, 2, 3 of [N,C,H,W] walks [N | C | H*W]). There is always at
// least one reduced dim (size 1 when nothing is reduced).
inline ReducePlan make_reduce_plan(const Shape& x, const std::vector<bool>& reduce, bool collapse) {
  ReducePlan plan;
  const int rank = static_cast<int>(x.size());
  std::int64_t stride = 1;
  std::vector<std::int64_t> strides(x.size());
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= x[d];
  }
  int last_kind = -1;  // of the dim pushed last: 0 kept, 1 reduced
  for (int d = 0; d < rank; ++d) {
    if (collapse && x[d] == 1) continue;
    const int kind = reduce[d] ? 1 : 0;
    int& n = kind ? plan.reduced_ndim : plan.kept_ndim;
    std::int64_t* size = kind ? plan.reduced_size : plan.kept_size;
    std::int64_t* str = kind ? plan.reduced_stride : plan.kept_stride;
    if (collapse && kind == last_kind) {
      size[n - 1] *= x[d];
      str[n - 1] = strides[d];
    } else {
      size[n] = x[d];
      str[n] = strides[d];
      ++n;
    }
    last_kind = kind;
    (kind ? plan.reduced : plan.outputs) *= x[d];
  }
  if (plan.reduced_ndim == 0) {
    plan.reduced_size[0] = 1;
    plan.reduced_stride[0] = 0;
    plan.reduced_ndim = 1;
  }
  return plan;
}

// The input offset of element i of the dims (size, stride)[0..ndim), row-major.
template <typename Index>
CUDL_HOST_DEVICE Index dims_offset(const std::int64_t* size, const std::int64_t* stride, int ndim, Index i) {
  Index off = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    const Index n = static_cast<Index>(size[d]);
    off += (i % n) * static_cast<Index>(stride[d]);
    i /= n;
  }
  return off;
}

// Into how many parts to split every output's reduced range so that `tasks`
// independent pieces of work become about `min_tasks`, each part at least
// `min_part` elements: a full sum, or a few long columns, still fill the threads.
// It depends on the shape alone (never on the thread count), so the order of
// additions, and the result, does not change from run to run.
inline std::int64_t reduce_parts(std::int64_t tasks, std::int64_t reduced, std::int64_t min_tasks,
                                 std::int64_t min_part) {
  if (tasks >= min_tasks) return 1;
  return std::clamp<std::int64_t>((min_tasks + tasks - 1) / tasks, 1, std::max<std::int64_t>(1, reduced / min_part));
}

// The first and one-past-last reduced element of part `part` of `parts`.
CUDL_HOST_DEVICE std::int64_t part_begin(std::int64_t reduced, std::int64_t part, std::int64_t parts) {
  return reduced * part / parts;
}

}  // namespace cudl
