// Fills used by the tensor core (Tensor::fill on a device).
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

namespace cudl::cuda {
void fill_f32(float* dst, std::size_t count, float value, cudaStream_t stream);
}
