// CUDL_HOST_DEVICE marks a small function that the CPU kernels and, compiled by
// nvcc, the CUDA kernels share, so both devices evaluate one formula.
#pragma once

#if defined(__CUDACC__)
#define CUDL_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define CUDL_HOST_DEVICE inline
#endif
