// The grid-stride loop used by the elementwise-style kernels: with cuda::grid_for's
// capped grid, every index in [0, count) is visited exactly once.
#pragma once

#define CUDL_GRID_STRIDE_LOOP(idx, count)                                                \
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < (count); \
       idx += (long long)gridDim.x * blockDim.x)
