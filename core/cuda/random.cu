#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "core/random.h"

namespace cudl::cuda {

template <Draw D>
__global__ void fill_random_kernel(float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base, float offset,
                                   float scale) {
  CUDL_GRID_STRIDE_LOOP(i, n) dst[i] = shift_scaled(offset, scale, standard_draw<D>(seed, base, i));
}

void fill_random(int device, float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base_block, Draw draw,
                 float offset, float scale) {
  launch_grid_stride(draw == Draw::Uniform ? fill_random_kernel<Draw::Uniform> : fill_random_kernel<Draw::Normal>, n,
                     stream(device), dst, n, seed, base_block, offset, scale);
}

}  // namespace cudl::cuda
