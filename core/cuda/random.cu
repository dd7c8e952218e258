#include "core/cuda/context.h"
#include "core/random.h"

namespace cudl::cuda {

__global__ void fill_uniform_kernel(float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base, float low,
                                    float high) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x)
    dst[i] = low + (high - low) * philox_uniform(seed, base, i);
}

__global__ void fill_normal_kernel(float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base, float mean,
                                   float stddev) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x)
    dst[i] = mean + stddev * philox_normal(seed, base, i);
}

void fill_uniform(int device, float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base_block, float low, float high) {
  if (n == 0) return;
  fill_uniform_kernel<<<grid_for(n), 256, 0, stream(device)>>>(dst, n, seed, base_block, low, high);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void fill_normal(int device, float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base_block, float mean, float stddev) {
  if (n == 0) return;
  fill_normal_kernel<<<grid_for(n), 256, 0, stream(device)>>>(dst, n, seed, base_block, mean, stddev);
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
