#include "core/cuda/grid_stride.h"
#include "diffusion/cuda/ema.h"

namespace cudl::cuda {

namespace {
__global__ void lerp_inplace_kernel(float* __restrict__ dst, const float* __restrict__ src, float decay, long long n) {
  const float keep = 1.0f - decay;
  CUDL_GRID_STRIDE_LOOP(i, n) dst[i] = decay * dst[i] + keep * src[i];
}
}  // namespace

void lerp_inplace(int device, float* dst, const float* src, float decay, std::int64_t n) {
  launch_grid_stride(lerp_inplace_kernel, static_cast<long long>(n), stream(device), dst, src, decay,
                     static_cast<long long>(n));
}

}  // namespace cudl::cuda
