// Random fills of float32 tensors from a Generator, identical on CPU and CUDA.
#pragma once

#include "core/rng.h"
#include "core/tensor.h"

namespace cudl {

void fill_uniform(Tensor& t, Generator& gen, float low = 0.0f, float high = 1.0f);
void fill_normal(Tensor& t, Generator& gen, float mean = 0.0f, float stddev = 1.0f);

// Convenience constructors on any device.
Tensor randn(const Shape& shape, Generator& gen, Device device = Device::cpu());
Tensor rand(const Shape& shape, Generator& gen, Device device = Device::cpu());

#if CUDL_WITH_CUDA
namespace cuda {
void fill_uniform(int device, float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base_block, float low, float high);
void fill_normal(int device, float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base_block, float mean, float stddev);
}  // namespace cuda
#endif

}  // namespace cudl
