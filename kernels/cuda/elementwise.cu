#include <climits>

#include "core/cuda/grid_stride.h"
#include "kernels/broadcast.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/elementwise.h"
#include "kernels/element_map_inputs.h"

namespace cudl::cuda {

namespace {

template <ElementMap M, typename C, int K, typename Index>
__global__ void broadcast_map_kernel(float s, float t, MapInputs<C, K> in, BroadcastPlan<K> plan, float* out,
                                     Index n) {
  CUDL_GRID_STRIDE_LOOP_AS(Index, i, n) {
    Index off[K];
    broadcast_offsets(plan, i, off);
    out[i] = map_at<M, float>(s, t, in, off);
  }
}

template <ElementMap M, typename C, typename Index>
void launch_broadcast_map(const MapSpec& spec, const std::vector<const Tensor*>& inputs, bool collapse, Tensor& out) {
  constexpr int K = map_arity(M);
  const BroadcastPlan<K> plan = make_broadcast_plan<K>("element map", out.shape(), map_input_shapes<K>(inputs), collapse);
  launch_grid_stride(broadcast_map_kernel<M, C, K, Index>, out.numel(), stream(out.device().index), spec.s, spec.t,
                     map_input_pointers<K, C>(inputs), plan, out.data<float>(), static_cast<Index>(out.numel()));
}

// The map as a functor for map_vec4 (extended lambdas may not be defined inside
// the generic lambdas that pick the map).
template <ElementMap M> struct MapFn {
  float s, t;
  __device__ float operator()(float a) const { return map_value<M, float>(s, t, a, 0.0f, 0.0f); }
  __device__ float operator()(float a, float b) const { return map_value<M, float>(s, t, a, b, 0.0f); }
};

template <ElementMap M, typename C>
void map_fast(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out) {
  constexpr int K = map_arity(M);
  bool same_shape = true;
  for (const Tensor* t : inputs) same_shape = same_shape && t->shape() == out.shape();
  const int device = out.device().index;
  if constexpr (K <= 2 && std::is_same_v<C, float>) {
    if (same_shape) {
      if constexpr (K == 1)
        map_vec4(device, out.numel(), MapFn<M>{spec.s, spec.t}, out.data<float>(), inputs[0]->data<float>());
      else
        map_vec4(device, out.numel(), MapFn<M>{spec.s, spec.t}, out.data<float>(), inputs[0]->data<float>(),
                 inputs[1]->data<float>());
      return;
    }
  }
  // Offsets never exceed the output's element count, so 32 bits hold them too.
  if (out.numel() <= INT_MAX)
    launch_broadcast_map<M, C, unsigned>(spec, inputs, true, out);
  else
    launch_broadcast_map<M, C, long long>(spec, inputs, true, out);
}

}  // namespace

void element_map_naive(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out) {
  with_map_types(spec, *inputs[0], [&](auto m, auto c) {
    launch_broadcast_map<m.value, decltype(c), long long>(spec, inputs, false, out);
  });
}

void element_map_fast(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out) {
  with_map_types(spec, *inputs[0], [&](auto m, auto c) { map_fast<m.value, decltype(c)>(spec, inputs, out); });
}

}  // namespace cudl::cuda
