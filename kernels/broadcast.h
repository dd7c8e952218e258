// Broadcasting (numpy and torch rules) and the index math of every kernel whose
// inputs are broadcast: one plan, made on the host, walked the same way by the
// CPU loops and the CUDA kernels.
#pragma once

#include <array>
#include <cstdint>

#include "core/error.h"
#include "core/host_device.h"
#include "core/tensor.h"

namespace cudl {

inline constexpr int kMaxBroadcastDims = 8;

// The shape both broadcast to: trailing dims aligned, each pair equal or one of
// them 1. Throws "<op>: cannot broadcast [2,3] with [4]".
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Whether `from` broadcasts to exactly `to` (as torch's expand allows).
inline bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const std::size_t lead = to.size() - from.size();
  for (std::size_t d = 0; d < from.size(); ++d)
    if (from[d] != 1 && from[d] != to[lead + d]) return false;
  return true;
}

// Where K inputs' elements come from for each output element: the output's
// dims, and per input the element stride along each (0 where it is broadcast).
template <int K> struct BroadcastPlan {
  int ndim = 0;
  std::int64_t size[kMaxBroadcastDims];
  std::int64_t stride[K][kMaxBroadcastDims];
};

// With `collapse`, size-1 dims are dropped and neighbouring dims that every
// input walks alike are merged: same-shape inputs become one dim, a bias over
// the last dim two ([rows, C] with strides C,1 and 0,1), a per-channel
// [1,C,1,1] scale three. The innermost stride of every input is then 0 or 1.
// There is always at least one dim.
template <int K>
BroadcastPlan<K> make_broadcast_plan(const char* op, const Shape& out, const std::array<const Shape*, K>& inputs,
                                     bool collapse) {
  const int rank = static_cast<int>(out.size());
  CUDL_CHECK(rank <= kMaxBroadcastDims, op, ": expected at most ", kMaxBroadcastDims, " dimensions, got ",
             shape_str(out));
  std::int64_t full[K][kMaxBroadcastDims];
  for (int k = 0; k < K; ++k) {
    const Shape& s = *inputs[k];
    const int lead = rank - static_cast<int>(s.size());
    std::int64_t run = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const std::int64_t n = d >= lead ? s[d - lead] : 1;
      full[k][d] = n == 1 ? 0 : run;
      run *= n;
    }
  }
  BroadcastPlan<K> plan;
  for (int d = 0; d < rank; ++d) {
    if (collapse && out[d] == 1) continue;
    bool merge = collapse && plan.ndim > 0;
    for (int k = 0; k < K && merge; ++k) merge = plan.stride[k][plan.ndim - 1] == full[k][d] * out[d];
    if (merge) {
      plan.size[plan.ndim - 1] *= out[d];
      for (int k = 0; k < K; ++k) plan.stride[k][plan.ndim - 1] = full[k][d];
    } else {
      plan.size[plan.ndim] = out[d];
      for (int k = 0; k < K; ++k) plan.stride[k][plan.ndim] = full[k][d];
      ++plan.ndim;
    }
  }
  if (plan.ndim == 0) {  // a single element
    plan.size[0] = 1;
    for (int k = 0; k < K; ++k) plan.stride[k][0] = 0;
    plan.ndim = 1;
  }
  return plan;
}

// off[k]: where input k's element for output element i lies. Index is 32-bit in
// the CUDA kernels when the output fits, for cheaper division.
template <int K, typename Index>
CUDL_HOST_DEVICE void broadcast_offsets(const BroadcastPlan<K>& plan, Index i, Index (&off)[K]) {
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int d = plan.ndim - 1; d >= 0; --d) {
    const Index n = static_cast<Index>(plan.size[d]), idx = i % n;
    i /= n;
    for (int k = 0; k < K; ++k) off[k] += idx * static_cast<Index>(plan.stride[k][d]);
  }
}

}  // namespace cudl
