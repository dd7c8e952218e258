// Host-side glue shared by the CPU and CUDA element maps: an ElementMap call's
// input tensors as the shapes for its BroadcastPlan and the pointers of its
// MapInputs, and the dispatch to the map's compile-time types.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/elementwise_math.h"

namespace cudl {

template <int K> std::array<const Shape*, K> map_input_shapes(const std::vector<const Tensor*>& inputs) {
  std::array<const Shape*, K> shapes;
  for (int k = 0; k < K; ++k) shapes[k] = &inputs[k]->shape();
  return shapes;
}

template <int K, typename C> MapInputs<C, K> map_input_pointers(const std::vector<const Tensor*>& inputs) {
  MapInputs<C, K> p;
  p.first = inputs[0]->data<C>();
  for (int k = 1; k < K; ++k) p.rest[k - 1] = inputs[k]->data<float>();
  return p;
}

// Calls f(m, C{}): m an std::integral_constant holding the map, C the first
// input's element type (uint8 only for a cond map's uint8 condition, else float).
template <typename F> void with_map_types(const MapSpec& spec, const Tensor& first, F&& f) {
  with_element_map(spec.map, [&](auto m) {
    if constexpr (map_has_condition(m.value))
      if (first.dtype() == DType::U8) return f(m, std::uint8_t{});
    f(m, float{});
  });
}

}  // namespace cudl
