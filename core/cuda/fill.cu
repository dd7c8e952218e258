#include "core/cuda/context.h"
#include "core/cuda/fill.h"

namespace cudl::cuda {

__global__ void fill_f32_kernel(float* dst, std::size_t count, float value) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += std::size_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}

void fill_f32(float* dst, std::size_t count, float value, cudaStream_t stream) {
  if (count == 0) return;
  fill_f32_kernel<<<grid_for(count), 256, 0, stream>>>(dst, count, value);
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
