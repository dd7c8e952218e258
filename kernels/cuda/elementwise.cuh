// A float4-vectorised elementwise map: out[i] = f(a[i]) or f(a[i], b[i]).
// Memory-bound kernels are limited by load/store instructions, so 16-byte
// accesses move four elements per instruction; the tail (and any tensor view not
// 16-byte aligned) goes element by element. Device-only: include from .cu files.
#pragma once

#include <cstdint>

#include "core/cuda/context.h"

namespace cudl::cuda {

template <int Arity, typename F>
__global__ void map_vec4_kernel(long long n, long long n4, F f, float* __restrict__ out, const float* __restrict__ a,
                                const float* __restrict__ b) {
  const long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
  for (long long v = first; v < n4; v += stride) {
    const float4 x = reinterpret_cast<const float4*>(a)[v];
    float4 r;
    if constexpr (Arity == 1) {
      r = make_float4(f(x.x), f(x.y), f(x.z), f(x.w));
    } else {
      const float4 y = reinterpret_cast<const float4*>(b)[v];
      r = make_float4(f(x.x, y.x), f(x.y, y.y), f(x.z, y.z), f(x.w, y.w));
    }
    reinterpret_cast<float4*>(out)[v] = r;
  }
  for (long long i = 4 * n4 + first; i < n; i += stride) {
    if constexpr (Arity == 1)
      out[i] = f(a[i]);
    else
      out[i] = f(a[i], b[i]);
  }
}

inline bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

template <int Arity, typename F>
void launch_map_vec4(int device, long long n, F f, float* out, const float* a, const float* b) {
  if (n == 0) return;
  const bool vectorised = aligned16(out) && aligned16(a) && (Arity == 1 || aligned16(b));
  const long long n4 = vectorised ? n / 4 : 0, scalar = n - 4 * n4;
  map_vec4_kernel<Arity><<<grid_for(n4 > scalar ? n4 : scalar), 256, 0, stream(device)>>>(n, n4, f, out, a, b);
  CUDL_CUDA_CALL(cudaGetLastError());
}

// out[i] = f(a[i]); f is a __device__ lambda.
template <typename F> void map_vec4(int device, long long n, F f, float* out, const float* a) {
  launch_map_vec4<1>(device, n, f, out, a, nullptr);
}

// out[i] = f(a[i], b[i]).
template <typename F> void map_vec4(int device, long long n, F f, float* out, const float* a, const float* b) {
  launch_map_vec4<2>(device, n, f, out, a, b);
}

}  // namespace cudl::cuda
