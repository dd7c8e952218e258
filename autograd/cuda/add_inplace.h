// dst[i] += src[i] on `device`'s stream: how the graph sums CUDA gradients.
#pragma once

#include <cstdint>

namespace cudl::cuda {
void add_inplace(int device, float* dst, const float* src, std::int64_t n);
}
