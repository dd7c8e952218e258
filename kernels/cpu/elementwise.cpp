#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/broadcast.h"
#include "kernels/element_map_inputs.h"
#include "kernels/cpu/parallel.h"

namespace cudl::cpu {

namespace {

template <ElementMap M, typename C>
void map_naive(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out) {
  constexpr int K = map_arity(M);
  const BroadcastPlan<K> plan = make_broadcast_plan<K>("element map", out.shape(), map_input_shapes<K>(inputs), false);
  const MapInputs<C, K> p = map_input_pointers<K, C>(inputs);
  float* po = out.data<float>();
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    std::int64_t off[K];
    broadcast_offsets(plan, i, off);
    po[i] = static_cast<float>(map_at<M, double>(spec.s, spec.t, p, off));
  }
}

// Rows of the innermost dim are cut into chunks of this many elements, so that a
// few long rows still spread over the threads.
constexpr std::int64_t kChunk = 4096;

// Bit k of Contiguous: input k advances along the innermost dim (stride 1); clear,
// it is broadcast there (stride 0) and its value is loop invariant.
template <ElementMap M, typename C, unsigned Contiguous, int K>
void map_chunks(const MapSpec& spec, const MapInputs<C, K>& p, const BroadcastPlan<K>& plan, float* po,
                std::int64_t n) {
  const std::int64_t inner = plan.size[plan.ndim - 1], rows = n / inner;
  const std::int64_t chunks = (inner + kChunk - 1) / kChunk;
  const float s = spec.s, t = spec.t;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (std::int64_t task = 0; task < rows * chunks; ++task) {
    const std::int64_t row = task / chunks, begin = (task % chunks) * kChunk, end = std::min(begin + kChunk, inner);
    std::int64_t base[K];
    broadcast_offsets(plan, row * inner, base);
    float* o = po + row * inner;
#pragma omp simd
    for (std::int64_t j = begin; j < end; ++j) {
      std::int64_t off[K];
      for (int k = 0; k < K; ++k) off[k] = base[k] + ((Contiguous >> k) & 1u ? j : 0);
      o[j] = map_at<M, float>(s, t, p, off);
    }
  }
}

template <ElementMap M, typename C>
void map_strided(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out) {
  constexpr int K = map_arity(M);
  const BroadcastPlan<K> plan = make_broadcast_plan<K>("element map", out.shape(), map_input_shapes<K>(inputs), true);
  unsigned contiguous = 0;
  for (int k = 0; k < K; ++k)
    if (plan.stride[k][plan.ndim - 1] == 1) contiguous |= 1u << k;
  const MapInputs<C, K> p = map_input_pointers<K, C>(inputs);
  [&]<unsigned... Masks>(std::integer_sequence<unsigned, Masks...>) {
    ((contiguous == Masks ? map_chunks<M, C, Masks>(spec, p, plan, out.data<float>(), out.numel()) : void()), ...);
  }(std::make_integer_sequence<unsigned, 1u << K>{});
}

}  // namespace

void element_map_naive(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out) {
  with_map_types(spec, *inputs[0], [&](auto m, auto c) { map_naive<m.value, decltype(c)>(spec, inputs, out); });
}

void element_map_strided(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out) {
  if (out.numel() == 0) return;
  with_map_types(spec, *inputs[0], [&](auto m, auto c) { map_strided<m.value, decltype(c)>(spec, inputs, out); });
}

}  // namespace cudl::cpu
