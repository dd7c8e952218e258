// The reverse step's CUDA kernel (diffusion/reverse_step.h); uncond and z may be null.
#pragma once

#include <cstdint>

#include "diffusion/reverse_step.h"

namespace cudl::cuda {
void reverse_step(int device, const float* x_t, const float* out, const float* out_uncond, float guidance,
                  const float* z, const ReverseStep& step, float* prev, std::int64_t n);
}
