// Warp- and block-wide reductions with shuffles, and the running (max, sum of
// exp) pair of an online softmax. Device-only: include from .cu files.
#pragma once

#include <cmath>

namespace cudl::cuda {

constexpr int kWarp = 32;

__device__ __forceinline__ float shfl_xor(float v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
__device__ __forceinline__ double shfl_xor(double v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }

// A row's softmax normaliser seen so far: `sum` of exp(x - max) over the values.
// Trivial (no initialisers) so that it can live in __shared__ memory.
struct MaxSum {
  float max, sum;
};
__device__ __forceinline__ MaxSum empty_max_sum() { return {-INFINITY, 0.0f}; }

__device__ __forceinline__ MaxSum shfl_xor(MaxSum v, int mask) {
  return {shfl_xor(v.max, mask), shfl_xor(v.sum, mask)};
}

// One exp per value: rescale the sum only when the maximum moves.
__device__ __forceinline__ void online_add(MaxSum& s, float x) {
  if (x > s.max) {
    s.sum = s.sum * expf(s.max - x) + 1.0f;
    s.max = x;
  } else if (s.max != -INFINITY) {  // both -inf: exp(nan) would poison the sum; the term is 0
    s.sum += expf(x - s.max);
  }
}

struct CombineMaxSum {
  __device__ MaxSum operator()(MaxSum a, MaxSum b) const {
    const float m = fmaxf(a.max, b.max);
    if (m == -INFINITY) return {m, 0.0f};
    return {m, a.sum * expf(a.max - m) + b.sum * expf(b.max - m)};
  }
};

// Two double sums reduced together, e.g. a value and its square.
struct SumPair {
  double a, b;
};
__device__ __forceinline__ SumPair operator+(SumPair x, SumPair y) { return {x.a + y.a, x.b + y.b}; }
__device__ __forceinline__ SumPair shfl_xor(SumPair v, int mask) { return {shfl_xor(v.a, mask), shfl_xor(v.b, mask)}; }

struct Sum {
  template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};

// Every lane of the warp gets the result.
template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
  for (int mask = kWarp / 2; mask > 0; mask >>= 1) v = op(v, shfl_xor(v, mask));
  return v;
}

// Every thread of the block gets the result. blockDim.x must be a multiple of 32
// and every thread of the block must call it; `identity` pads the missing warps.
template <typename T, typename Op> __device__ T block_reduce(T v, Op op, T identity) {
  __shared__ T partial[kWarp];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = warp_reduce(v, op);
  __syncthreads();  // a previous call may still be reading `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  return warp_reduce(lane < warps ? partial[lane] : identity, op);
}

// The threads that share one row: a warp (short rows) or the whole block (long rows).
template <bool WholeBlock> struct RowGroup {
  __device__ static int rank() { return WholeBlock ? threadIdx.x : threadIdx.x % kWarp; }
  __device__ static int size() { return WholeBlock ? blockDim.x : kWarp; }
  __device__ static long long first_row() {
    return WholeBlock ? blockIdx.x : blockIdx.x * (long long)(blockDim.x / kWarp) + threadIdx.x / kWarp;
  }
  __device__ static long long row_stride() {
    return WholeBlock ? gridDim.x : (long long)gridDim.x * (blockDim.x / kWarp);
  }
  template <typename T, typename Op> __device__ static T reduce(T v, Op op, T identity) {
    if constexpr (WholeBlock)
      return block_reduce(v, op, identity);
    else
      return warp_reduce(v, op);
  }
};

}  // namespace cudl::cuda
