#include "core/cuda/context.h"
#include "core/cuda/fill.h"
#include "core/cuda/grid_stride.h"

namespace cudl::cuda {

__global__ void fill_f32_kernel(float* dst, std::size_t count, float value) {
  CUDL_GRID_STRIDE_LOOP_AS(std::size_t, i, count) dst[i] = value;
}

void fill_f32(float* dst, std::size_t count, float value, cudaStream_t stream) {
  launch_grid_stride(fill_f32_kernel, static_cast<long long>(count), stream, dst, count, value);
}

}  // namespace cudl::cuda
