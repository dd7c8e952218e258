// The moving average's update on the device: dst = decay dst + (1 - decay) src.
#pragma once

#include <cstdint>

namespace cudl::cuda {
void lerp_inplace(int device, float* dst, const float* src, float decay, std::int64_t n);
}
