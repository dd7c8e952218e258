#include <algorithm>
#include <cstdint>

#include "core/cuda/context.h"
#include "kernels/cuda/optimizer_update.h"

namespace cudl::cuda {

namespace {
template <class Rule>
__global__ void update_naive_kernel(Rule rule, float* w, const float* g, float* s0, float* s1, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    double wi = w[i], a = s0 ? s0[i] : 0.0, b = s1 ? s1[i] : 0.0;
    rule(wi, (double)g[i], a, b);
    w[i] = (float)wi;
    if (s0) s0[i] = (float)a;
    if (s1) s1[i] = (float)b;
  }
}

// Elements [begin, end) one at a time: the unaligned case and the float4 tail.
template <class Rule>
__device__ __forceinline__ void update_scalar(const Rule& rule, float* w, const float* g, float* s0, float* s1,
                                              long long begin, long long end) {
  constexpr int states = Rule::kStates;
  for (long long i = begin + blockIdx.x * (long long)blockDim.x + threadIdx.x; i < end;
       i += (long long)gridDim.x * blockDim.x) {
    float wi = w[i], a = 0.0f, b = 0.0f;
    if constexpr (states >= 1) a = s0[i];
    if constexpr (states >= 2) b = s1[i];
    rule(wi, g[i], a, b);
    w[i] = wi;
    if constexpr (states >= 1) s0[i] = a;
    if constexpr (states >= 2) s1[i] = b;
  }
}

template <class Rule>
__global__ void update_fused_kernel(Rule rule, float* __restrict__ w, const float* __restrict__ g,
                                    float* __restrict__ s0, float* __restrict__ s1, long long n, bool vectorised) {
  constexpr int states = Rule::kStates;
  if (!vectorised) {
    update_scalar(rule, w, g, s0, s1, 0, n);
    return;
  }
  const long long n4 = n / 4;
  float4* w4 = reinterpret_cast<float4*>(w);
  const float4* g4 = reinterpret_cast<const float4*>(g);
  float4* a4 = reinterpret_cast<float4*>(s0);
  float4* b4 = reinterpret_cast<float4*>(s1);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
    float4 wv = w4[i];
    const float4 gv = g4[i];
    float4 av = make_float4(0, 0, 0, 0), bv = make_float4(0, 0, 0, 0);
    if constexpr (states >= 1) av = a4[i];
    if constexpr (states >= 2) bv = b4[i];
    rule(wv.x, gv.x, av.x, bv.x);
    rule(wv.y, gv.y, av.y, bv.y);
    rule(wv.z, gv.z, av.z, bv.z);
    rule(wv.w, gv.w, av.w, bv.w);
    w4[i] = wv;
    if constexpr (states >= 1) a4[i] = av;
    if constexpr (states >= 2) b4[i] = bv;
  }
  update_scalar(rule, w, g, s0, s1, n4 * 4, n);
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

__global__ void sum_of_squares_kernel(const float* x, long long n, double* sum) {
  double partial = 0.0;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    partial += (double)x[i] * x[i];
  // Warp shuffle reduction, then one value per warp through shared memory.
  for (int offset = 16; offset > 0; offset /= 2) partial += __shfl_down_sync(0xffffffffu, partial, offset);
  __shared__ double warp_sums[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = partial;
  __syncthreads();
  if (warp == 0) {
    partial = lane < (int)(blockDim.x / 32) ? warp_sums[lane] : 0.0;
    for (int offset = 16; offset > 0; offset /= 2) partial += __shfl_down_sync(0xffffffffu, partial, offset);
    if (lane == 0) atomicAdd(sum, partial);
  }
}

__global__ void scale_kernel(float* x, long long n, float scale) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    x[i] *= scale;
}
}  // namespace

template <template <typename> class Rule>
void optimizer_update_naive(int device, const Rule<double>& rule, float* w, const float* g, float* s0, float* s1,
                            std::int64_t n) {
  if (n == 0) return;
  update_naive_kernel<<<grid_for(n), 256, 0, stream(device)>>>(rule, w, g, s0, s1, n);
  CUDL_CUDA_CALL(cudaGetLastError());
}

template <template <typename> class Rule>
void optimizer_update_fused(int device, const Rule<float>& rule, float* w, const float* g, float* s0, float* s1,
                            std::int64_t n) {
  if (n == 0) return;
  constexpr int states = Rule<float>::kStates;
  const bool vectorised = aligned16(w) && aligned16(g) && (states < 1 || aligned16(s0)) && (states < 2 || aligned16(s1));
  update_fused_kernel<<<grid_for(vectorised ? (n + 3) / 4 : n), 256, 0, stream(device)>>>(rule, w, g, s0, s1, n,
                                                                                          vectorised);
  CUDL_CUDA_CALL(cudaGetLastError());
}

#define CUDL_INSTANTIATE_RULE(Rule)                                                                           \
  template void optimizer_update_naive<Rule>(int, const Rule<double>&, float*, const float*, float*, float*, \
                                             std::int64_t);                                                  \
  template void optimizer_update_fused<Rule>(int, const Rule<float>&, float*, const float*, float*, float*,  \
                                             std::int64_t);
CUDL_INSTANTIATE_RULE(rules::Sgd)
CUDL_INSTANTIATE_RULE(rules::SgdMomentum)
CUDL_INSTANTIATE_RULE(rules::RmsProp)
CUDL_INSTANTIATE_RULE(rules::Adam)
#undef CUDL_INSTANTIATE_RULE

void accumulate_sum_of_squares(int device, const float* x, std::int64_t n, double* sum) {
  if (n == 0) return;
  // A few blocks per SM are enough to saturate memory; more would only add atomics.
  sum_of_squares_kernel<<<std::min(grid_for(n), 1024u), 256, 0, stream(device)>>>(x, n, sum);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void scale(int device, float* x, std::int64_t n, float scale) {
  if (n == 0) return;
  scale_kernel<<<grid_for(n), 256, 0, stream(device)>>>(x, n, scale);
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
