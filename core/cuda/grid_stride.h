// The grid-stride loop of the elementwise-style kernels and their launch. With
// grid_for's capped grid, every index in [0, count) is visited exactly once. The
// index is 64-bit; CUDL_GRID_STRIDE_LOOP_AS names another index type (a kernel
// instantiated with a 32-bit index when the count fits, for cheaper division, or
// size_t for a byte count). Device code: include from .cu files.
#pragma once

#include "core/cuda/context.h"

#define CUDL_GRID_STRIDE_LOOP_AS(Index, idx, count)                                 \
  for (Index idx = blockIdx.x * (Index)blockDim.x + threadIdx.x; idx < (count); \
       idx += (Index)gridDim.x * blockDim.x)

#define CUDL_GRID_STRIDE_LOOP(idx, count) CUDL_GRID_STRIDE_LOOP_AS(long long, idx, count)

namespace cudl::cuda {

// Launches a grid-stride kernel over `count` elements on `stream` (nothing for count 0).
template <typename... Params, typename... Args>
void launch_grid_stride(void (*kernel)(Params...), long long count, cudaStream_t stream, Args... args) {
  if (count == 0) return;
  kernel<<<grid_for(count), 256, 0, stream>>>(args...);
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
