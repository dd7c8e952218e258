#include <algorithm>
#include <cstdint>

#include "core/cuda/context.h"
#include "core/tensor.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/optimizer_update.h"
#include "kernels/cuda/reduce.cuh"

namespace cudl::cuda {

namespace {
template <class Rule>
__global__ void update_naive_kernel(Rule rule, UpdateArrays p) {
  CUDL_GRID_STRIDE_LOOP(i, p.n) {
    double w = p.w[i], a = p.s0 ? p.s0[i] : 0.0, b = p.s1 ? p.s1[i] : 0.0;
    rule(w, (double)p.g[i], a, b);
    p.w[i] = (float)w;
    if (p.s0) p.s0[i] = (float)a;
    if (p.s1) p.s1[i] = (float)b;
  }
}

// Updates p's n elements, this thread taking elements first, first + stride, ...
// With every array 16-byte aligned it moves float4s and finishes a scalar tail.
template <class Rule>
__device__ __forceinline__ void update_span(const Rule& rule, const UpdateArrays& p, long long first,
                                            long long stride) {
  constexpr int states = Rule::kStates;
  float* __restrict__ w = p.w;
  const float* __restrict__ g = p.g;
  float* __restrict__ s0 = p.s0;
  float* __restrict__ s1 = p.s1;
  const bool vectorised = ((reinterpret_cast<std::uintptr_t>(w) | reinterpret_cast<std::uintptr_t>(g) |
                            reinterpret_cast<std::uintptr_t>(s0) | reinterpret_cast<std::uintptr_t>(s1)) % 16) == 0;
  long long scalar_begin = 0;
  if (vectorised) {
    const long long n4 = p.n / 4;
    for (long long i = first; i < n4; i += stride) {
      float4 wv = reinterpret_cast<float4*>(w)[i];
      const float4 gv = reinterpret_cast<const float4*>(g)[i];
      float4 av = make_float4(0, 0, 0, 0), bv = make_float4(0, 0, 0, 0);
      if constexpr (states >= 1) av = reinterpret_cast<float4*>(s0)[i];
      if constexpr (states >= 2) bv = reinterpret_cast<float4*>(s1)[i];
      rule(wv.x, gv.x, av.x, bv.x);
      rule(wv.y, gv.y, av.y, bv.y);
      rule(wv.z, gv.z, av.z, bv.z);
      rule(wv.w, gv.w, av.w, bv.w);
      reinterpret_cast<float4*>(w)[i] = wv;
      if constexpr (states >= 1) reinterpret_cast<float4*>(s0)[i] = av;
      if constexpr (states >= 2) reinterpret_cast<float4*>(s1)[i] = bv;
    }
    scalar_begin = n4 * 4;
  }
  for (long long i = scalar_begin + first; i < p.n; i += stride) {
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
__global__ void update_fused_kernel(Rule rule, UpdateArrays p) {
  update_span(rule, p, blockIdx.x * (long long)blockDim.x + threadIdx.x, (long long)gridDim.x * blockDim.x);
}

// Since CUDA 12.1 a kernel's arguments may take 32764 bytes (4 KiB before): 768 chunks of
// 40 bytes plus the rule fit, so one launch has blocks for several waves over 132 SMs
// (96 chunks, the 4 KiB table, left a third of an H100 or H200 idle).
constexpr int kMaxChunks = 768;
constexpr long long kChunkElements = 32768;
struct ChunkTable {
  UpdateArrays chunk[kMaxChunks];
};
static_assert(sizeof(ChunkTable) + sizeof(rules::Adam<float>) <= 32000, "kernel arguments exceed 32 KiB");

template <class Rule>
__global__ void update_multi_kernel(Rule rule, const __grid_constant__ ChunkTable table) {
  update_span(rule, table.chunk[blockIdx.x], threadIdx.x, blockDim.x);
}

// The clip-norm sum in two stages, with no atomics, so it is the same on every run:
// each block of each array leaves its partial sum in a fixed slot, then one block adds
// the slots in a fixed order.
constexpr unsigned kMaxPartialBlocks = 1024;  // a few blocks per SM saturate memory
constexpr int kSumBlock = 256, kFinalBlock = 1024;

unsigned partial_blocks(long long n) { return std::min(grid_for(n, kSumBlock), kMaxPartialBlocks); }

__global__ void sum_of_squares_partial_kernel(const float* x, long long n, double* partials) {
  double partial = 0.0;
  CUDL_GRID_STRIDE_LOOP(i, n)
    partial += (double)x[i] * x[i];
  partial = block_reduce(partial, Sum{}, 0.0);
  if (threadIdx.x == 0) partials[blockIdx.x] = partial;
}

__global__ void sum_partials_kernel(const double* partials, long long count, double* sum) {
  double partial = 0.0;
  for (long long i = threadIdx.x; i < count; i += blockDim.x) partial += partials[i];
  partial = block_reduce(partial, Sum{}, 0.0);
  if (threadIdx.x == 0) *sum = partial;
}

__global__ void scale_kernel(float* x, long long n, float scale) {
  CUDL_GRID_STRIDE_LOOP(i, n)
    x[i] *= scale;
}
}  // namespace

template <template <typename> class Rule>
void optimizer_update_naive(int device, const Rule<double>& rule, const UpdateArrays& p) {
  if (p.n == 0) return;
  update_naive_kernel<<<grid_for(p.n), 256, 0, stream(device)>>>(rule, p);
  CUDL_CUDA_CALL(cudaGetLastError());
}

template <template <typename> class Rule>
void optimizer_update_fused(int device, const Rule<float>& rule, const UpdateArrays& p) {
  if (p.n == 0) return;
  update_fused_kernel<<<grid_for((p.n + 3) / 4), 256, 0, stream(device)>>>(rule, p);
  CUDL_CUDA_CALL(cudaGetLastError());
}

template <template <typename> class Rule>
void optimizer_update_multi(int device, const Rule<float>& rule, const std::vector<UpdateArrays>& params) {
  ChunkTable table{};
  int chunks = 0;
  auto launch = [&] {
    // 256 threads x 32 float4s cover a 32K chunk.
    update_multi_kernel<<<chunks, 256, 0, stream(device)>>>(rule, table);
    CUDL_CUDA_CALL(cudaGetLastError());
    chunks = 0;
  };
  for (const UpdateArrays& p : params)
    for (long long begin = 0; begin < p.n; begin += kChunkElements) {
      // Chunks start at multiples of 32K elements, so they keep the arrays' alignment.
      table.chunk[chunks++] = {p.w + begin, p.g + begin, p.s0 ? p.s0 + begin : nullptr,
                               p.s1 ? p.s1 + begin : nullptr, std::min<long long>(kChunkElements, p.n - begin)};
      if (chunks == kMaxChunks) launch();
    }
  if (chunks > 0) launch();
}

#define CUDL_INSTANTIATE_RULE(Rule)                                                                       \
  template void optimizer_update_naive<Rule>(int, const Rule<double>&, const UpdateArrays&);            \
  template void optimizer_update_fused<Rule>(int, const Rule<float>&, const UpdateArrays&);             \
  template void optimizer_update_multi<Rule>(int, const Rule<float>&, const std::vector<UpdateArrays>&);
CUDL_INSTANTIATE_RULE(rules::Sgd)
CUDL_INSTANTIATE_RULE(rules::SgdMomentum)
CUDL_INSTANTIATE_RULE(rules::RmsProp)
CUDL_INSTANTIATE_RULE(rules::Adam)
#undef CUDL_INSTANTIATE_RULE

void sum_of_squares(int device, const std::vector<FloatSpan>& arrays, double* sum) {
  long long slots = 0;
  for (const FloatSpan& a : arrays) slots += a.n > 0 ? partial_blocks(a.n) : 0;
  // Tensor has no float64: the partial sums' 8-byte slots are allocated as int64.
  Tensor partials = Tensor::empty({std::max(slots, 1LL)}, DType::I64, Device::cuda(device));
  double* slot = reinterpret_cast<double*>(partials.data<std::int64_t>());
  for (const FloatSpan& a : arrays) {
    if (a.n == 0) continue;
    const unsigned blocks = partial_blocks(a.n);
    sum_of_squares_partial_kernel<<<blocks, kSumBlock, 0, stream(device)>>>(a.data, a.n, slot);
    CUDL_CUDA_CALL(cudaGetLastError());
    slot += blocks;
  }
  sum_partials_kernel<<<1, kFinalBlock, 0, stream(device)>>>(reinterpret_cast<const double*>(partials.data<std::int64_t>()),
                                                            slots, sum);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void scale(int device, float* x, std::int64_t n, float scale) {
  if (n == 0) return;
  scale_kernel<<<grid_for(n), 256, 0, stream(device)>>>(x, n, scale);
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
