#include "core/cuda/grid_stride.h"
#include "diffusion/cuda/reverse_step.h"

namespace cudl::cuda {

namespace {
__global__ void reverse_step_kernel(const float* __restrict__ x_t, const float* __restrict__ out,
                                    const float* __restrict__ out_uncond, float guidance, const float* __restrict__ z,
                                    ReverseStep step, float* __restrict__ prev, long long n) {
  CUDL_GRID_STRIDE_LOOP(i, n) {
    const double model = out_uncond ? guided_output(out[i], out_uncond[i], guidance) : out[i];
    prev[i] = reverse_step_value(step, x_t[i], model, z ? z[i] : 0.0f);
  }
}
}  // namespace

void reverse_step(int device, const float* x_t, const float* out, const float* out_uncond, float guidance,
                  const float* z, const ReverseStep& step, float* prev, std::int64_t n) {
  launch_grid_stride(reverse_step_kernel, n, stream(device), x_t, out, out_uncond, guidance, z, step, prev,
                     static_cast<long long>(n));
}

}  // namespace cudl::cuda
